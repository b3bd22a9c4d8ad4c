// FP8 weights on the GPU: with the same quantized weights (quantize is deterministic), the CUDA backend
// proposes exactly the drafts of the CPU reference interpreter, in one batch and one request at a time.
import { expect, it } from 'vitest';
import { loadSpeculator } from '../../index.ts';
import { FIXTURES, fixtureBatch, fixtureDir, rows } from '../support/fixtures.ts';
import { describeGpuCompiled } from './gpu-env.ts';

describeGpuCompiled('fp8 weights on CUDA', () => {
  for (const mode of ['fp8-head', 'fp8-all'] as const) {
    for (const name of FIXTURES) {
      it(`${name} ${mode}: CUDA drafts equal the CPU interpreter's`, async () => {
        const cpu = await loadSpeculator({ model: fixtureDir(name), device: 'cpu', quantize: mode });
        const gpu = await loadSpeculator({ model: fixtureDir(name), device: 'cuda', quantize: mode });
        try {
          expect(gpu.deviceDescription).toMatch(/fp8 e4m3/);
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
