// bf16 activations on the GPU (loadSpeculator({ activations: 'bf16' }): the bf16-activations pass): the CUDA
// backend proposes exactly the CPU interpreter's drafts for every fixture, bf16 and fp8 heads, in one batch
// (24 rows: the one-term tensor-core linears) and one request at a time (the GEMVs).
import { expect, it } from 'vitest';
import { loadSpeculator } from '../../index.ts';
import { FIXTURES, fixtureBatch, fixtureDir, rows } from '../support/fixtures.ts';
import { describeGpuCompiled } from './gpu-env.ts';

describeGpuCompiled('bf16 activations on CUDA', () => {
  for (const quantize of ['none', 'fp8-head'] as const) {
    for (const name of FIXTURES) {
      it(`${name}, quantize ${quantize}: CUDA drafts equal the CPU interpreter's`, async () => {
        const cpu = await loadSpeculator({ model: fixtureDir(name), device: 'cpu', quantize, activations: 'bf16' });
        const gpu = await loadSpeculator({ model: fixtureDir(name), device: 'cuda', quantize, activations: 'bf16' });
        try {
          expect(gpu.deviceDescription).toMatch(/bf16 activations/);
          const { hidden, tokens } = fixtureBatch(name);
          const k = cpu.numSpeculativeTokens;
          const want = rows(await cpu.propose({ hidden, tokens }), k);
          expect(rows(await gpu.propose({ hidden, tokens }), k)).toEqual(want);
          const H = gpu.hiddenSize;
          for (let r = 0; r < 3; r++) {
            const one = await gpu.propose({ hidden: hidden.slice(r * H, (r + 1) * H), tokens: tokens.slice(r, r + 1) });
            expect(Array.from(one)).toEqual(want[r]);
          }
        } finally {
          cpu.close();
          gpu.close();
        }
      });
    }
  }
});
