// One compile path: the artifact `arcticc compile` writes is the plan loadSpeculator's CUDA backend runs
// (same passes, maxDims, PTX, launches, buffers, arena, irHash), for every fixture and quantize mode.
// The CUDA backend is stubbed at createCudaBackend (the plan it is handed is captured), and device
// selection answers 'cuda', so this runs without a GPU. bench/gpu-bench.ts calls compileSpeculator too.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { readArtifact } from '../../../compiler/artifact.ts';
import type { ExecutionPlan } from '../../../compiler/codegen/plan.ts';
import { loadSpeculator } from '../../../runtime/speculator.ts';
import { speculatorPipeline } from '../../../runtime/compile-speculator.ts';
import { runCli } from '../../support/cli.ts';
import { fixtureDir } from '../../support/fixtures.ts';

const captured: ExecutionPlan[] = [];
vi.mock('../../../runtime/select-device.ts', () => ({ selectDevice: async () => ({ device: 'cuda' }) }));
vi.mock('../../../runtime/cuda/index.ts', () => ({
  createCudaBackend: (plan: ExecutionPlan) => {
    captured.push(plan);
    return { device: 'cuda', description: 'stub', propose: async () => new Int32Array(), close: () => {} };
  },
}));

const tmp = mkdtempSync(join(tmpdir(), 'arcticc-one-path-'));
/** the plan as the artifact stores it (JSON round trip: what readArtifact gives back) */
const plain = (p: ExecutionPlan): unknown => JSON.parse(JSON.stringify(p));

describe('one compile path', () => {
  it.each([
    ['lstm-wide-input', 'lstm', 'none', 64], ['lstm-wide-input', 'lstm', 'fp8-head', 32], ['lstm-tiny', 'lstm', 'fp8-all', 8],
    ['mlp-tied', 'mlp', 'none', 64], ['mlp-untied', 'mlp', 'fp8-head', 16],
  ] as const)('%s (%s, quantize %s, max batch %i): arcticc compile = loadSpeculator on CUDA', async (fixture, kind, quantize, maxBatch) => {
    const out = join(tmp, `${fixture}-${quantize}-${maxBatch}`);
    const r = await runCli(['compile', kind, '--model', fixtureDir(fixture), '--out', out, '--quantize', quantize, '--max-batch', String(maxBatch), '--json']);
    expect(r.code, r.err).toBe(0);
    const artifact = readArtifact(out);
    captured.length = 0;
    const spec = await loadSpeculator({ model: fixtureDir(fixture), device: 'cuda', quantize, maxBatch });
    spec.close();
    expect(captured.length).toBe(1);
    expect(plain(captured[0])).toEqual(plain(artifact));
  });

  it('--dump-after lm-head-argmax shows the head argmax epilogues (one per draft step)', async () => {
    const r = await runCli(['compile', 'lstm', '--model', fixtureDir('lstm-tiny'), '--out', join(tmp, 'dump'), '--quantize', 'fp8-head', '--dump-after', 'lm-head-argmax', '--json']);
    expect(r.code, r.err).toBe(0);
    const dumps = JSON.parse(r.out).dumps as { pass: string; ir: string }[];
    expect(dumps.map((d) => d.pass)).toEqual(['lm-head-argmax']);
    expect(dumps[0].ir.match(/argmax %\d+ \{axis = 1, epilogue = "linear"\}/g)?.length).toBe(3);
  });

  it('the pipeline is gate-fusion, the CLI default (canonicalize), fp8-matmul when quantizing, then lm-head-argmax and lm-head-topk', () => {
    expect(speculatorPipeline('none')).toEqual(['gate-fusion', 'canonicalize', 'lm-head-argmax', 'lm-head-topk']);
    expect(speculatorPipeline('fp8-head')).toEqual(['gate-fusion', 'canonicalize', { pass: 'fp8-matmul', options: { weights: 'head', minRows: 0 } }, 'lm-head-argmax', 'lm-head-topk']);
  });
});
