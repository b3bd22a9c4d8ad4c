// The CUDA backend: a compiled speculator plan behind the Backend interface. Batches up to maxBatch run in
// one graph replay of their bucket; larger ones run in chunks of maxBatch (each chunk its own replay).
import type { ExecutionPlan } from '../../compiler/codegen/plan.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import type { Backend, DeviceDrafting, DevicePointers, EnqueuedDraft, ProposeBatch } from '../backend.ts';
import type { OpenDeviceOptions } from './device.ts';
import { initDriver, openDevice } from './device.ts';
import { libcudaPath, loadDriver } from './driver.ts';
import type { LoadDriverOptions } from './driver.ts';
import { CU_DEVICE_ATTRIBUTE } from './constants.ts';
import { cuResultName } from './errors.ts';
import type { ExecutorOptions } from './executor.ts';
import { PlanExecutor } from './executor.ts';
import { rowGather } from './device-spans.ts';
import { bufferById } from './plan-layout.ts';

export interface CudaBackendOptions extends OpenDeviceOptions, ExecutorOptions {
  /** the largest batch run in one replay (default and upper bound: the plan's maxDims.B) */
  maxBatch?: number;
}

/** What a speculator plan must look like: hidden [B,H] f32, tokens [B] i32 → draft [B,n] (or [n,B]) i32. */
function speculatorShape(plan: ExecutionPlan): { hiddenSize: number; nPredict: number; draftBatchFirst: boolean; draft: string } {
  const named = (n: string) => plan.inputs.map((id) => bufferById(plan, id)).find((b) => b.name === n);
  const hidden = named('hidden'), tokens = named('tokens');
  const out = plan.outputs.find((o) => o.name === 'draft');
  const why = (s: string) => new Error(`plan ${plan.name} is not a speculator plan: ${s}`);
  if (!hidden || hidden.dtype !== 'f32' || hidden.shape.length !== 2 || hidden.shape[0] !== 'B' || typeof hidden.shape[1] !== 'number') throw why('needs input hidden: f32[B,H]');
  if (!tokens || tokens.dtype !== 'i32' || tokens.shape.length !== 1 || tokens.shape[0] !== 'B') throw why('needs input tokens: i32[B]');
  if (!out) throw why('needs output draft');
  const d = bufferById(plan, out.buffer);
  if (d.dtype !== 'i32' || d.shape.length !== 2 || !d.shape.includes('B')) throw why('output draft must be i32[B,n] or i32[n,B]');
  const draftBatchFirst = d.shape[0] === 'B';
  const n = d.shape[draftBatchFirst ? 1 : 0];
  if (typeof n !== 'number') throw why('draft length must be static');
  return { hiddenSize: hidden.shape[1] as number, nPredict: n, draftBatchFirst, draft: out.name };
}

