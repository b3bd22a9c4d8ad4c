// The device AdamW kernels (compiler/codegen/ptx/kernel-adamw.ts) on the PTX machine against the host
// optimizer (runtime/train/optimizer.ts): several tensors (a partial last block, one smaller than a
// block), decayed and not, with the global-norm clip active and inactive; the reported norm; and both
// modules assemble with ptxas where it is installed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADAMW_CHUNK, emitAdamW, emitSumSquares } from '../../../compiler/codegen/ptx/kernel-adamw.ts';
import { adamHyper } from '../../../runtime/train/device-optimizer.ts';
import type { OptimizerSlot } from '../../../runtime/train/optimizer.ts';
import { adamwStep, DEFAULT_ADAMW } from '../../../runtime/train/optimizer.ts';
import { rng } from '../../support/random-graph.ts';
import { runKernelSim, SimMemory } from '../codegen/ptx-sim/run-kernel.ts';

const SIZES = [ADAMW_CHUNK + 37, 300, 2 * ADAMW_CHUNK];

function run(gradScale: number, t: number) {
  const r = rng(7 + t);
  const rand = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, () => (r.next() * 2 - 1) * s);
  const slots: OptimizerSlot[] = SIZES.map((n, i) => ({ name: `w${i}`, param: rand(n, 0.5), m: rand(n, 0.01), v: Float32Array.from(rand(n, 1e-4), Math.abs), decay: i !== 1 }));
  const grads = SIZES.map((n) => rand(n, gradScale));
  const o = { ...DEFAULT_ADAMW, totalSteps: 50 };
  // the device: partials of every tensor, then the update of each
  const mem = new SimMemory();
  const blocks = SIZES.map((n) => Math.ceil(n / ADAMW_CHUNK));
  const count = blocks.reduce((a, b) => a + b, 0);
  mem.add('partials', new Float32Array(count).fill(NaN));
  mem.add('hyper', adamHyper(o, t));
  mem.add('norm', new Float32Array(1).fill(NaN));
  slots.forEach((s, i) => { mem.add(`p${i}`, s.param); mem.add(`m${i}`, s.m); mem.add(`v${i}`, s.v); mem.add(`g${i}`, grads[i]); });
  const sumsq = emitSumSquares(), adamw = emitAdamW();
  let at = 0;
  SIZES.forEach((n, i) => {
    runKernelSim(sumsq, blocks[i], { g: { buffer: `g${i}` }, n: { u32: n }, partials: { u64: mem.address('partials') + BigInt(4 * at) } }, mem);
    at += blocks[i];
  });
  SIZES.forEach((n, i) => runKernelSim(adamw, blocks[i], {
    p: { buffer: `p${i}` }, m: { buffer: `m${i}` }, v: { buffer: `v${i}` }, g: { buffer: `g${i}` }, n: { u32: n },
    partials: { buffer: 'partials' }, count: { u32: count }, hyper: { buffer: 'hyper' }, decay: { u32: slots[i].decay ? 1 : 0 },
    norm: i === 0 ? { buffer: 'norm' } : { u64: 0n },
  }, mem));
  const host = adamwStep(slots, grads, t, o);
  return { mem, slots, host };
}

const close = (got: Float32Array, want: Float32Array, rel: number): string[] => {
  // f32 on the device against the host's f64 arithmetic: relative, plus an absolute floor of 1e-6 of the
  // tensor's largest value for elements where the moment update cancels
  const bad: string[] = [];
  const floor = 1e-6 * want.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
  for (let i = 0; i < want.length && bad.length < 4; i++) {
    if (!(Math.abs(got[i] - want[i]) <= rel * Math.abs(want[i]) + floor)) bad.push(`[${i}] ${got[i]} vs ${want[i]}`);
  }
  return bad;
};

describe('device AdamW kernels on the PTX machine', () => {
  it.each([['clip inactive (norm < 1)', 1e-4, 1], ['clip active (norm > 1)', 0.3, 7]] as const)('match the host optimizer: %s', (_, scale, t) => {
    const { mem, slots, host } = run(scale, t);
    expect(scale < 0.01 ? host.norm < 1 : host.norm > 1).toBe(true);
    expect(Math.abs(mem.f32('norm')[0] - host.norm) / host.norm).toBeLessThan(1e-5);
    slots.forEach((s, i) => {
      expect(close(mem.f32(`m${i}`), s.m, 1e-5)).toEqual([]);
      expect(close(mem.f32(`v${i}`), s.v, 1e-5)).toEqual([]);
      expect(close(mem.f32(`p${i}`), s.param, 1e-5)).toEqual([]);
    });
  });

  it.skipIf(!(() => { try { execFileSync('ptxas', ['--version']); return true; } catch { return false; } })())('assemble with ptxas -arch=sm_90', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adamw-'));
    for (const [n, src] of [['adamw', emitAdamW()], ['sumsq', emitSumSquares()]] as const) {
      fs.writeFileSync(path.join(dir, `${n}.ptx`), src);
      execFileSync('ptxas', ['-arch=sm_90', path.join(dir, `${n}.ptx`), '-o', path.join(dir, `${n}.cubin`)]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
