// The decoder kernels (kv_write scatter, attention) on the PTX machine against the interpreter:
// prefill of several requests of different lengths and slots in one pass, decode rows over stale cache
// entries, padding rows, GQA groups of 1, 2 and 4, head dims that are and are not multiples of 32,
// f32 and bf16 caches; then whole small Llama programs (several steps, caches carried between them).
import { describe, expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { reader } from '../../../compiler/ir/tensor-data.ts';
import { scheduleGraph } from '../../../compiler/schedule/schedule.ts';
import { rng } from '../../support/random-graph.ts';
import type { DecoderShape, Request } from './decoder-cases.ts';
import { attentionGraph, attentionInputs, llamaGraph, llamaInputs, llamaWeights, tinyLlama } from './decoder-cases.ts';
import { mismatches } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

const show = (name: string, got: HostTensor, want: HostTensor, atol: number): string[] => {
  const a = reader(got), b = reader(want);
  return mismatches(got, want, atol).slice(0, 4).map((j) => `${name}[${j}] = ${a(j)}, interpreter ${b(j)}`);
};

const copyInputs = (x: Record<string, HostTensor>): Record<string, HostTensor> =>
  Object.fromEntries(Object.entries(x).map(([k, t]) => [k, { ...t, data: t.data.slice() } as HostTensor]));

const CASES: { name: string; c: DecoderShape; reqs: Request[]; padding: number }[] = [
  { name: 'prefill of 3 prompts of different lengths in different slots, GQA 2, D 64', c: { Hq: 4, Hk: 2, D: 64, S: 4, L: 40, kv: 'f32' }, reqs: [{ slot: 2, start: 0, len: 7 }, { slot: 0, start: 0, len: 3 }, { slot: 3, start: 0, len: 12 }], padding: 2 },
  { name: 'decode and verify rows over stale entries, GQA 4, D 48 (partial lanes)', c: { Hq: 8, Hk: 2, D: 48, S: 3, L: 300, kv: 'f32' }, reqs: [{ slot: 1, start: 250, len: 1 }, { slot: 0, start: 17, len: 3 }, { slot: 2, start: 0, len: 1 }], padding: 1 },
  { name: 'bf16 cache, MHA (GQA 1), D 32', c: { Hq: 2, Hk: 2, D: 32, S: 2, L: 33, kv: 'bf16' }, reqs: [{ slot: 1, start: 5, len: 4 }, { slot: 0, start: 31, len: 2 }], padding: 3 },
  { name: 'one KV head, D 128, only padding plus one row', c: { Hq: 2, Hk: 1, D: 128, S: 2, L: 16, kv: 'bf16' }, reqs: [{ slot: 1, start: 15, len: 1 }], padding: 2 },
];

describe('kv_write and attention kernels on the PTX machine', () => {
  it.each(CASES.map((x, i) => [x.name, i] as const))('%s', (_, i) => {
    const { c, reqs, padding } = CASES[i];
    const g = attentionGraph(c);
    const inputs = attentionInputs(c, rng(100 + i), reqs, padding);
    const want = interpret(g, copyInputs(inputs), new Map());
    // the one-launch kernel, then the default rule (the split over positions where L spans chunks of 64)
    for (const split of [false, true]) {
      const plan = compileProgram(g, { maxDims: { N: 32 }, attention: { split } });
      // one scatter for both caches (tanh inlined), attention (q negation inlined) [+ its combine]
      // (above 4 rows a second split with 4× longer chunks where L spans two of them: attentionSplits)
      expect(plan.launches.length).toBe(split && c.L > 64 ? (c.L > 256 ? 5 : 3) : 2);
      const got = runPlanSim(plan, copyInputs(inputs), new Map());
      expect(show('out', got.out, want.out, 1e-5)).toEqual([]);
      // the caches: v bit-exact (a store, rounded to the cache dtype once); k within tanh's few ulp
      expect(Buffer.from(got.v_cache_out.data.buffer).equals(Buffer.from(want.v_cache_out.data.buffer))).toBe(true);
      expect(show('k_cache_out', got.k_cache_out, want.k_cache_out, 1e-6)).toEqual([]);
      // padding rows are zeros
      const out = got.out.data as Float32Array;
      const N = out.length / (c.Hq * c.D);
      for (let n = N - padding; n < N; n++) expect(out.subarray(n * c.Hq * c.D, (n + 1) * c.Hq * c.D).every((x) => x === 0)).toBe(true);
    }
  });
});

describe('decoder scheduling', () => {
  it('gives the updated cache the input buffer (donation) and names it as state, not as input or output', () => {
    const c: DecoderShape = { Hq: 4, Hk: 2, D: 16, S: 2, L: 8, kv: 'f32' };
    const plan = compileProgram(attentionGraph(c), { maxDims: { N: 4 } });
    expect(plan.state).toEqual([
      { input: 'k_cache', output: 'k_cache_out', buffer: 'state:k_cache' },
      { input: 'v_cache', output: 'v_cache_out', buffer: 'state:v_cache' },
    ]);
    expect(plan.outputs.map((o) => o.name)).toEqual(['out']);
    expect(plan.inputs).not.toContain('input:k_cache');
    expect(plan.buffers.filter((b) => b.kind === 'state').map((b) => b.shape)).toEqual([[2, 8, 2, 16], [2, 8, 2, 16]]);
    expect(plan.buffers.some((b) => b.kind === 'output' && b.name?.startsWith('k_cache'))).toBe(false);
  });

  it('keeps the state through an artifact round trip, and the plan checks clean', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { readArtifact, writeArtifact } = await import('../../../compiler/artifact.ts');
    const { planProblems } = await import('../../../compiler/codegen/plan-check.ts');
    const plan = compileProgram(llamaGraph(tinyLlama()), { maxDims: { N: 8, M: 2 } });
    expect(planProblems(plan)).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'arcticc-state-'));
    try {
      writeArtifact(dir, plan);
      const back = readArtifact(dir);
      expect(back.state).toEqual(plan.state);
      expect(back.buffers.filter((b) => b.kind === 'state')).toHaveLength(4);
      expect(planProblems(back)).toEqual([]);
      expect(planProblems({ ...back, state: [] })).toContainEqual(expect.stringMatching(/\(state:kv_0_key\): a state buffer that no state entry names/));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('schedules a Llama layer as QKV GEMM (norm in its x load), one scatter (k with RoPE, v), attention (q RoPE inlined), …', () => {
    const s = scheduleGraph(llamaGraph(tinyLlama({ numLayers: 1 })));
    const kinds = s.kernels.map((k) => `${k.kind}:${k.items.map((i) => i.node.op).join(',')}`);
    // o_proj stores the residual (its epilogue), gate/up has the second norm in its x load, down reads
    // SiLU(gate)·up from gate/up's output and stores the residual (docs/fusion.md)
    expect(kinds.slice(0, 6)).toEqual(['linear:linear', 'scatter:kv_write,kv_write', 'attention:attention', 'linear:linear,add', 'linear:linear', 'linear:linear,add']);
    expect(s.kernels.slice(0, 6).map((k) => k.operand?.norms.length ?? null)).toEqual([1, null, null, null, 1, 0]);
    // RoPE (gather of the tables, concat of the rotated halves) is inlined, never stored
    for (const n of s.inlined) if (n.op === 'concat' || n.op === 'gather') expect(s.bufferOf.has(n)).toBe(false);
  });

  it('rejects a kv_write whose cache input has another reader, naming the input', async () => {
    const { Node } = await import('../../../compiler/ir/node.ts');
    const { makeGraph } = await import('../../../compiler/ir/graph.ts');
    const kc = Node.make('input', [], { name: 'kv_cache' }, 'f32', [2, 8, 1, 4]);
    const x = Node.make('input', [], { name: 'x' }, 'f32', ['N', 1, 4]);
    const sl = Node.make('input', [], { name: 'slots' }, 'i32', ['N']);
    const g = makeGraph('bad', [kc, x, sl], [
      { name: 'new', node: Node.make('kv_write', [kc, x, sl, sl]) },
      { name: 'old', node: Node.make('neg', [kc]) },
    ]);
    expect(() => scheduleGraph(g)).toThrow(/cache input "kv_cache" of .* is also read by/);
  });
});

describe('small Llama programs on the PTX machine', () => {
  const configs = [
    { name: 'f32 cache, GQA 2, prefill then decode', c: tinyLlama({ head: 'logits' }) },
    { name: 'bf16 cache, GQA 4, D 32, argmax head', c: tinyLlama({ numHeads: 4, numKvHeads: 1, headDim: 32, kvDtype: 'bf16', head: 'argmax', numLayers: 1 }) },
  ];
  it.each(configs.map((x, i) => [x.name, i] as const))('%s match the interpreter step by step', (_, i) => {
    const c = configs[i].c;
    const g = llamaGraph(c);
    const r = rng(7 + i);
    const weights = llamaWeights(g, c, r);
    const plan = compileProgram(g, { maxDims: { N: 16, M: 4 } });
    // step 1: prefill 2 prompts (slots 2 and 0) plus a padding row; step 2: decode one token of each and a
    // 3-token verify in slot 1 (prefilled only by its first 2 positions in step 1)
    const steps: { reqs: Request[]; padding: number }[] = [
      { reqs: [{ slot: 2, start: 0, len: 5 }, { slot: 0, start: 0, len: 3 }, { slot: 1, start: 0, len: 2 }], padding: 1 },
      { reqs: [{ slot: 2, start: 5, len: 1 }, { slot: 0, start: 3, len: 1 }, { slot: 1, start: 2, len: 3 }], padding: 0 },
    ];
    let cacheWant: Record<string, HostTensor> | null = null, cacheGot: Record<string, HostTensor> | null = null;
    for (const st of steps) {
      const inputs = llamaInputs(g, c, r, st.reqs, st.padding, 'zero');
      const wantIn = { ...copyInputs(inputs), ...(cacheWant ?? {}) };
      const gotIn = { ...copyInputs(inputs), ...(cacheGot ?? {}) };
      const want = interpret(g, wantIn, weights, { inPlace: true });
      const got = runPlanSim(plan, gotIn, weights);
      for (const o of g.outputs) expect(show(o.name, got[o.name], want[o.name], 1e-4), o.name).toEqual([]);
      const rename = (x: Record<string, HostTensor>) => Object.fromEntries(Object.entries(x).filter(([k]) => k.endsWith('_out')).map(([k, t]) => [k.slice(0, -4), t]));
      cacheWant = rename(want);
      cacheGot = rename(got);
    }
  });
});
