// One compile path: the artifact `arcticc compile` writes is the plan loadSpeculator's CUDA backend runs
// (same passes, maxDims, PTX, launches, buffers, arena, irHash), for every fixture and quantize mode.
// The CUDA backend is stubbed at createCudaBackend (the plan it is handed is captured), and device
// selection answers 'cuda', so this runs without a GPU. bench/gpu-bench.ts calls compileSpeculator too.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { readArtifact, writeArtifact } from '../../../compiler/artifact.ts';
import type { ExecutionPlan } from '../../../compiler/codegen/plan.ts';
import { loadSpeculator } from '../../../runtime/speculator.ts';
import { compileSpeculator, speculatorPipeline } from '../../../runtime/compile-speculator.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { runCli } from '../../support/cli.ts';
import { fixtureDir } from '../../support/fixtures.ts';
import { rng } from '../../support/random-graph.ts';
import { graphNodes, graphParams } from '../../../compiler/ir/graph.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor, writer } from '../../../compiler/ir/tensor-data.ts';
import type { GateDerivation } from '../../../compiler/passes/gate-fusion.ts';
import { lstmGatesDrafter } from '../../../examples/drafters/lstm-gates-drafter.ts';
import { safetensorsEntry, writeSafetensors } from '../../../runtime/checkpoint/safetensors-write.ts';
import { buildGateWeight } from '../../../runtime/gate-weights.ts';

const captured: ExecutionPlan[] = [];
const capturedWeights: Map<string, HostTensor>[] = [];
vi.mock('../../../runtime/select-device.ts', () => ({ selectDevice: async () => ({ device: 'cuda' }) }));
vi.mock('../../../runtime/cuda/index.ts', () => ({
  createCudaBackend: (plan: ExecutionPlan, weights: Map<string, HostTensor>) => {
    captured.push(plan);
    capturedWeights.push(weights);
    return { device: 'cuda', description: 'stub', propose: async () => new Int32Array(), close: () => {} };
  },
}));

const tmp = mkdtempSync(join(tmpdir(), 'arcticc-one-path-'));
/** the plan as the artifact stores it (JSON round trip: what readArtifact gives back) */
const plain = (p: ExecutionPlan): unknown => JSON.parse(JSON.stringify(p));

