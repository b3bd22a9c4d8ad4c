// CUDA graphs (capture the stream's launches once, replay them with one call) and event timing.
import type { CUevent, CUgraph, CUgraphExec, HandleOut } from './driver.ts';
import { CU_EVENT_DEFAULT, CU_STREAM_CAPTURE_MODE_RELAXED } from './constants.ts';
import type { CudaDevice } from './device.ts';
import { noteHostSync } from '../host-syncs.ts';

let captures = 0, captureMs = 0;
/** CUDA graphs captured in this process so far and the host ms their capture and instantiation took (benchmarks report both per row) */
export function graphCaptures(): { count: number; ms: number } { return { count: captures, ms: captureMs }; }

export class CudaGraph {
  readonly #dev: CudaDevice;
  readonly #graph: CUgraph;
  readonly #exec: CUgraphExec;
  #destroyed = false;
  private constructor(dev: CudaDevice, graph: CUgraph, exec: CUgraphExec) {
    this.#dev = dev;
    this.#graph = graph;
    this.#exec = exec;
  }

  /**
   * Records what `body` enqueues on the device's stream (relaxed mode: other threads' calls are not
   * affected) and instantiates it. Nothing runs until launch().
   */
  static capture(dev: CudaDevice, body: () => void): CudaGraph {
    const t0 = performance.now();
    try {
      return CudaGraph.#capture(dev, body);
    } finally {
      captures++;
      captureMs += performance.now() - t0;
    }
  }

  static #capture(dev: CudaDevice, body: () => void): CudaGraph {
    dev.cu('cuStreamBeginCapture_v2', dev.stream, CU_STREAM_CAPTURE_MODE_RELAXED);
    const out: HandleOut = [null];
    try {
      body();
    } catch (e) {
      // end the capture so the stream is usable again; the partial graph is discarded
      if (dev.driver.cuStreamEndCapture(dev.stream, out) === 0 && out[0]) dev.driver.cuGraphDestroy(out[0] as CUgraph);
      throw e;
    }
    dev.cu('cuStreamEndCapture', dev.stream, out);
    const graph = out[0] as CUgraph;
    try {
      dev.cu('cuGraphInstantiateWithFlags', out, graph, 0);
    } catch (e) {
      dev.driver.cuGraphDestroy(graph);
      throw e;
    }
    return new CudaGraph(dev, graph, out[0] as CUgraphExec);
  }

  /** Enqueues one replay on the device's stream. */
  launch(): void {
    if (this.#destroyed) throw new Error('CUDA graph used after destroy()');
    this.#dev.cu('cuGraphLaunch', this.#exec, this.#dev.stream);
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (this.#dev.health.poisonedBy) return;
    this.#dev.cu('cuGraphExecDestroy', this.#exec);
    this.#dev.cu('cuGraphDestroy', this.#graph);
  }
}

/** A pair of events on the device's stream: start(), stop(), then elapsedMs() (waits for stop). */
export class EventTimer {
  readonly #dev: CudaDevice;
  readonly #start: CUevent;
  readonly #stop: CUevent;
  readonly #ms = new Float32Array(1);
  constructor(dev: CudaDevice) {
    this.#dev = dev;
    const out: HandleOut = [null];
    dev.cu('cuEventCreate', out, CU_EVENT_DEFAULT);
    this.#start = out[0] as CUevent;
    try {
      dev.cu('cuEventCreate', out, CU_EVENT_DEFAULT);
    } catch (e) {
      dev.driver.cuEventDestroy_v2(this.#start);
      throw e;
    }
    this.#stop = out[0] as CUevent;
  }
  start(): void { this.#dev.cu('cuEventRecord', this.#start, this.#dev.stream); }
  stop(): void { this.#dev.cu('cuEventRecord', this.#stop, this.#dev.stream); }
  elapsedMs(): number {
    noteHostSync();
    this.#dev.cu('cuEventSynchronize', this.#stop);
    this.#dev.cu('cuEventElapsedTime_v2', this.#ms, this.#start, this.#stop);
    return this.#ms[0];
  }
  destroy(): void {
    if (this.#dev.health.poisonedBy) return;
    this.#dev.cu('cuEventDestroy_v2', this.#start);
    this.#dev.cu('cuEventDestroy_v2', this.#stop);
  }
}
