// FP8 target weights (issue 11, docs/targets.md): loadTarget({ quantize: 'fp8' }) on the pycode-small fixture,
// CPU backend. The quantized program equals the interpreter on independently quantized weights (bit for bit);
// the streamed quantizer (the CUDA upload's) gives the same bytes as the host one, in any chunking, through
// at most one block of source rows; the weight map holds only the fp8 forms; teacher-forced top-1 agreement
// with bf16 on the dev prompts is at least what was measured; a bad mode is a clear error (library and CLI).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphParams } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { llamaParam } from '../../../models/llama.ts';
import { loadLlamaCheckpoint, openLlamaCheckpoint } from '../../../runtime/checkpoint/load-llama.ts';
import { quantizeFp8 } from '../../../runtime/quantize-fp8.ts';
import { quantizeTargetProgram, quantizeTargetWeights, streamedFp8, targetFp8WeightNames } from '../../../runtime/target/quantize-target.ts';
import { addRopeTables, targetProgram } from '../../../runtime/target/target-program.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { loadTarget, targetWeights } from '../../../runtime/target/target-model.ts';
import type { StreamedWeight, WeightData } from '../../../runtime/weight-data.ts';
import { top1Agreement } from '../../../bench/target-agreement.ts';
import { runCli } from '../../support/cli.ts';
import { devPrompts, TARGET_DIR } from '../../support/target.ts';

const MAX_LEN = 160;
let bf16: TargetModel, fp8: TargetModel;

beforeAll(async () => {
  bf16 = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: MAX_LEN, maxNumSeqs: 2, quiet: true });
  fp8 = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: MAX_LEN, maxNumSeqs: 2, quiet: true, quantize: 'fp8' });
}, 120_000);
afterAll(() => { bf16?.close(); fp8?.close(); });

const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const names = (c: { numLayers: number; tieWordEmbeddings: boolean }): string[] => targetFp8WeightNames(c);

