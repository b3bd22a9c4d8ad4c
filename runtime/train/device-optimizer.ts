// AdamW with its state on the device (issue 10): the master weights are the training plan's own f32 param
// buffers, the gradients its output buffers, and the two moments live beside them; one step is a
// sum-of-squares launch per gradient (partials), then one update launch per tensor that reduces every
// partial to the same global norm and clip scale, and updates p, m, v in place
// (compiler/codegen/ptx/kernel-adamw.ts). Nothing of the size of the model crosses PCIe during training:
// per step only the 32 bytes of hyper-parameters go up and the 4-byte norm comes back (read one step
// late, with the next step's loss). Checkpoints download weights and moments; resume uploads them.
import { ADAMW_CHUNK, ADAMW_THREADS, emitAdamW, emitSumSquares } from '../../compiler/codegen/ptx/kernel-adamw.ts';
import type { CudaDevice } from '../cuda/device.ts';
import type { CUdeviceptr, CUfunction } from '../cuda/driver.ts';
import { CudaGraph } from '../cuda/graph.ts';
import { ArgBlock, launchKernel } from '../cuda/launch.ts';
import type { PinnedBuffer } from '../cuda/memory.ts';
import type { AdamWOptions } from './optimizer.ts';
import { learningRate } from './optimizer.ts';

/** hyper (f32[8]) for step t (1-based): lr, β1, β2, ε, wd, clip, lr / bc1, √bc2, as adamwStep computes them. */
export function adamHyper(o: AdamWOptions, t: number): Float32Array {
  const lr = learningRate(o, t);
  const bc1 = 1 - o.beta1 ** t, bc2 = 1 - o.beta2 ** t;
  return Float32Array.from([lr, o.beta1, o.beta2, o.eps, o.weightDecay, o.clip, lr / bc1, Math.sqrt(bc2)]);
}

export interface DeviceTensor {
  readonly name: string;
  readonly elements: number;
  /** the f32 master weight (updated in place) */
  readonly param: CUdeviceptr;
  /** its gradient, f32, written by the training plan each step */
  readonly grad: CUdeviceptr;
  /** decoupled weight decay applies (matrices) */
  readonly decay: boolean;
}

export class DeviceAdamW {
  readonly #dev: CudaDevice;
  readonly #tensors: readonly DeviceTensor[];
  readonly #m: CUdeviceptr[] = [];
  readonly #v: CUdeviceptr[] = [];
  readonly #partials: CUdeviceptr;
  readonly #hyperDev: CUdeviceptr;
  readonly #normDev: CUdeviceptr;
  readonly #hyperHost: PinnedBuffer;
  readonly #normHost: PinnedBuffer;
  readonly #fnSum: CUfunction;
  readonly #fnUpdate: CUfunction;
  readonly #sumArgs: ReturnType<ArgBlock['pack']>[];
  readonly #updArgs: ReturnType<ArgBlock['pack']>[];
  readonly #blocks: number[];
  readonly #block: ArgBlock;
  readonly #owned: CUdeviceptr[] = [];
  /** the 2 launches per tensor, captured on the first step and replayed (their arguments never change) */
  #graph: CudaGraph | null = null;
  #closed = false;

