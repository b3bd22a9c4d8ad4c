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
      // bfly: lane i reads lane i ^ b; up (clamp 0): lane i reads lane i - b, or keeps its own below b
      const up = ins.op.startsWith('shfl.sync.up');
      if (!up && !ins.op.startsWith('shfl.sync.bfly')) throw new Error(`ptx-sim: ${k.name}: ${ins.op} is not simulated`);
      lanes.forEach((t, i) => { const b = lane(t); d(t, up ? vals[i >= b ? i - b : i] : vals[(i ^ b) & 31]); t.pc++; t.state = 'run'; });
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

const MMA_TF32 = 'mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32';
const MMA_BF16 = 'mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32';
const bf16 = (bits: number): number => toF((bits & 0xffff) << 16);

/**
 * One warp's mma.sync {d0..d3}, {a..}, {b..}, {c0..c3} (g = lane / 4, t = lane % 4; C/D: [g][2t],
 * [g][2t+1], [g+8][2t], [g+8][2t+1]).
 * m16n8k8 tf32: A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4]; B[t][g], B[t+4][g] (operands used as given:
 * the kernel rounds them to tf32).
 * m16n8k16 bf16 (two per register, low half first): A[g][2t,2t+1], A[g+8][2t,2t+1], A[g][2t+8,+9],
 * A[g+8][2t+8,+9]; B[2t,2t+1][g], B[2t+8,2t+9][g].
 * Each D element is the float64 sum of its products and C, rounded once to f32.
 */
function runMma(k: ParsedKernel, lanes: readonly Thread[], w: number): void {
  const pc = lanes[0].pc;
  if (lanes.some((t) => t.pc !== pc)) throw new Error(`ptx-sim: ${k.name}: lanes of warp ${w / 32} wait at different mma.sync`);
  const ins = k.body[pc];
  if (ins.op !== MMA_TF32 && ins.op !== MMA_BF16) throw new Error(`ptx-sim: unsupported ${ins.op}`);
  const K = ins.op === MMA_TF32 ? 8 : 16;
  const regs = ins.args.map((o) => o.items!.map((r) => g32({ kind: 'reg', text: r })));
  const dst = ins.args[0].items!.map((r) => s32(r));
  const A = Array.from({ length: 16 }, () => new Float64Array(K)), B = Array.from({ length: K }, () => new Float64Array(8));
  const C = Array.from({ length: 16 }, () => new Float64Array(8));
  lanes.forEach((t, l) => {
    const g = l >> 2, q = l & 3;
    const [a, b, c] = [regs[1], regs[2], regs[3]].map((rs) => rs.map((r) => r(t)));
    if (K === 8) {
      A[g][q] = toF(a[0]); A[g + 8][q] = toF(a[1]); A[g][q + 4] = toF(a[2]); A[g + 8][q + 4] = toF(a[3]);
      B[q][g] = toF(b[0]); B[q + 4][g] = toF(b[1]);
    } else {
      const pair = (v: number): [number, number] => [bf16(v), bf16(v >>> 16)];
      [A[g][2 * q], A[g][2 * q + 1]] = pair(a[0]); [A[g + 8][2 * q], A[g + 8][2 * q + 1]] = pair(a[1]);
      [A[g][2 * q + 8], A[g][2 * q + 9]] = pair(a[2]); [A[g + 8][2 * q + 8], A[g + 8][2 * q + 9]] = pair(a[3]);
      [B[2 * q][g], B[2 * q + 1][g]] = pair(b[0]); [B[2 * q + 8][g], B[2 * q + 9][g]] = pair(b[1]);
    }
    C[g][2 * q] = toF(c[0]); C[g][2 * q + 1] = toF(c[1]); C[g + 8][2 * q] = toF(c[2]); C[g + 8][2 * q + 1] = toF(c[3]);
  });
  const D = (i: number, j: number): number => { let s = C[i][j]; for (let x = 0; x < K; x++) s += A[i][x] * B[x][j]; return s; };
  lanes.forEach((t, l) => {
    const g = l >> 2, q = l & 3;
    [D(g, 2 * q), D(g, 2 * q + 1), D(g + 8, 2 * q), D(g + 8, 2 * q + 1)].forEach((v, i) => dst[i](t, toBits(v)));
    t.pc++;
    t.state = 'run';
  });
}
