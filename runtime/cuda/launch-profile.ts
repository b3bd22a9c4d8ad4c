// Per-launch timing: an event before every launch and one after the last, eager launches (no graph),
// repeated; each launch's time is the median over the repetitions of the gap between its two events.
// Event gaps include the launch's own queueing on the stream, so a run of tiny kernels shows its
// per-launch cost; what a graph replay saves is not visible here (compare the sum with a replay).
import { CU_EVENT_DEFAULT } from './constants.ts';
import type { CudaDevice } from './device.ts';
import type { CUevent, HandleOut } from './driver.ts';

export interface LaunchTiming {
  /** index in the plan's launch list */
  readonly index: number;
  readonly kernel: string;
  readonly grid: readonly number[];
  readonly block: readonly number[];
  /** median ms over the repetitions */
  readonly ms: number;
}

export interface ProfiledStep {
  readonly index: number;
  readonly kernel: string;
  readonly grid: readonly number[];
  readonly block: readonly number[];
  /** enqueues the launch on the device's stream */
  readonly launch: () => void;
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Times each step `reps` times (after one untimed warm-up pass); returns one LaunchTiming per step. */
export function profileSteps(dev: CudaDevice, steps: readonly ProfiledStep[], reps = 20): LaunchTiming[] {
  if (!Number.isInteger(reps) || reps < 1) throw new RangeError(`profileSteps: reps must be a positive integer, got ${reps}`);
  dev.makeCurrent();
  for (const s of steps) s.launch();
  dev.synchronize();
  const events: CUevent[] = [];
  const out: HandleOut = [null];
  const ms = new Float32Array(1);
  const samples = steps.map(() => [] as number[]);
  try {
    for (let i = 0; i <= steps.length; i++) {
      dev.cu('cuEventCreate', out, CU_EVENT_DEFAULT);
      events.push(out[0] as CUevent);
    }
    for (let r = 0; r < reps; r++) {
      steps.forEach((s, i) => {
        dev.cu('cuEventRecord', events[i], dev.stream);
        s.launch();
      });
      dev.cu('cuEventRecord', events[steps.length], dev.stream);
      dev.cu('cuEventSynchronize', events[steps.length]);
      for (let i = 0; i < steps.length; i++) {
        dev.cu('cuEventElapsedTime_v2', ms, events[i], events[i + 1]);
        samples[i].push(ms[0]);
      }
    }
  } finally {
    if (!dev.health.poisonedBy) for (const e of events) dev.driver.cuEventDestroy_v2(e);
  }
  return steps.map((s, i) => ({ index: s.index, kernel: s.kernel, grid: s.grid, block: s.block, ms: median(samples[i]) }));
}

/** Groups timings by kernel kind (the kernel name without its program prefix and trailing number). */
export function byKind(t: readonly LaunchTiming[]): { kind: string; launches: number; ms: number }[] {
  const g = new Map<string, { kind: string; launches: number; ms: number }>();
  for (const x of t) {
    const kind = x.kernel.replace(/^[^_]*_/, '').replace(/\d+$/, '');
    const e = g.get(kind) ?? { kind, launches: 0, ms: 0 };
    e.launches++;
    e.ms += x.ms;
    g.set(kind, e);
  }
  return [...g.values()].sort((a, b) => b.ms - a.ms);
}
