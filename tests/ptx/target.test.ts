// Every module of the Llama target program assembles with ptxas -arch=sm_90 without spills: the
// pycode-small fixture shape, the Llama-3.1-8B shape (f32 and bf16 caches, 8k and 32k positions; the
// attention split over positions with its combine, and the one-launch attention for larger N) and
// random small configurations (head dims 16…128, GQA 1…8, logits and argmax heads); bf16 activations at the
// 8B shape with the benchmark's row counts (every tensor-core geometry: K split, one pass per block, [8,2]);
// and the fp8 target (loadTarget quantize 'fp8': projections and the untied head in e4m3 with per-row scales)
// at the fixture and 8B shapes, f32 and bf16 activations, GEMV and tensor-core variants (built without weights).
import { expect, it } from 'vitest';
import { compileProgram } from '../../compiler/compile.ts';
import type { ExecutionPlan } from '../../compiler/codegen/plan.ts';
import type { LlamaShape } from '../../models/llama.ts';
import { llamaProgram } from '../../models/llama.ts';
import { quantizeTargetProgram, targetFp8WeightNames } from '../../runtime/target/quantize-target.ts';
import { attentionChunk } from '../../compiler/schedule/attention-split.ts';
import { rng } from '../support/random-graph.ts';
import type { Module } from './ptxas.ts';
import { assemble } from './ptxas.ts';
import { describePtxas } from './ptxas-env.ts';

const fixture: LlamaShape = {
  hiddenSize: 256, intermediateSize: 768, numLayers: 6, numHeads: 4, numKvHeads: 2, headDim: 64, vocabSize: 4096,
  rmsNormEps: 1e-5, tieWordEmbeddings: true, slots: 8, maxLen: 2048, head: 'logits',
};
const llama8b: LlamaShape = {
  hiddenSize: 4096, intermediateSize: 14336, numLayers: 32, numHeads: 32, numKvHeads: 8, headDim: 128, vocabSize: 128256,
  rmsNormEps: 1e-5, tieWordEmbeddings: false, slots: 4, maxLen: 8192, head: 'argmax',
};

const configs: [string, LlamaShape, Record<string, number>, ('fp8' | undefined)?][] = [
  ['pycode-small', fixture, { N: 512, M: 64 }],
  ['pycode-small bf16 cache argmax head', { ...fixture, kvDtype: 'bf16', head: 'argmax' }, { N: 64, M: 64 }],
  ['Llama-3.1-8B f32 cache 8k', llama8b, { N: 256, M: 32 }],
  ['Llama-3.1-8B bf16 cache 8k', { ...llama8b, kvDtype: 'bf16', numLayers: 2 }, { N: 64, M: 8 }],
  // bf16 activations (one mma term), the benchmark's sizes: the K split at ≤ 64 rows, the [8,2] block for a 2048-token prefill
  ['Llama-3.1-8B bf16 activations, prefill 2048', { ...llama8b, kvDtype: 'bf16', activations: 'bf16', numLayers: 2 }, { N: 2048, M: 256 }],
  ['Llama-3.1-8B bf16 cache 32k logits', { ...llama8b, kvDtype: 'bf16', maxLen: 32768, slots: 2, head: 'logits', numLayers: 2 }, { N: 64, M: 8 }],
  ['pycode-small fp8 weights', { ...fixture, head: 'both' }, { N: 512, M: 64 }, 'fp8'],
  ['Llama-3.1-8B fp8 weights bf16 cache 8k', { ...llama8b, kvDtype: 'bf16', numLayers: 2, head: 'both' }, { N: 256, M: 32 }, 'fp8'],
  ['Llama-3.1-8B fp8 weights argmax head', { ...llama8b, kvDtype: 'bf16', numLayers: 2 }, { N: 8, M: 8 }, 'fp8'],
  ['Llama-3.1-8B fp8 weights, bf16 activations, prefill 2048', { ...llama8b, kvDtype: 'bf16', activations: 'bf16', numLayers: 2, head: 'both' }, { N: 2048, M: 256 }, 'fp8'],
];
const r = rng(11);
for (let i = 0; i < 4; i++) {
  const Hk = r.pick([1, 2, 4]), rep = r.pick([1, 2, 4, 8]), D = r.pick([16, 32, 48, 64, 96, 128]);
  const c: LlamaShape = {
    hiddenSize: 32 * r.int(1, 6), intermediateSize: 16 * r.int(2, 12), numLayers: 1, numHeads: Hk * rep, numKvHeads: Hk, headDim: D,
    vocabSize: r.int(50, 3000), rmsNormEps: 1e-6, tieWordEmbeddings: r.chance(0.5), slots: r.int(1, 5), maxLen: r.int(8, 600),
    head: r.chance(0.5) ? 'logits' : 'argmax', kvDtype: r.chance(0.5) ? 'bf16' : 'f32',
  };
  configs.push([`random ${i} (Hq ${c.numHeads}, Hkv ${Hk}, D ${D}, L ${c.maxLen}, ${c.kvDtype})`, c, { N: r.int(1, 40), M: r.int(1, 8) }]);
}