describe('fp8 target weights', () => {
  it('quantizes every projection (and an untied head) and nothing else', () => {
    expect(names({ numLayers: 1, tieWordEmbeddings: true })).toEqual(Object.values(llamaParam.layer(0)).filter((n) => /proj/.test(n)));
    expect(names({ numLayers: 2, tieWordEmbeddings: false })).toHaveLength(9);
    expect(names({ numLayers: 2, tieWordEmbeddings: false }).at(-1)).toBe(llamaParam.lmHead);
  });

  it('the weight map holds the fp8 forms only: no bf16 copy of a quantized weight, embeddings and norms as loaded', () => {
    const q = targetWeights(fp8), b = targetWeights(bf16);
    expect(q.quantize).toBe('fp8');
    const fp8Names = names(fp8.config);
    expect(fp8Names).toHaveLength(24); // 6 layers × 4 projections; the tied head is the embedding table
    for (const n of fp8Names) {
      expect(q.weights.has(n), n).toBe(false);
      expect(q.weights.get(`${n}.fp8`)?.dtype, n).toBe('fp8e4m3');
      expect(q.weights.get(`${n}.fp8`)?.shape, n).toEqual(b.weights.get(n)!.shape);
      expect(q.weights.get(`${n}.scale`), n).toMatchObject({ dtype: 'f32', shape: [b.weights.get(n)!.shape[0]] });
    }
    // everything else is the same tensor as in the bf16 load
    const rest = [...b.weights.keys()].filter((n) => !fp8Names.includes(n));
    expect(rest).toContain(llamaParam.embed);
    for (const n of rest) expect(q.weights.get(n), n).toEqual(b.weights.get(n));
    expect(q.weights.size).toBe(rest.length + 2 * fp8Names.length);
    // bytes: each quantized weight 1 byte per element plus 4 per row, instead of 2 per element
    const saved = fp8Names.reduce((a, n) => { const [N, K] = b.weights.get(n)!.shape; return a + N * K - 4 * N; }, 0);
    expect(b.bytes - q.bytes).toBe(saved);
    // the program reads exactly the map's weights
    const params = new Set(graphParams(fp8.program.graph).map((x) => x.argOf<string>('name')));
    expect([...params].sort()).toEqual([...q.weights.keys()].sort());
    expect(fp8.deviceDescription).toMatch(/fp8 e4m3 projection weights with per-row f32 scales/);
  });

  it('the CPU backend equals the interpreter on the quantized program with independently quantized weights (bit for bit)', async () => {
    // independent path: the checkpoint's host tensors, quantizeFp8 per weight, the pass-free rewrite
    const loaded = loadLlamaCheckpoint(TARGET_DIR, { quiet: true });
    const weights = new Map<string, HostTensor>(loaded.weights);
    const fp8Names = names(loaded.config);
    for (const n of fp8Names) {
      const q = quantizeFp8(weights.get(n)!, n);
      weights.delete(n);
      weights.set(`${n}.fp8`, q.fp8);
      weights.set(`${n}.scale`, q.scale);
    }
    addRopeTables(weights, loaded.config, MAX_LEN);
    const program = quantizeTargetProgram(targetProgram(loaded.config, loaded.weights, { slots: 2, maxLen: MAX_LEN, head: 'logits' }), fp8Names);
    const prompt = devPrompts()[3].slice(0, 24);
    const caches = Object.fromEntries(program.graph.inputs.filter((x) => x.argOf<string>('name').startsWith('kv_'))
      .map((x) => [x.argOf<string>('name'), hostTensor(x.dtype, x.shape as number[])]));
    const ref = interpret(program.graph, {
      tokens: hostTensor('i32', [prompt.length], Int32Array.from(prompt)), positions: hostTensor('i32', [prompt.length], Int32Array.from(prompt, (_, i) => i)),
      slots: hostTensor('i32', [prompt.length], new Int32Array(prompt.length)), rows: hostTensor('i32', [prompt.length], Int32Array.from(prompt, (_, i) => i)),
      ...caches,
    }, weights);
    const seq = fp8.newSequence('bit-exact check');
    try {
      const [got] = await fp8.forward([{ seq, tokens: prompt, want: 'all' }], { logits: true });
      expect(bytes(got.logits!).equals(bytes(ref.logits.data as Float32Array))).toBe(true);
      expect(bytes(got.hidden).equals(bytes(ref.hidden.data as Float32Array))).toBe(true);
    } finally {
      seq.close();
    }
  }, 60_000);

  it('the streamed quantizer (CUDA upload path) gives the host bytes in any chunking, holding at most one block of source rows', () => {
    const loaded = loadLlamaCheckpoint(TARGET_DIR, { quiet: true });
    const opened = openLlamaCheckpoint(TARGET_DIR, { quiet: true });
    try {
      // every projection weight, read whole and in odd chunks, scale read before and after the codes
      for (const [i, n] of names(loaded.config).entries()) {
        const src = opened.weights.get(n)!;
        let largest = 0;
        const spy: StreamedWeight = { ...src, read(dst, off) { largest = Math.max(largest, dst.byteLength); src.read(dst, off); } };
        const block = 3 * src.shape[1] * 2 + 17; // 3 rows of bf16 per block (and a remainder)
        const s = streamedFp8(spy, n, block);
        const want = quantizeFp8(loaded.weights.get(n)!, n);
        const scaleFirst = i % 2 === 0;
        const readAll = (w: StreamedWeight, chunk: number): Uint8Array => {
          const out = new Uint8Array(w.byteLength);
          for (let at = 0; at < w.byteLength; at += chunk) w.read(out.subarray(at, Math.min(w.byteLength, at + chunk)), at);
          return out;
        };
        const scale1 = scaleFirst ? readAll(s.scale, 4 * 1000 + 4) : null;
        const codes = readAll(s.fp8, [777_777, 1000, 256 * 3 + 5][i % 3]);
        const scale2 = readAll(s.scale, 36);
        expect(Buffer.from(codes).equals(Buffer.from((want.fp8.data as Uint8Array))), n).toBe(true);
        const ws = bytes(want.scale.data as Float32Array);
        expect(Buffer.from(scale2).equals(ws), n).toBe(true);
        if (scale1) expect(Buffer.from(scale1).equals(ws), n).toBe(true);
        expect(largest, n).toBeLessThanOrEqual(3 * src.shape[1] * 2);
      }
      // quantizeTargetWeights on the streamed map: each original replaced by two streamed weights, nothing else touched
      const map = new Map<string, WeightData>(opened.weights);
      const before = new Map(map);
      quantizeTargetWeights(map, names(loaded.config));
      for (const n of names(loaded.config)) {
        expect(map.has(n)).toBe(false);
        expect(map.get(`${n}.fp8`)).toMatchObject({ dtype: 'fp8e4m3', byteLength: before.get(n)!.shape[0] * before.get(n)!.shape[1] });
        expect('data' in map.get(`${n}.fp8`)!).toBe(false);
      }
      expect(map.get(llamaParam.embed)).toBe(before.get(llamaParam.embed));
    } finally {
      opened.close();
    }
  }, 60_000);

  it('teacher-forced top-1 agreement with bf16 on 16 dev prompts (1024 steps) ≥ 93 % (measured 95–96 %)', async () => {
    const r = await top1Agreement(bf16, fp8, devPrompts().slice(0, 16), { chunk: 64 });
    console.log(`fp8 vs bf16, pycode-small, 16 dev prompts teacher-forced: ${(100 * r.agreement).toFixed(1)} % (${r.agreed}/${r.steps}), logits rel. L2 median ${r.logitsRelL2Median.toExponential(2)}`);
    expect(r.steps).toBe(1024);
    expect(r.agreement).toBeGreaterThanOrEqual(0.93);
    // where bf16's top-1 margin is ≥ 0.1 the argmax flips less often
    expect(r.byMargin.find((m) => m.below === 0.1)!.agreementJudged).toBeGreaterThanOrEqual(r.agreement);
    expect(r.logitsRelL2Median).toBeLessThan(0.1);
  }, 120_000);

  it('an unknown mode is a RangeError naming the modes, before anything loads; the CLI exits 2', async () => {
    for (const bad of ['fp8-all', 'int4', '', 8]) {
      await expect(loadTarget({ model: '/nonexistent', device: 'cpu', quantize: bad as never })).rejects.toThrow(/loadTarget: quantize must be one of none, fp8, got/);
    }
    const r = await runCli(['generate', '--model', TARGET_DIR, '--prompt', 'x', '--device', 'cpu', '--quantize', 'fp4']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--quantize/);
    const s = await runCli(['serve', '--model', TARGET_DIR, '--device', 'cpu', '--quantize', 'bf8']);
    expect(s.code).toBe(2);
    expect(s.err).toMatch(/--quantize/);
  }, 60_000);

  it('arcticc generate --quantize fp8 runs the fp8 target', async () => {
    const r = await runCli(['generate', '--model', TARGET_DIR, '--prompt', 'def fib(n):', '--max-new-tokens', '8', '--device', 'cpu', '--max-model-len', '64', '--quantize', 'fp8', '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.outputs[0].token_ids).toHaveLength(8);
    expect(j.metrics.deviceDescription).toMatch(/fp8 e4m3/);
  }, 60_000);
});
