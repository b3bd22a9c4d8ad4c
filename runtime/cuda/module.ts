// PTX modules: JIT-loaded with the error and info logs captured, cached by the SHA-256 of the PTX text so
// two plans (or two speculators) with the same kernels share one module, reference counted.
import { createHash } from 'node:crypto';
import koffi from 'koffi';
import type { CUfunction, CUmodule, HandleOut } from './driver.ts';
import { CU_FUNC_ATTRIBUTE, CU_JIT, DEFAULT_MAX_DYNAMIC_SHARED } from './constants.ts';
import type { CudaDevice } from './device.ts';

const LOG_BYTES = 64 * 1024;

export const ptxKey = (ptx: string): string => createHash('sha256').update(ptx).digest('hex');

/** Reads a C string the driver wrote into `buf` (at most `filled` bytes). */
export function readLog(buf: Uint8Array, filled: number): string {
  const end = Math.min(buf.length, Math.max(0, filled));
  const nul = buf.subarray(0, end).indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, nul < 0 ? end : nul)).trim();
}

export class LoadedModule {
  readonly key: string;
  readonly handle: CUmodule;
  /** the JIT info log (ptxas messages), empty when the driver cache served the module */
  readonly infoLog: string;
  refs = 1;
  readonly #fns = new Map<string, CUfunction>();
  readonly #dev: CudaDevice;
  readonly #label: string;

  constructor(dev: CudaDevice, key: string, handle: CUmodule, infoLog: string, label: string) {
    this.#dev = dev;
    this.key = key;
    this.handle = handle;
    this.infoLog = infoLog;
    this.#label = label;
  }

  /** The kernel `name`; `sharedBytes` above 48 KiB raises the function's dynamic shared memory limit. */
  function(name: string, sharedBytes = 0): CUfunction {
    let f = this.#fns.get(name);
    if (!f) {
      const out: HandleOut = [null];
      this.#dev.health.assertUsable('cuModuleGetFunction');
      const rc = this.#dev.driver.cuModuleGetFunction(out, this.handle, name);
      if (rc !== 0) throw this.#dev.fail('cuModuleGetFunction', rc, { context: `looking up kernel "${name}" in module ${this.#label}` });
      f = out[0] as CUfunction;
      this.#fns.set(name, f);
    }
    if (sharedBytes > DEFAULT_MAX_DYNAMIC_SHARED) this.#dev.cu('cuFuncSetAttribute', f, CU_FUNC_ATTRIBUTE.MAX_DYNAMIC_SHARED_SIZE_BYTES, sharedBytes);
    return f;
  }
}

export class ModuleCache {
  readonly #dev: CudaDevice;
  readonly #mods = new Map<string, LoadedModule>();
  constructor(dev: CudaDevice) { this.#dev = dev; }

  get size(): number { return this.#mods.size; }

  /** Loads `ptx` (or shares the cached module). A rejected module → CudaError with the JIT error log. */
  load(ptx: string, label = 'module'): LoadedModule {
    const key = ptxKey(ptx);
    const hit = this.#mods.get(key);
    if (hit) { hit.refs++; return hit; }
    const image = Buffer.from(`${ptx}\0`, 'utf8');
    const errLog = Buffer.alloc(LOG_BYTES), infoLog = Buffer.alloc(LOG_BYTES);
    const options = new Int32Array([CU_JIT.ERROR_LOG_BUFFER, CU_JIT.ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT.INFO_LOG_BUFFER, CU_JIT.INFO_LOG_BUFFER_SIZE_BYTES]);
    // size slots are IN: capacity, OUT: bytes written
    const values = new BigUint64Array([koffi.address(errLog), BigInt(LOG_BYTES), koffi.address(infoLog), BigInt(LOG_BYTES)]);
    const out: HandleOut = [null];
    this.#dev.health.assertUsable('cuModuleLoadDataEx');
    const rc = this.#dev.driver.cuModuleLoadDataEx(out, image, options.length, options, values);
    if (rc !== 0) {
      const jitLog = readLog(errLog, Number(values[1]));
      throw this.#dev.fail('cuModuleLoadDataEx', rc, { context: `loading ${label} (PTX sha256 ${key.slice(0, 12)}, ${ptx.length} chars)`, jitLog: jitLog || '(the driver wrote no error log)' });
    }
    const mod = new LoadedModule(this.#dev, key, out[0] as CUmodule, readLog(infoLog, Number(values[3])), label);
    this.#mods.set(key, mod);
    return mod;
  }

  release(mod: LoadedModule): void {
    if (--mod.refs > 0 || this.#mods.get(mod.key) !== mod) return;
    this.#mods.delete(mod.key);
    if (!this.#dev.health.poisonedBy) this.#dev.cu('cuModuleUnload', mod.handle);
  }

  unloadAll(): void {
    for (const m of [...this.#mods.values()]) { m.refs = 1; this.release(m); }
  }
}
