// The attention kernel split over positions (compiler/schedule/attention-split.ts) on the PTX machine
// against the interpreter: chunk partials into the scratch and the fixed-order combine launch. Rows whose
// position ends mid-chunk, exactly at a chunk's end, in the first chunk only, in the last chunk; padding
// rows (zeros); GQA 1, 2 and 4; D 48, 64 and 128; f32 and bf16 caches; N 1 and 5; small chunks (the
// machine is slow) and the production chunk once; the gate on N where the one-launch kernel is planned
// too; a small Llama program (q RoPE inlined in the split kernel) over several steps.
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import type { ExecutionPlan } from '../../../compiler/codegen/plan.ts';
import { evalGrid } from '../../../compiler/codegen/plan.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { reader } from '../../../compiler/ir/tensor-data.ts';
import type { AttentionSplitOptions } from '../../../compiler/schedule/attention-split.ts';
import { attentionChunk, attentionSplit } from '../../../compiler/schedule/attention-split.ts';
import { Node } from '../../../compiler/ir/node.ts';
import { rng } from '../../support/random-graph.ts';
import type { DecoderShape, Request } from './decoder-cases.ts';
import { attentionGraph, attentionInputs, llamaGraph, llamaInputs, llamaWeights, rowsOf, tinyLlama } from './decoder-cases.ts';
import { mismatches } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

const show = (name: string, got: HostTensor, want: HostTensor, atol: number): string[] => {
  const a = reader(got), b = reader(want);
  return mismatches(got, want, atol).slice(0, 4).map((j) => `${name}[${j}] = ${a(j)}, interpreter ${b(j)}`);
};
const copyInputs = (x: Record<string, HostTensor>): Record<string, HostTensor> =>
  Object.fromEntries(Object.entries(x).map(([k, t]) => [k, { ...t, data: t.data.slice() } as HostTensor]));

/** The attention launches that run at N rows: kernel kinds by name. */
const attentionRuns = (plan: ExecutionPlan, N: number): string[] => plan.launches
  .filter((l) => /attention/.test(l.kernel) && evalGrid(l.grid[0], new Map([['N', N]])) > 0)
  .map((l) => /_(attention\w*?)\d+$/.exec(l.kernel)![1]);

interface Case { name: string; c: DecoderShape; reqs: Request[]; padding: number; attention?: AttentionSplitOptions; maxN?: number; runs: string[] }

const CASES: Case[] = [
  {
    name: 'GQA 2, D 64, f32, N 5: mid-chunk, first chunk only, last chunk, padding (5 chunks of 8)',
    c: { Hq: 4, Hk: 2, D: 64, S: 4, L: 40, kv: 'f32' }, attention: { chunk: 8 },
    reqs: [{ slot: 1, start: 37, len: 1 }, { slot: 0, start: 3, len: 1 }, { slot: 2, start: 20, len: 2 }], padding: 1,
    runs: ['attention_split', 'attention_combine'],
  },
  {
    name: 'GQA 4, D 128, bf16, N 1 in the third of 3 chunks of 16',
    c: { Hq: 8, Hk: 2, D: 128, S: 2, L: 48, kv: 'bf16' }, attention: { chunk: 16 },
    reqs: [{ slot: 1, start: 40, len: 1 }], padding: 0, runs: ['attention_split', 'attention_combine'],
  },
  {
    name: 'GQA 2, D 128, bf16, N 5: positions at a chunk end (15), a chunk start (16), position 0, the last (47)',
    c: { Hq: 2, Hk: 1, D: 128, S: 3, L: 48, kv: 'bf16' }, attention: { chunk: 16 },
    reqs: [{ slot: 0, start: 15, len: 2 }, { slot: 1, start: 0, len: 1 }, { slot: 2, start: 46, len: 2 }], padding: 0,
    runs: ['attention_split', 'attention_combine'],
  },
  {
    name: 'GQA 4, D 64, f32, N 5 with a prefill (positions 0…3 of a row share chunk 0), 2 padding rows',
    c: { Hq: 8, Hk: 2, D: 64, S: 2, L: 24, kv: 'f32' }, attention: { chunk: 4 },
    reqs: [{ slot: 1, start: 0, len: 2 }, { slot: 0, start: 21, len: 1 }], padding: 2, runs: ['attention_split', 'attention_combine'],
  },
  {
    name: 'GQA 2, D 128, f32, N 5: 20 chunks of 2 over 8 combine groups (each group several chunks)',
    c: { Hq: 4, Hk: 2, D: 128, S: 3, L: 40, kv: 'f32' }, attention: { chunk: 2 },
    reqs: [{ slot: 0, start: 39, len: 1 }, { slot: 1, start: 18, len: 1 }, { slot: 2, start: 1, len: 2 }], padding: 1,
    runs: ['attention_split', 'attention_combine'],
  },
  {
    name: 'MHA, D 48 (partial lanes), f32, N 5',
    c: { Hq: 3, Hk: 3, D: 48, S: 5, L: 30, kv: 'f32' }, attention: { chunk: 8 },
    reqs: Array.from({ length: 5 }, (_, i) => ({ slot: 4 - i, start: 6 * i + 1, len: 1 })), padding: 0,
    runs: ['attention_split', 'attention_combine'],
  },
  {
    name: 'the production chunk (64 at L 256): GQA 2, D 64, bf16, N 2',
    c: { Hq: 4, Hk: 2, D: 64, S: 2, L: 256, kv: 'bf16' },
    reqs: [{ slot: 1, start: 200, len: 1 }, { slot: 0, start: 63, len: 1 }], padding: 0, runs: ['attention_split', 'attention_combine'],
  },
  {
    name: 'gated on N (split below 8 blocks = 3 rows of 2 KV heads): N 5 runs the one-launch kernel',
    c: { Hq: 4, Hk: 2, D: 64, S: 3, L: 40, kv: 'f32' }, attention: { chunk: 8, belowBlocks: 8 }, maxN: 16,
    reqs: [{ slot: 1, start: 37, len: 1 }, { slot: 0, start: 3, len: 1 }, { slot: 2, start: 20, len: 2 }], padding: 1, runs: ['attention'],
  },
  {
    name: 'gated on N: N 3 runs the split',
    c: { Hq: 4, Hk: 2, D: 64, S: 3, L: 40, kv: 'f32' }, attention: { chunk: 8, belowBlocks: 8 }, maxN: 16,
    reqs: [{ slot: 1, start: 37, len: 1 }, { slot: 2, start: 20, len: 1 }], padding: 1, runs: ['attention_split', 'attention_combine'],
  },
];

