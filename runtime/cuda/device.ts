// The device facade: one primary context and one non-blocking stream per device, shared (reference
// counted) by everything in the process that uses it. Every driver call goes through `cu`, which refuses
// to run once the context is poisoned and turns a non-zero CUresult into a CudaError.
import type { CudaDriver, CUcontext, CUresult, CUstream, HandleOut, LoadDriverOptions } from './driver.ts';
import { libcudaPath, loadDriver } from './driver.ts';
import { CU_DEVICE_ATTRIBUTE, CU_STREAM_NON_BLOCKING } from './constants.ts';
import { ContextHealth, CudaError, CudaUnavailableError, cuResultName } from './errors.ts';
import { DeviceMemory } from './memory.ts';
import { ModuleCache } from './module.ts';
import { noteHostSync } from '../host-syncs.ts';

type DriverCall = Exclude<keyof CudaDriver, 'streamSynchronizeAsync'>;

export interface OpenDeviceOptions extends LoadDriverOptions {
  /** device ordinal (default 0) */
  ordinal?: number;
  /** a driver object to use instead of loading libcuda (tests drive the facade with a fake) */
  driver?: CudaDriver;
}

export interface DeviceInfo {
  readonly name: string;
  readonly computeCapability: readonly [number, number];
  readonly multiprocessors: number;
  readonly driverVersion: number;
}

export class CudaDevice {
  readonly driver: CudaDriver;
  readonly ordinal: number;
  readonly health = new ContextHealth();
  readonly info: DeviceInfo;
  readonly context: CUcontext;
  readonly stream: CUstream;
  readonly memory: DeviceMemory;
  readonly modules: ModuleCache;
  /**
   * Programmatic dependent launch (docs/pdl.md): every launch may overlap its start with the previous
   * kernel's tail (each kernel waits with griddepcontrol.wait before touching memory). On from sm_90, unless
   * ARCTICC_PDL=0.
   */
  readonly pdl: boolean;
  #refs = 1;
  #closed = false;
  readonly #key: string;

  /** Use openDevice(): it shares one device object per (library, ordinal). */
  constructor(driver: CudaDriver, ordinal: number, key: string) {
    this.driver = driver;
    this.ordinal = ordinal;
    this.#key = key;
    const i32 = new Int32Array(1);
    this.cu('cuDriverGetVersion', i32);
    const driverVersion = i32[0];
    this.cu('cuDeviceGet', i32, ordinal);
    const dev = i32[0];
    const nameBuf = new Uint8Array(256);
    this.cu('cuDeviceGetName', nameBuf, nameBuf.length, dev);
    const attr = (a: number): number => { this.cu('cuDeviceGetAttribute', i32, a, dev); return i32[0]; };
    this.info = Object.freeze({
      name: new TextDecoder().decode(nameBuf.subarray(0, Math.max(0, nameBuf.indexOf(0)))),
      computeCapability: Object.freeze([attr(CU_DEVICE_ATTRIBUTE.COMPUTE_CAPABILITY_MAJOR), attr(CU_DEVICE_ATTRIBUTE.COMPUTE_CAPABILITY_MINOR)] as const),
      multiprocessors: attr(CU_DEVICE_ATTRIBUTE.MULTIPROCESSOR_COUNT),
      driverVersion,
    });
    const out: HandleOut = [null];
    this.cu('cuDevicePrimaryCtxRetain', out, ordinal);
    this.context = out[0] as CUcontext;
    try {
      this.cu('cuCtxSetCurrent', this.context);
      this.cu('cuStreamCreate', out, CU_STREAM_NON_BLOCKING);
      this.stream = out[0] as CUstream;
    } catch (e) {
      driver.cuDevicePrimaryCtxRelease_v2(ordinal);
      throw e;
    }
    this.memory = new DeviceMemory(this);
    this.modules = new ModuleCache(this);
    this.pdl = this.info.computeCapability[0] >= 9 && process.env.ARCTICC_PDL !== '0';
  }