const traced = (c: LlamaShape, quantize?: 'fp8') => (quantize ? quantizeTargetProgram(llamaProgram(c), targetFp8WeightNames(c)) : llamaProgram(c));
const plans = new Map<string, ExecutionPlan>(configs.map(([name, c, maxDims, q]) => [name, compileProgram(traced(c, q).graph, { maxDims })]));

it('plans the KV caches as state: 2 per layer, none staged as inputs or outputs', () => {
  for (const [name, c] of configs) {
    const p = plans.get(name)!;
    expect(p.state?.length, name).toBe(2 * c.numLayers);
    expect(p.inputs.length, name).toBe(4);
    expect(p.outputs.map((o) => o.name).sort(), name).toEqual(['hidden', ...(c.head === 'both' ? ['logits', 'next_tokens'] : [c.head === 'argmax' ? 'next_tokens' : 'logits'])].sort());
  }
});

it('plans the attention split over positions (chunk kernel + combine, gated against the one-launch kernel) where Lmax spans chunks', () => {
  for (const [name, c, maxDims] of configs) {
    const kinds = plans.get(name)!.launches.map((l) => /_(attention\w*?)\d+$/.exec(l.kernel)?.[1]).filter((x) => x);
    const split = c.maxLen > 64;
    const gated = split && maxDims.N > Math.ceil(264 / c.numKvHeads) - 1;
    // above 4 rows, a second split with 4× longer chunks where Lmax spans two of them
    const many = split && Math.ceil(c.maxLen / (4 * attentionChunk(c.maxLen))) >= 2 && Math.min(maxDims.N, Math.ceil(264 / c.numKvHeads) - 1) > 4;
    const pair = ['attention_split', 'attention_combine'];
    const layer = split ? [...pair, ...(many ? pair : []), ...(gated ? ['attention'] : [])] : ['attention'];
    expect(kinds, name).toEqual(Array.from({ length: c.numLayers }, () => layer).flat());
  }
});

it('fp8 plans read every projection (and the untied head) as e4m3 + f32 scale, no bf16 copy; at the 8B shape as many launches as bf16', () => {
  for (const [name, c, maxDims, q] of configs) {
    if (!q) continue;
    const params = new Map(plans.get(name)!.buffers.filter((b) => b.kind === 'param').map((b) => [b.name!, b.dtype]));
    for (const w of targetFp8WeightNames(c)) {
      expect(params.has(w), `${name}: ${w}`).toBe(false);
      expect(params.get(`${w}.fp8`), `${name}: ${w}`).toBe('fp8e4m3');
      expect(params.get(`${w}.scale`), `${name}: ${w}`).toBe('f32');
    }
    expect(params.get('model.embed_tokens.weight'), name).toBe('bf16');
    if (c.hiddenSize === 4096) {
      for (const N of [1, 4, 32]) {
        const dims = { N: Math.min(N, maxDims.N), M: Math.min(N, maxDims.M) };
        const launches = (quantize?: 'fp8'): number => compileProgram(traced(c, quantize).graph, { maxDims: dims }).launches.length;
        // the e4m3 argmax head also plans its tensor-core kernel and reduce at 4 rows (FP8_HEAD_TC_MIN_ROWS;
        // bf16 from 5), so a plan sized for exactly 4 rows has two launches more (a fused argmax: head 'argmax')
        expect(launches(q), `${name} at maxDims N = ${dims.N}`).toBe(launches() + (dims.M === 4 && c.head === 'argmax' ? 2 : 0));
      }
    }
  }
});

describePtxas('target program modules assemble with ptxas -arch=sm_90', (ptxas) => {
  const modules: Module[] = [...plans].flatMap(([name, p]) => Object.entries(p.modules).map(([k, text]) => ({ name: `${name}/${k}`, text })));

  it(`assembles all ${modules.length} modules with no register spills`, async () => {
    const results = await assemble(ptxas, modules, { batch: 1, jobs: 4, verbose: true });
    expect(results.filter((x) => !x.ok).map((x) => `${x.name}:\n${x.log}`)).toEqual([]);
    expect(results.filter((x) => /[1-9]\d* bytes spill/.test(x.log)).map((x) => x.name)).toEqual([]);
    const attn = results.filter((x) => x.name.startsWith('Llama-3.1-8B') && /attention|kv_write/.test(x.name))
      .map((x) => `${x.name}: ${/Used (\d+) registers/.exec(x.log)?.[1]} registers`);
    console.log(`ptxas -v, Llama-3.1-8B decoder kernels:\n  ${attn.join('\n  ')}`);
  }, 300_000);
});