export function createCudaBackend(plan: ExecutionPlan, weights: ReadonlyMap<string, HostTensor>, o: CudaBackendOptions = {}): Backend {
  const shape = speculatorShape(plan);
  const planMax = plan.maxDims.B;
  const maxBatch = o.maxBatch ?? planMax;
  if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > planMax) {
    throw new RangeError(`maxBatch ${maxBatch} must be an integer in [1, ${planMax}] (the plan was compiled for B ≤ ${planMax})`);
  }
  const device = openDevice(o);
  let exec: PlanExecutor;
  try {
    exec = new PlanExecutor(device, plan, weights, o);
  } catch (e) {
    device.release();
    throw e;
  }
  let closed = false;
  const { hiddenSize: H, nPredict: n } = shape;

  async function chunk(hidden: Float32Array | bigint, tokens: Int32Array, b: number): Promise<Int32Array> {
    const h = typeof hidden === 'bigint' ? { dtype: 'f32' as const, shape: [b, H], ptr: hidden } : hostTensor('f32', [b, H], hidden);
    // a synchronous wait: a draft is on the critical path of a decoding step, a worker-thread hand-off only adds latency
    const out = exec.run({ hidden: h, tokens: hostTensor('i32', [b], tokens) });
    return batchFirst(out[shape.draft].data as Int32Array, b);
  }

  /** the [n, B] layout transposed to B×n (row-major, as propose returns it) */
  const batchFirst = (d: Int32Array, b: number): Int32Array => {
    if (shape.draftBatchFirst) return d;
    const t = new Int32Array(b * n);
    for (let i = 0; i < b; i++) for (let j = 0; j < n; j++) t[i * n + j] = d[j * b + i];
    return t;
  };

  const deviceDrafting: DeviceDrafting = {
    chainKey: device,
    maxBatch,
    port: {
      executor: exec, draftOutput: shape.draft, batchFirst: shape.draftBatchFirst, hiddenSize: H, nPredict: n, maxBatch,
      assertOpen() { if (closed) throw new Error('the CUDA backend is closed'); },
      get closed() { return closed; },
    },
    enqueue(hidden: readonly bigint[] | Float32Array, tokens: Int32Array): EnqueuedDraft {
      if (closed) throw new Error('the CUDA backend is closed');
      const b = tokens.length;
      if (b < 1 || b > maxBatch) throw new RangeError(`enqueue: ${b} draft rows; one replay takes 1…${maxBatch} (maxBatch)`);
      if (hidden.length !== (hidden instanceof Float32Array ? b * H : b)) throw new RangeError(`enqueue: hidden has ${hidden.length} ${hidden instanceof Float32Array ? 'values' : 'rows'} for ${b} rows × H ${H}`);
      const h = hidden instanceof Float32Array ? hostTensor('f32', [b, H], hidden) : { dtype: 'f32' as const, shape: [b, H], gather: rowGather(hidden, H * 4) };
      const pending = exec.begin({ hidden: h, tokens: hostTensor('i32', [b], tokens) }, { outputs: [shape.draft] });
      const bp = exec.runDims({ B: b }).B, base = exec.outputAddress(shape.draft);
      return {
        batch: b,
        tokenAddress: (i, j) => base + BigInt(4 * (shape.draftBatchFirst ? i * n + j : j * bp + i)),
        collect: () => batchFirst(pending.collect()[shape.draft].data as Int32Array, b),
        discard: () => pending.discard(),
      };
    },
  };

  const pointers: DevicePointers = {
    checkRange(ptr, bytes, what) {
      if (closed) throw new Error('the CUDA backend is closed');
      const base = new BigUint64Array(1), size = new BigUint64Array(1);
      const hex = `0x${ptr.toString(16)}`;
      try {
        device.makeCurrent();
        device.cu('cuMemGetAddressRange_v2', base, size, ptr);
      } catch (e) {
        if ((e as Error).name === 'CudaPoisonedError') throw e;
        throw new RangeError(`propose: ${what} (${hex}) is not device memory of this context: ${(e as Error).message}`);
      }
      const avail = base[0] + size[0] - ptr;
      if (avail < BigInt(bytes)) throw new RangeError(`propose: ${what} (${hex}) needs ${bytes} bytes, but its allocation holds ${avail} bytes from that address`);
    },
    readI32(ptr, n) {
      const out = new Int32Array(n);
      device.makeCurrent();
      device.memory.download(out, ptr, n * 4);
      return out;
    },
  };

  return {
    device: 'cuda',
    pointers,
    deviceDrafting,
    description: `${device.description}, plan ${plan.name}, CUDA graph per batch bucket up to B=${maxBatch}`,
    async propose(p: ProposeBatch): Promise<Int32Array> {
      if (closed) throw new Error('the CUDA backend is closed');
      const B = p.batch;
      if (!Number.isInteger(B) || B < 1) throw new RangeError(`batch must be a positive integer, got ${B}`);
      if (typeof p.hidden !== 'bigint' && p.hidden.length !== B * H) throw new RangeError(`hidden has ${p.hidden.length} values, batch ${B} × H ${H} needs ${B * H}`);
      if (p.tokens.length !== B) throw new RangeError(`tokens has ${p.tokens.length} values, batch needs ${B}`);
      if (B <= maxBatch) return chunk(p.hidden, p.tokens, B);
      const result = new Int32Array(B * n);
      for (let s = 0; s < B; s += maxBatch) {
        const b = Math.min(maxBatch, B - s);
        const h = typeof p.hidden === 'bigint' ? p.hidden + BigInt(s * H * 4) : p.hidden.subarray(s * H, (s + b) * H);
        result.set(await chunk(h, p.tokens.subarray(s, s + b), b), s * n);
      }
      return result;
    },
    close() {
      if (closed) return;
      closed = true;
      try { exec.close(); } finally { device.release(); }
    },
  };
}

export type CudaAvailability = { ok: true; description: string } | { ok: false; reason: string };

/**
 * Whether a CUDA device can be used, without retaining a context: for device 'auto'. Never throws.
 * description e.g. "NVIDIA H200 (sm_90), driver 13.0".
 */
export function cudaAvailable(o: LoadDriverOptions & { ordinal?: number } = {}): CudaAvailability {
  try {
    const driver = loadDriver(o);
    const ordinal = o.ordinal ?? 0;
    initDriver(driver, libcudaPath(o), ordinal);
    const i32 = new Int32Array(1);
    const call = (name: string, rc: number): void => { if (rc !== 0) throw new Error(`${name} returned ${cuResultName(rc)} (${rc})`); };
    call('cuDriverGetVersion', driver.cuDriverGetVersion(i32));
    const version = i32[0];
    call('cuDeviceGet', driver.cuDeviceGet(i32, ordinal));
    const dev = i32[0];
    const name = new Uint8Array(256);
    call('cuDeviceGetName', driver.cuDeviceGetName(name, name.length, dev));
    const attr = (a: number): number => { call('cuDeviceGetAttribute', driver.cuDeviceGetAttribute(i32, a, dev)); return i32[0]; };
    const cc = `${attr(CU_DEVICE_ATTRIBUTE.COMPUTE_CAPABILITY_MAJOR)}${attr(CU_DEVICE_ATTRIBUTE.COMPUTE_CAPABILITY_MINOR)}`;
    const label = new TextDecoder().decode(name.subarray(0, Math.max(0, name.indexOf(0))));
    return { ok: true, description: `${label} (sm_${cc}), driver ${Math.floor(version / 1000)}.${(version % 1000) / 10}` };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}