describe('attention split over positions on the PTX machine', () => {
  it.each(CASES.map((x, i) => [x.name, i] as const))('%s', (_, i) => {
    const { c, reqs, padding, attention, maxN, runs } = CASES[i];
    const g = attentionGraph(c);
    const inputs = attentionInputs(c, rng(300 + i), reqs, padding);
    const want = interpret(g, copyInputs(inputs), new Map());
    const plan = compileProgram(g, { maxDims: { N: maxN ?? 8 }, ...(attention ? { attention } : {}) });
    const N = rowsOf(reqs, padding).slots.length;
    expect(attentionRuns(plan, N)).toEqual(runs);
    const got = runPlanSim(plan, copyInputs(inputs), new Map());
    expect(show('out', got.out, want.out, 1e-5)).toEqual([]);
    expect(Buffer.from(got.v_cache_out.data.buffer).equals(Buffer.from(want.v_cache_out.data.buffer))).toBe(true);
    const out = got.out.data as Float32Array;
    for (let n = N - padding; n < N; n++) expect(out.subarray(n * c.Hq * c.D, (n + 1) * c.Hq * c.D).every((x) => x === 0), `padding row ${n}`).toBe(true);
  });

  it('runs the same plan deterministically: two runs give identical bits', () => {
    const c: DecoderShape = { Hq: 4, Hk: 2, D: 64, S: 2, L: 32, kv: 'f32' };
    const g = attentionGraph(c);
    const inputs = attentionInputs(c, rng(9), [{ slot: 0, start: 30, len: 1 }, { slot: 1, start: 12, len: 1 }], 0);
    const plan = compileProgram(g, { maxDims: { N: 4 }, attention: { chunk: 8 } });
    const a = runPlanSim(plan, copyInputs(inputs), new Map()), b = runPlanSim(plan, copyInputs(inputs), new Map());
    expect(Buffer.from(a.out.data.buffer).equals(Buffer.from(b.out.data.buffer))).toBe(true);
  });

  it('small Llama program (q RoPE inlined in the split kernel): prefill, decode and verify steps match the interpreter', () => {
    const c = tinyLlama({ numHeads: 4, numKvHeads: 1, headDim: 32, kvDtype: 'bf16', numLayers: 1, maxLen: 24 });
    const g = llamaGraph(c);
    const r = rng(17);
    const weights = llamaWeights(g, c, r);
    const plan = compileProgram(g, { maxDims: { N: 16, M: 4 }, attention: { chunk: 4 } });
    expect(attentionRuns(plan, 4)).toEqual(['attention_split', 'attention_combine']);
    const steps: { reqs: Request[]; padding: number }[] = [
      { reqs: [{ slot: 2, start: 0, len: 9 }, { slot: 0, start: 0, len: 3 }, { slot: 1, start: 0, len: 2 }], padding: 1 },
      { reqs: [{ slot: 2, start: 9, len: 1 }, { slot: 0, start: 3, len: 1 }, { slot: 1, start: 2, len: 3 }], padding: 0 },
    ];
    let cacheWant: Record<string, HostTensor> | null = null, cacheGot: Record<string, HostTensor> | null = null;
    for (const st of steps) {
      const inputs = llamaInputs(g, c, r, st.reqs, st.padding, 'zero');
      const want = interpret(g, { ...copyInputs(inputs), ...(cacheWant ?? {}) }, weights, { inPlace: true });
      const got = runPlanSim(plan, { ...copyInputs(inputs), ...(cacheGot ?? {}) }, weights);
      for (const o of g.outputs) expect(show(o.name, got[o.name], want[o.name], 1e-4), o.name).toEqual([]);
      const rename = (x: Record<string, HostTensor>) => Object.fromEntries(Object.entries(x).filter(([k]) => k.endsWith('_out')).map(([k, t]) => [k.slice(0, -4), t]));
      cacheWant = rename(want);
      cacheGot = rename(got);
    }
  });
});