describe('one compile path', () => {
  it.each([
    ['lstm-wide-input', 'lstm', 'none', 64, 'f32'], ['lstm-wide-input', 'lstm', 'fp8-head', 32, 'f32'], ['lstm-tiny', 'lstm', 'fp8-all', 8, 'f32'],
    ['mlp-tied', 'mlp', 'none', 64, 'f32'], ['mlp-untied', 'mlp', 'fp8-head', 16, 'f32'],
    ['lstm-wide-input', 'lstm', 'none', 64, 'bf16'], ['mlp-tied', 'mlp', 'fp8-head', 64, 'bf16'],
  ] as const)('%s (%s, quantize %s, max batch %i, activations %s): arcticc compile = loadSpeculator on CUDA', async (fixture, kind, quantize, maxBatch, activations) => {
    const out = join(tmp, `${fixture}-${quantize}-${maxBatch}-${activations}`);
    const r = await runCli(['compile', kind, '--model', fixtureDir(fixture), '--out', out, '--quantize', quantize, '--max-batch', String(maxBatch), '--activations', activations, '--json']);
    expect(r.code, r.err).toBe(0);
    const artifact = readArtifact(out);
    // bf16: the bf16-activations pass ran (its casts to bf16 are in the artifact's IR); f32: there are none
    const casts = readFileSync(join(out, 'graph.air'), 'utf8').split('\n').filter((l) => /= cast .* : bf16\[/.test(l)).length;
    if (activations === 'bf16') expect(casts).toBeGreaterThan(0);
    else expect(casts).toBe(0);
    captured.length = 0;
    const spec = await loadSpeculator({ model: fixtureDir(fixture), device: 'cuda', quantize, maxBatch, activations });
    spec.close();
    expect(captured.length).toBe(1);
    expect(plain(captured[0])).toEqual(plain(artifact));
  });

  it('a DSL drafter with separate gates: arcticc compile = loadSpeculator on CUDA, fused weights built from gate-weights.json\'s derivation', async () => {
    const dir = join(tmp, 'lstm-gates-ckpt'), out = join(tmp, 'lstm-gates-out');
    mkdirSync(dir, { recursive: true });
    const file = 'examples/drafters/lstm-gates-drafter.ts';
    const traced = lstmGatesDrafter().graph;
    const r0 = rng(3);
    const weights = new Map(graphParams(traced).map((p) => {
      const t = hostTensor(p.dtype, p.shape as number[]);
      const w = writer(t);
      for (let i = 0; i < t.data.length; i++) w(i, r0.next() - 0.5);
      return [p.argOf<string>('name'), t] as const;
    }));
    writeSafetensors(join(dir, 'model.safetensors'), [...weights].map(([n, t]) => safetensorsEntry(n, t)));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ hidden_size: 64, width: 32, vocab_size: 256, n_predict: 4 }));
    const r = await runCli(['compile', file, '--model', dir, '--out', out, '--max-batch', '16', '--json']);
    expect(r.code, r.err).toBe(0);
    const artifact = readArtifact(out);
    captured.length = 0; capturedWeights.length = 0;
    const spec = await loadSpeculator({ model: dir, program: file, device: 'cuda', maxBatch: 16 });
    spec.close();
    expect(plain(captured[0])).toEqual(plain(artifact));
    const bound = capturedWeights[0];
    const params = artifact.buffers.filter((b) => b.kind === 'param').map((b) => b.name!).sort();
    expect([...bound.keys()].sort()).toEqual(params); // exactly the plan's params: the per-gate copies are gone
    const derived = JSON.parse(readFileSync(join(out, 'gate-weights.json'), 'utf8')) as GateDerivation[];
    expect(derived).toHaveLength(2);
    for (const d of derived) expect(bound.get(d.name)).toEqual(buildGateWeight(d, weights));
  });

  it('--dump-after lm-head-argmax shows the head argmax epilogues (one per draft step)', async () => {
    const r = await runCli(['compile', 'lstm', '--model', fixtureDir('lstm-tiny'), '--out', join(tmp, 'dump'), '--quantize', 'fp8-head', '--dump-after', 'lm-head-argmax', '--json']);
    expect(r.code, r.err).toBe(0);
    const dumps = JSON.parse(r.out).dumps as { pass: string; ir: string }[];
    expect(dumps.map((d) => d.pass)).toEqual(['lm-head-argmax']);
    expect(dumps[0].ir.match(/argmax %\d+ \{axis = 1, epilogue = "linear"\}/g)?.length).toBe(3);
  });

  it('the pipeline is gate-fusion, the CLI default (canonicalize), fp8-matmul when quantizing, then lm-head-argmax and lm-head-topk', () => {
    expect(speculatorPipeline('none', false)).toEqual(['gate-fusion', 'canonicalize', 'lm-head-argmax', 'lm-head-topk']);
    expect(speculatorPipeline('fp8-head', false)).toEqual(['gate-fusion', 'canonicalize', { pass: 'fp8-matmul', options: { weights: 'head', minRows: 0 } }, 'lm-head-argmax', 'lm-head-topk']);
    // the certified argmax head (opt-in: certifiedArgmax or ARCTICC_CERTIFIED_ARGMAX=1) adds lm-head-certify last
    expect(speculatorPipeline('none', true)).toEqual(['gate-fusion', 'canonicalize', 'lm-head-argmax', 'lm-head-topk', 'lm-head-certify']);
  });

  it('certifiedArgmax: the heads are certified, the plan derives each head\'s Ŵ and the artifact keeps the derivations', () => {
    const traced = lstmSpeculator({ hiddenSize: 64, width: 64, vocabSize: 512, nPredict: 3, scaleInput: true }).graph;
    for (const quantize of ['none', 'fp8-head'] as const) {
      const { graph, plan } = compileSpeculator(traced, { maxBatch: 64, quantize, certifiedArgmax: true });
      expect(graphNodes(graph).filter((n) => n.arg?.epilogue === 'certified').length).toBe(3); // one head per draft step
      expect(plan.launches.filter((l) => l.kernel.includes('cert_reduce')).length).toBe(3);
      expect(plan.derived?.length).toBe(1); // the LSTM's steps share one head weight: one Ŵ
      expect(plan.derived!.every((d) => d.name === `${d.weight}.certnorm` && (quantize === 'none') === (d.scale === undefined))).toBe(true);
      const dir = mkdtempSync(join(tmpdir(), 'arcticc-cert-'));
      writeArtifact(dir, plan);
      expect(readArtifact(dir).derived).toEqual(plan.derived);
      expect(compileSpeculator(traced, { maxBatch: 64, quantize, certifiedArgmax: false }).plan.derived).toBeUndefined();
    }
  });
});
