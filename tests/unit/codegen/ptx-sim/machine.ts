// A small PTX machine for the instruction subset our backend emits, so kernels can be checked against
// the interpreter without a GPU. Threads run until they reach bar.sync or shfl.sync, which are
// resolved per block / per warp. The memory callbacks check bounds, alignment and races (run-plan.ts).
import type { ParsedKernel } from './parse.ts';
import type { Exec, LaunchEnv } from './registers.ts';
import { g32, s32, Thread } from './registers.ts';

export { compileKernel } from './instructions.ts';
export type { Memory } from './registers.ts';
export { Thread } from './registers.ts';

/** Run one block to completion; resolves shuffles per warp and barriers per block. */
export function runBlock(k: ParsedKernel, code: readonly Exec[], env: LaunchEnv, onBarrier: () => void, maxSteps = 50_000_000): void {
  const threads = Array.from({ length: env.ntid }, (_, i) => new Thread(k, i));
  let steps = 0;
  for (;;) {
    for (const t of threads) {
      while (t.state === 'run') {
        code[t.pc](t, env);
        if (++steps > maxSteps) throw new Error(`ptx-sim: ${k.name} did not finish in ${maxSteps} steps`);
      }
    }
    if (threads.every((t) => t.state === 'exit')) return;
    let released = false;
    for (let w = 0; w < threads.length; w += 32) {
      const lanes = threads.slice(w, w + 32);
      if (!lanes.every((t) => t.state === 'shfl')) {
        if (lanes.some((t) => t.state === 'shfl') && lanes.some((t) => t.state === 'exit')) throw new Error(`ptx-sim: ${k.name}: shfl.sync with exited lanes`);
        continue;
      }
      const pc = lanes[0].pc;
      if (lanes.some((t) => t.pc !== pc)) throw new Error(`ptx-sim: ${k.name}: lanes of warp ${w / 32} wait at different shuffles`);
      const ins = k.body[pc];
      const src = g32(ins.args[1]), lane = g32(ins.args[2]), d = s32(ins.args[0]);
      const vals = lanes.map((t) => src(t));
      lanes.forEach((t, i) => { d(t, vals[(i ^ lane(t)) & 31]); t.pc++; t.state = 'run'; });
      released = true;
    }
    if (released) continue;
    const live = threads.filter((t) => t.state !== 'exit');
    if (live.every((t) => t.state === 'bar')) {
      onBarrier();
      for (const t of live) t.state = 'run';
      continue;
    }
    throw new Error(`ptx-sim: ${k.name}: deadlock (threads wait at ${[...new Set(live.map((t) => `${t.state}@${k.body[t.pc]?.line}`))].join(', ')})`);
  }
}