  constructor(dev: CudaDevice, tensors: readonly DeviceTensor[]) {
    this.#dev = dev;
    this.#tensors = tensors;
    dev.makeCurrent();
    const alloc = (bytes: number, label: string): CUdeviceptr => { const p = dev.memory.alloc(bytes, label); this.#owned.push(p); return p; };
    try {
      this.#blocks = tensors.map((t) => Math.ceil(t.elements / ADAMW_CHUNK));
      const count = this.#blocks.reduce((a, b) => a + b, 0);
      for (const t of tensors) {
        if (t.elements >= 2 ** 31) throw new RangeError(`device AdamW: ${t.name} has ${t.elements} elements (the kernels index with 32 bits)`);
        const m = alloc(4 * t.elements, `AdamW first moment of ${t.name}`), v = alloc(4 * t.elements, `AdamW second moment of ${t.name}`);
        dev.memory.memset(m, 0, 4 * t.elements);
        dev.memory.memset(v, 0, 4 * t.elements);
        this.#m.push(m); this.#v.push(v);
      }
      this.#partials = alloc(4 * Math.max(1, count), 'AdamW norm partials');
      this.#hyperDev = alloc(32, 'AdamW hyper-parameters');
      this.#normDev = alloc(4, 'AdamW gradient norm');
      this.#hyperHost = dev.memory.allocPinned(32);
      this.#normHost = dev.memory.allocPinned(4);
      new Float32Array(this.#normHost.view, 0, 1)[0] = NaN;
      this.#fnSum = dev.modules.load(emitSumSquares(), 'the AdamW sum-of-squares kernel').function('arcticc_sumsq', 0);
      this.#fnUpdate = dev.modules.load(emitAdamW(), 'the AdamW update kernel').function('arcticc_adamw', 0);
      const sumT = ['u64', 'u32', 'u64'] as const, updT = ['u64', 'u64', 'u64', 'u64', 'u32', 'u64', 'u32', 'u64', 'u32', 'u64'] as const;
      this.#block = new ArgBlock(ArgBlock.bytesFor([...tensors.map(() => [...sumT]), ...tensors.map(() => [...updT])]));
      let at = 0;
      this.#sumArgs = tensors.map((t, i) => {
        const a = this.#block.pack([...sumT], [t.grad, t.elements, this.#partials + BigInt(4 * at)]);
        at += this.#blocks[i];
        return a;
      });
      this.#updArgs = tensors.map((t, i) => this.#block.pack([...updT], [
        t.param, this.#m[i], this.#v[i], t.grad, t.elements, this.#partials, count, this.#hyperDev, t.decay ? 1 : 0, i === 0 ? this.#normDev : 0n,
      ]));
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Enqueues step t (1-based) on the device's stream, after whatever computed the gradients. */
  enqueue(o: AdamWOptions, t: number): void {
    if (this.#closed) throw new Error('device AdamW: used after close()');
    const d = this.#dev;
    new Float32Array(this.#hyperHost.view, 0, 8).set(adamHyper(o, t));
    d.cu('cuMemcpyHtoDAsync_v2', this.#hyperDev, this.#hyperHost.ptr, 32, d.stream);
    const dims = (i: number) => ({ grid: [this.#blocks[i], 1, 1] as const, block: [ADAMW_THREADS, 1, 1] as const, sharedBytes: 0 });
    const launches = (): void => {
      this.#tensors.forEach((x, i) => launchKernel(d, this.#fnSum, dims(i), this.#sumArgs[i], `AdamW sum of squares of ${x.name}`));
      this.#tensors.forEach((x, i) => launchKernel(d, this.#fnUpdate, dims(i), this.#updArgs[i], `AdamW update of ${x.name}`));
    };
    // the first step runs eagerly (a faulty launch fails with its own name) and is then captured
    if (this.#graph) this.#graph.launch();
    else { launches(); this.#graph = CudaGraph.capture(d, launches); }
    d.cu('cuMemcpyDtoHAsync_v2', this.#normHost.ptr, this.#normDev, 4, d.stream);
  }

  /** The pre-clip gradient norm of the last enqueued step (valid once the stream has passed it). */
  get lastNorm(): number { return new Float32Array(this.#normHost.view, 0, 1)[0]; }

  /** Downloads (waits) the weights and both moments, in tensor order. */
  read(): { param: Float32Array; m: Float32Array; v: Float32Array }[] {
    this.#dev.makeCurrent();
    return this.#tensors.map((t, i) => {
      const get = (p: CUdeviceptr): Float32Array => { const a = new Float32Array(t.elements); this.#dev.memory.download(a, p, 4 * t.elements); return a; };
      return { param: get(t.param), m: get(this.#m[i]), v: get(this.#v[i]) };
    });
  }

  /** Uploads (waits) moments for a resumed run; the weights are the plan's, uploaded with it. */
  writeMoments(moments: readonly { m: Float32Array; v: Float32Array }[]): void {
    this.#dev.makeCurrent();
    this.#tensors.forEach((t, i) => {
      for (const [src, dst] of [[moments[i].m, this.#m[i]], [moments[i].v, this.#v[i]]] as const) {
        if (src.length !== t.elements) throw new RangeError(`device AdamW: moments of ${t.name} have ${src.length} elements, expected ${t.elements}`);
        this.#dev.memory.upload(dst, src, 4 * t.elements);
      }
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const d = this.#dev;
    this.#graph?.destroy();
    for (const p of this.#owned) { try { d.memory.free(p); } catch { /* the device is going away */ } }
    for (const b of [this.#hyperHost, this.#normHost]) if (b) { try { d.memory.freePinned(b); } catch { /* idem */ } }
  }
}