describe('attention split rule', () => {
  const node = (c: DecoderShape, N: number | string): Node => {
    const kc = Node.make('input', [], { name: 'k' }, c.kv, [c.S, c.L, c.Hk, c.D]);
    const vc = Node.make('input', [], { name: 'v' }, c.kv, [c.S, c.L, c.Hk, c.D]);
    const q = Node.make('input', [], { name: 'q' }, 'f32', [N, c.Hq, c.D]);
    const ids = Node.make('input', [], { name: 'ids' }, 'i32', [N]);
    return Node.make('attention', [q, kc, vc, ids, ids], { scale: 1 });
  };
  const llama8b: DecoderShape = { Hq: 32, Hk: 8, D: 128, S: 2, L: 8192, kv: 'bf16' };

  it('chooses chunks of 64 positions, doubling while there would be more than 128 chunks', () => {
    expect([256, 2048, 8192, 8193, 16384, 32768].map(attentionChunk)).toEqual([64, 64, 64, 128, 128, 256]);
  });

  it('splits while N·Hkv < 264 (2 blocks per SM of an H200): the 8B shape up to 32 rows, gated above', () => {
    const n = node(llama8b, 'N');
    expect(attentionSplit(n, { N: 64 })).toEqual({ chunk: 64, chunks: 128, rows: 32, gated: true });
    expect(attentionSplit(n, { N: 16 })).toEqual({ chunk: 64, chunks: 128, rows: 16, gated: false });
    // a static batch: split or not, no gate
    expect(attentionSplit(node(llama8b, 8), {})).toEqual({ chunk: 64, chunks: 128, rows: 8, gated: false });
    expect(attentionSplit(node(llama8b, 33), {})).toBeNull();
    // MQA with many query heads: the rows are capped so the scratch stays within 256 MiB (63 rows of 4.26 MB, not 263)
    expect(attentionSplit(node({ Hq: 64, Hk: 1, D: 128, S: 2, L: 32768, kv: 'bf16' }, 'N'), { N: 64 })).toEqual({ chunk: 256, chunks: 128, rows: 63, gated: true });
    // Lmax within one chunk: never
    expect(attentionSplit(node({ ...llama8b, L: 64 }, 'N'), { N: 8 })).toBeNull();
  });

  it('plans the scratches as temps of [rows, Hq, chunks, D + 2] f32 and the launches: short-chunk pair ≤ 4 rows, long-chunk pair ≤ 32, one-launch above', () => {
    const plan = compileProgram(attentionGraph({ ...llama8b, L: 32768 }), { maxDims: { N: 64 } });
    const att = plan.launches.filter((l) => /attention/.test(l.kernel));
    expect(att.map((l) => /_(attention\w*?)\d+$/.exec(l.kernel)![1])).toEqual(['attention_split', 'attention_combine', 'attention_split', 'attention_combine', 'attention']);
    expect(att.map((l) => l.grid[0])).toEqual([
      { ceilDiv: [['N', 8, 128], 1], when: { dims: ['N'], atMost: 4 } },
      { ceilDiv: [['N', 32], 1], when: { dims: ['N'], atMost: 4 } },
      { ceilDiv: [['N', 8, 32], 1], when: { dims: ['N'], atLeast: 5, atMost: 32 } },
      { ceilDiv: [['N', 32], 1], when: { dims: ['N'], atLeast: 5, atMost: 32 } },
      { ceilDiv: [['N', 8], 1], when: { dims: ['N'], atLeast: 33 } },
    ]);
    const scratch = plan.buffers.filter((b) => b.kind === 'temp' && b.shape.length === 4).map((b) => b.shape);
    expect(scratch).toEqual([[4, 32, 128, 130], [32, 32, 32, 130]]);
    expect(attentionRuns(plan, 1)).toEqual(['attention_split', 'attention_combine']);
    expect(attentionRuns(plan, 8)).toEqual(['attention_split', 'attention_combine']);
    expect(att.filter((l) => evalGrid(l.grid[0], new Map([['N', 8]])) > 0).map((l) => l.kernel)).not.toEqual(att.filter((l) => evalGrid(l.grid[0], new Map([['N', 1]])) > 0).map((l) => l.kernel));
    expect(attentionRuns(plan, 33)).toEqual(['attention']);
    // manyFactor 1: the single split for every row count up to 32, as before
    const one = compileProgram(attentionGraph({ ...llama8b, L: 32768 }), { maxDims: { N: 64 }, attention: { manyFactor: 1 } });
    expect(one.launches.filter((l) => /attention/.test(l.kernel)).length).toBe(3);
  });
});
