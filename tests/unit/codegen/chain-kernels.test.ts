// The fused Arctic step's two kernels (compiler/codegen/ptx/kernel-chain.ts) on the PTX machine against a
// host reference: draft buckets 1, 4 (3 live rows), 8 and 64 (33 live rows), ragged verified counts, both
// draft layouts ([B, n] and [n, B]); padding rows come out zero and nothing outside the live spans is
// written; both modules assemble with ptxas where it is installed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHAIN_HEADER_WORDS, chainBlockWords, emitChainGather, emitChainScatter } from '../../../compiler/codegen/ptx/kernel-chain.ts';
import { describePtxas } from '../../ptx/ptxas-env.ts';
import { rng } from '../../support/random-graph.ts';
import { runKernelSim, SimMemory } from './ptx-sim/run-kernel.ts';

const H = 200, CAP = 40, N = 300, SRC_ROWS = 50, SENTINEL = -7;

function chainBlock(count: number, src: number[], last: number[], dst: number[], cnt: number[]): Int32Array {
  const w = new Int32Array(chainBlockWords(CAP)).fill(SENTINEL);
  w.fill(0, 0, CHAIN_HEADER_WORDS);
  w[0] = count;
  for (let b = 0; b < count; b++) {
    w[CHAIN_HEADER_WORDS + b] = src[b];
    w[CHAIN_HEADER_WORDS + CAP + b] = last[b];
    w[CHAIN_HEADER_WORDS + 2 * CAP + b] = dst[b];
    w[CHAIN_HEADER_WORDS + 3 * CAP + b] = cnt[b];
  }
  return w;
}

describe('fused-step chain kernels on the PTX machine', () => {
  it.each([[1, 1], [4, 3], [8, 8], [64, 33]])('gather: bucket %i, %i live rows', (Bp, count) => {
    const r = rng(Bp * 31 + count);
    const hsrc = Float32Array.from({ length: SRC_ROWS * H }, () => r.next() * 2 - 1);
    const src = Array.from({ length: count }, () => Math.floor(r.next() * SRC_ROWS));
    const last = Array.from({ length: count }, () => Math.floor(r.next() * 1000));
    const mem = new SimMemory();
    mem.add('block', chainBlock(count, src, last, [], []));
    mem.add('hsrc', hsrc);
    mem.add('hdst', new Float32Array(Bp * H).fill(NaN));
    mem.add('tdst', new Int32Array(Bp).fill(SENTINEL));
    runKernelSim(emitChainGather(), Bp, { block: { buffer: 'block' }, cap: { u32: CAP }, hsrc: { buffer: 'hsrc' }, hdst: { buffer: 'hdst' }, tdst: { buffer: 'tdst' }, H: { u32: H } }, mem);
    const hdst = mem.f32('hdst'), tdst = new Int32Array(mem.f32('tdst').buffer);
    for (let b = 0; b < Bp; b++) {
      const want = b < count ? hsrc.subarray(src[b] * H, (src[b] + 1) * H) : new Float32Array(H);
      expect(Array.from(hdst.subarray(b * H, (b + 1) * H)), `row ${b}`).toEqual(Array.from(want));
      expect(tdst[b], `token of row ${b}`).toBe(b < count ? last[b] : 0);
    }
  });

  it.each([[1, 1, true], [4, 3, false], [8, 8, true], [64, 33, false], [64, 33, true]])('scatter: bucket %i, %i live rows, batch first %s', (Bp, count, batchFirst) => {
    const r = rng(Bp * 7 + count);
    const n = 5;
    const draft = Int32Array.from({ length: Bp * n }, () => Math.floor(r.next() * 5000));
    // ragged counts 1…n, rows laid out one after another with their last token in front (as the scheduler does)
    const cnt = Array.from({ length: count }, () => 1 + Math.floor(r.next() * n));
    const dst: number[] = [];
    let at = 2;
    for (let b = 0; b < count; b++) { dst.push(at + 1); at += cnt[b] + 1 + (b % 3 === 0 ? 4 : 0); }
    const mem = new SimMemory();
    mem.add('block', chainBlock(count, [], [], dst, cnt));
    mem.add('draft', draft);
    mem.add('vtok', new Int32Array(N).fill(SENTINEL));
    mem.add('out', new Int32Array(N).fill(SENTINEL));
    runKernelSim(emitChainScatter(), Bp, {
      block: { buffer: 'block' }, cap: { u32: CAP }, draft: { buffer: 'draft' }, n: { u32: n }, stride: { u32: batchFirst ? 0 : Bp },
      vtok: { buffer: 'vtok' }, out: { buffer: 'out' },
    }, mem);
    const want = new Int32Array(N).fill(SENTINEL);
    for (let b = 0; b < count; b++) for (let j = 0; j < cnt[b]; j++) want[dst[b] + j] = draft[batchFirst ? b * n + j : j * Bp + b];
    expect(Array.from(new Int32Array(mem.f32('vtok').buffer))).toEqual(Array.from(want));
    expect(Array.from(new Int32Array(mem.f32('out').buffer))).toEqual(Array.from(want));
  });

});

describePtxas('fused-step chain kernels, ptxas', (ptxas) => {
  it('both modules assemble for sm_90', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arcticc-chain-'));
    try {
      for (const [name, ptx] of [['gather', emitChainGather()], ['scatter', emitChainScatter()]]) {
        const f = path.join(dir, `${name}.ptx`);
        fs.writeFileSync(f, ptx);
        execFileSync(ptxas, ['-arch=sm_90', f, '-o', path.join(dir, `${name}.cubin`)]);
      }
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
});
