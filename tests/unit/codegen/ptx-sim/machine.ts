// A small PTX machine for the instruction subset our backend emits, so kernels can be checked against
// the interpreter without a GPU. Threads run until they reach bar.sync or shfl.sync, which are
// resolved per block / per warp. The memory callbacks check bounds, alignment and races (run-plan.ts).
import type { ParsedKernel } from './parse.ts';
import type { Exec, LaunchEnv } from './registers.ts';
import { g32, s32, Thread, toBits, toF } from './registers.ts';

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
      if (lanes.every((t) => t.state === 'mma')) { runMma(k, lanes, w); released = true; continue; }
      if (lanes.some((t) => t.state === 'mma')) {
        if (lanes.some((t) => t.state === 'exit')) throw new Error(`ptx-sim: ${k.name}: mma.sync with exited lanes`);
        continue;
      }
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

/**
 * mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {d0..d3}, {a0..a3}, {b0, b1}, {c0..c3} for one warp.
 * Lane l = 4g + t holds A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4]; B[t][g], B[t+4][g]; C/D[g][2t],
 * [g][2t+1], [g+8][2t], [g+8][2t+1]. Operands are used as given (the kernel rounds them to tf32);
 * each D element is the float64 sum of its 8 products and C, rounded once to f32.
 */
function runMma(k: ParsedKernel, lanes: readonly Thread[], w: number): void {
  const pc = lanes[0].pc;
  if (lanes.some((t) => t.pc !== pc)) throw new Error(`ptx-sim: ${k.name}: lanes of warp ${w / 32} wait at different mma.sync`);
  const ins = k.body[pc];
  if (ins.op !== 'mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32') throw new Error(`ptx-sim: unsupported ${ins.op}`);
  const regs = ins.args.map((o) => o.items!.map((r) => g32({ kind: 'reg', text: r })));
  const dst = ins.args[0].items!.map((r) => s32(r));
  const A = Array.from({ length: 16 }, () => new Float64Array(8)), B = Array.from({ length: 8 }, () => new Float64Array(8));
  const C = Array.from({ length: 16 }, () => new Float64Array(8));
  lanes.forEach((t, l) => {
    const g = l >> 2, q = l & 3;
    const [a, b, c] = [regs[1], regs[2], regs[3]].map((rs) => rs.map((r) => toF(r(t))));
    A[g][q] = a[0]; A[g + 8][q] = a[1]; A[g][q + 4] = a[2]; A[g + 8][q + 4] = a[3];
    B[q][g] = b[0]; B[q + 4][g] = b[1];
    C[g][2 * q] = c[0]; C[g][2 * q + 1] = c[1]; C[g + 8][2 * q] = c[2]; C[g + 8][2 * q + 1] = c[3];
  });
  const D = (i: number, j: number): number => { let s = C[i][j]; for (let x = 0; x < 8; x++) s += A[i][x] * B[x][j]; return s; };
  lanes.forEach((t, l) => {
    const g = l >> 2, q = l & 3;
    [D(g, 2 * q), D(g, 2 * q + 1), D(g + 8, 2 * q), D(g + 8, 2 * q + 1)].forEach((v, i) => dst[i](t, toBits(v)));
    t.pc++;
    t.state = 'run';
  });
}