  /** e.g. "NVIDIA H200 (sm_90)" */
  get description(): string {
    const [ma, mi] = this.info.computeCapability;
    return `${this.info.name} (sm_${ma}${mi})`;
  }
  get closed(): boolean { return this.#closed; }

  /** Calls one driver function; throws CudaPoisonedError after a sticky error, CudaError on failure. */
  cu<K extends DriverCall>(name: K, ...args: Parameters<CudaDriver[K]>): void {
    this.health.assertUsable(name);
    const rc = (this.driver[name] as (...a: unknown[]) => CUresult)(...args);
    if (rc !== 0) throw this.fail(name, rc);
  }

  /** The CudaError for `rc` from `call`, recorded in the health flag (sticky errors poison the context). */
  fail(call: string, rc: CUresult, extra: { context?: string; jitLog?: string } = {}): CudaError {
    return this.health.note(new CudaError({ call, code: rc, errorName: this.#errorText('cuGetErrorName', rc), errorString: this.#errorText('cuGetErrorString', rc), ...extra }));
  }

  #errorText(fn: 'cuGetErrorName' | 'cuGetErrorString', rc: CUresult): string {
    const out: (string | null)[] = [null];
    try {
      if (this.driver[fn](rc, out) === 0 && out[0]) return out[0];
    } catch { /* fall through to the table */ }
    return fn === 'cuGetErrorName' ? cuResultName(rc) : '';
  }

  /** The calling thread's current context must be ours before allocations and launches (contexts are per thread). */
  makeCurrent(): void { this.cu('cuCtxSetCurrent', this.context); }

  synchronize(): void { noteHostSync(); this.cu('cuStreamSynchronize', this.stream); }

  /** Waits for the stream on a koffi worker thread, so the event loop stays free. */
  async synchronizeAsync(): Promise<void> {
    this.health.assertUsable('cuStreamSynchronize');
    noteHostSync();
    const rc = await this.driver.streamSynchronizeAsync(this.stream);
    if (rc !== 0) throw this.fail('cuStreamSynchronize', rc);
  }

  retain(): this { this.#refs++; return this; }

  /** Drops one reference; the last one frees the stream, modules, every live allocation, and the context. */
  release(): void {
    if (this.#closed || --this.#refs > 0) return;
    this.#closed = true;
    shared.delete(this.#key);
    // after a kernel fault the driver refuses everything: just drop our handles
    if (this.health.poisonedBy) return;
    this.modules.unloadAll();
    this.memory.freeAll();
    this.driver.cuStreamDestroy_v2(this.stream);
    this.driver.cuDevicePrimaryCtxRelease_v2(this.ordinal);
  }
}

const shared = new Map<string, CudaDevice>();
let initialized = new WeakSet<CudaDriver>();

/** cuInit + device count, as CudaUnavailableError when there is no usable device. */
export function initDriver(driver: CudaDriver, path: string, ordinal = 0): void {
  if (initialized.has(driver)) return;
  const rc = driver.cuInit(0);
  if (rc !== 0) {
    const name = cuResultName(rc);
    const why = rc === 100 ? 'no CUDA-capable device is present' : rc === 34 ? `"${path}" is the CUDA stub library, not a real driver` : 'the driver failed to initialize';
    throw new CudaUnavailableError(`${why} (cuInit returned ${name} (${rc}))`, [`dlopen("${path}")`, 'cuInit(0)']);
  }
  const n = new Int32Array(1);
  const rc2 = driver.cuDeviceGetCount(n);
  if (rc2 !== 0 || n[0] <= ordinal) {
    throw new CudaUnavailableError(rc2 !== 0 ? `cuDeviceGetCount returned ${cuResultName(rc2)} (${rc2})`
      : `device ${ordinal} requested but ${n[0]} CUDA device(s) found`, [`dlopen("${path}")`, 'cuInit(0)', 'cuDeviceGetCount']);
  }
  initialized.add(driver);
}

/** Opens (or shares) device `ordinal` (default 0): primary context + a non-blocking stream. Release with device.release(). */
export function openDevice(o: OpenDeviceOptions = {}): CudaDevice {
  const ordinal = o.ordinal ?? 0;
  const path = o.driver ? '(injected driver)' : libcudaPath(o);
  const driver = o.driver ?? loadDriver(o);
  const key = `${o.driver ? 'injected' : path}#${ordinal}`;
  const hit = shared.get(key);
  if (hit && hit.driver === driver) {
    hit.health.assertUsable('openDevice');
    return hit.retain();
  }
  initDriver(driver, path, ordinal);
  const dev = new CudaDevice(driver, ordinal, key);
  shared.set(key, dev);
  return dev;
}

/** For tests that inject fresh fake drivers. */
export function resetDeviceRegistry(): void {
  shared.clear();
  initialized = new WeakSet();
}
