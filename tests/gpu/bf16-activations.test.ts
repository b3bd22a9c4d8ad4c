// bf16 activations on the GPU (loadSpeculator({ activations: 'bf16' }): the bf16-activations pass): the CUDA
// backend proposes exactly the CPU interpreter's drafts for every fixture, bf16 and fp8 heads, in one batch
// (24 rows: the one-term tensor-core linears) and one request at a time (the GEMVs).
import { it } from 'vitest';
import { FIXTURES } from '../support/fixtures.ts';
import { expectCudaDraftsEqualCpu } from './cuda-vs-cpu.ts';
import { describeGpuCompiled } from './gpu-env.ts';

describeGpuCompiled('bf16 activations on CUDA', () => {
  for (const quantize of ['none', 'fp8-head'] as const) {
    for (const name of FIXTURES) {
      it(`${name}, quantize ${quantize}: CUDA drafts equal the CPU interpreter's`, () => expectCudaDraftsEqualCpu(name, { quantize, activations: 'bf16' }, /bf16 activations/));
    }
  }
});
