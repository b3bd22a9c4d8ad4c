// Kernel arguments: cuLaunchKernel takes `void **kernelParams`, one pointer per parameter to its value.
// We lay every launch's values out once in one ArrayBuffer (off the V8 heap, so its address is stable)
// and keep, per launch, a BigUint64Array of addresses into it. A launch then costs one FFI call.
import koffi from 'koffi';
import type { ParamType } from '../../compiler/codegen/plan.ts';
import type { CUfunction } from './driver.ts';
import type { CudaDevice } from './device.ts';

export type ArgValue = bigint | number;

const sizeOfParam = (t: ParamType): number => (t === 'u64' ? 8 : 4);

export interface ArgLayout {
  /** byte offset of each parameter, relative to the launch's first byte */
  readonly offsets: readonly number[];
  /** bytes the launch takes, rounded up to 8 so the next launch starts aligned */
  readonly size: number;
}

/** Natural alignment per parameter (u64 → 8, u32/f32 → 4), as the PTX .param space lays them out. */
export function argLayout(types: readonly ParamType[]): ArgLayout {
  const offsets: number[] = [];
  let off = 0;
  for (const t of types) {
    const s = sizeOfParam(t);
    off = Math.ceil(off / s) * s;
    offsets.push(off);
    off += s;
  }
  return { offsets, size: Math.ceil(off / 8) * 8 };
}

/** Writes values at `base + offsets[i]` as their parameter types; checks ranges so bad plans fail loudly. */
export function encodeArgs(view: DataView, base: number, types: readonly ParamType[], layout: ArgLayout, values: readonly ArgValue[]): void {
  if (values.length !== types.length) throw new RangeError(`kernel takes ${types.length} arguments, got ${values.length}`);
  types.forEach((t, i) => {
    const v = values[i];
    const at = base + layout.offsets[i];
    if (t === 'u64') {
      const b = typeof v === 'bigint' ? v : BigInt(v);
      if (b < 0n || b >= 1n << 64n) throw new RangeError(`argument ${i} (u64) out of range: ${v}`);
      view.setBigUint64(at, b, true);
    } else if (t === 'u32') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`argument ${i} (u32) out of range: ${v}`);
      view.setUint32(at, n, true);
    } else {
      view.setFloat32(at, Number(v), true);
    }
  });
}

/** One launch's packed arguments: `params` is the kernelParams array (addresses into the block). */
export interface PackedArgs { readonly params: BigUint64Array; readonly offset: number; readonly layout: ArgLayout }

/** A stable block of argument bytes shared by many launches. Keep it referenced while launches use it. */
export class ArgBlock {
  readonly buffer: ArrayBuffer;
  readonly view: DataView;
  readonly base: bigint;
  #used = 0;
  constructor(bytes: number) {
    // ArrayBuffers always live off the V8 heap, so the address cannot move under a GC
    this.buffer = new ArrayBuffer(Math.max(64, bytes));
    this.view = new DataView(this.buffer);
    this.base = koffi.address(new Uint8Array(this.buffer));
  }
  /** Total bytes a list of launches needs. */
  static bytesFor(launches: readonly (readonly ParamType[])[]): number {
    return launches.reduce((a, t) => a + argLayout(t).size, 0);
  }
  pack(types: readonly ParamType[], values: readonly ArgValue[]): PackedArgs {
    const layout = argLayout(types);
    if (this.#used + layout.size > this.buffer.byteLength) throw new RangeError(`argument block full (${this.buffer.byteLength} bytes)`);
    const offset = this.#used;
    encodeArgs(this.view, offset, types, layout, values);
    this.#used += layout.size;
    const params = new BigUint64Array(types.length);
    layout.offsets.forEach((o, i) => { params[i] = this.base + BigInt(offset + o); });
    return { params, offset, layout };
  }
}

export interface LaunchDims {
  readonly grid: readonly [number, number, number];
  readonly block: readonly [number, number, number];
  readonly sharedBytes: number;
}

// cuda.h 13.0: CUlaunchConfig is 7 unsigned ints (grid, block, sharedMemBytes), 4 bytes of padding, then
// hStream (8 bytes at 32), attrs (8 at 40) and numAttrs (4 at 48): 56 bytes. CUlaunchAttribute is the id (4),
// 4 bytes of padding and a 64-byte value union: 72 bytes.
export const LAUNCH_CONFIG_BYTES = 56;
export const LAUNCH_ATTRIBUTE_BYTES = 72;
/** CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION (value: programmaticStreamSerializationAllowed, an int) */
export const CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

/**
 * One CUlaunchConfig with a programmatic-stream-serialization attribute, in memory off the V8 heap (the
 * attribute array's address is written into the config). Rewritten per launch: the driver reads it at
 * the call, and launches are issued from one thread.
 */
export class LaunchConfigBlock {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  constructor() {
    const buf = new ArrayBuffer(LAUNCH_CONFIG_BYTES + LAUNCH_ATTRIBUTE_BYTES);
    this.bytes = new Uint8Array(buf, 0, LAUNCH_CONFIG_BYTES);
    this.#view = new DataView(buf);
    const attrs = new Uint8Array(buf, LAUNCH_CONFIG_BYTES, LAUNCH_ATTRIBUTE_BYTES);
    this.#view.setUint32(LAUNCH_CONFIG_BYTES, CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, true);
    this.#view.setInt32(LAUNCH_CONFIG_BYTES + 8, 1, true);
    this.#view.setBigUint64(40, koffi.address(attrs), true);
    this.#view.setUint32(48, 1, true);
  }
  /** Fills grid, block, shared bytes and stream; returns the config bytes for cuLaunchKernelEx. */
  fill(d: LaunchDims, stream: bigint): Uint8Array {
    const v = this.#view;
    for (let i = 0; i < 3; i++) { v.setUint32(4 * i, d.grid[i], true); v.setUint32(12 + 4 * i, d.block[i], true); }
    v.setUint32(24, d.sharedBytes, true);
    v.setBigUint64(32, stream, true);
    return this.bytes;
  }
}

const configs = new WeakMap<CudaDevice, LaunchConfigBlock>();

/**
 * A launch on the device's stream (captured when the stream is capturing): cuLaunchKernelEx with
 * programmatic stream serialization where the device allows it (dev.pdl), else cuLaunchKernel.
 */
export function launchKernel(dev: CudaDevice, fn: CUfunction, d: LaunchDims, args: PackedArgs, what = 'kernel'): void {
  const call = dev.pdl ? 'cuLaunchKernelEx' : 'cuLaunchKernel';
  dev.health.assertUsable(call);
  let rc;
  if (dev.pdl) {
    let cfg = configs.get(dev);
    if (!cfg) configs.set(dev, cfg = new LaunchConfigBlock());
    rc = dev.driver.cuLaunchKernelEx(cfg.fill(d, dev.stream), fn, args.params, null);
  } else {
    const [gx, gy, gz] = d.grid, [bx, by, bz] = d.block;
    rc = dev.driver.cuLaunchKernel(fn, gx, gy, gz, bx, by, bz, d.sharedBytes, dev.stream, args.params, null);
  }
  if (rc !== 0) throw dev.fail(call, rc, { context: `launching ${what} with grid [${d.grid}] block [${d.block}] shared ${d.sharedBytes}` });
}
