// FP8 weights on the GPU: with the same quantized weights (quantize is deterministic), the CUDA backend
// proposes exactly the drafts of the CPU reference interpreter, in one batch and one request at a time.
import { it } from 'vitest';
import { FIXTURES } from '../support/fixtures.ts';
import { expectCudaDraftsEqualCpu } from './cuda-vs-cpu.ts';
import { describeGpuCompiled } from './gpu-env.ts';

describeGpuCompiled('fp8 weights on CUDA', () => {
  for (const mode of ['fp8-head', 'fp8-all'] as const) {
    for (const name of FIXTURES) {
      it(`${name} ${mode}: CUDA drafts equal the CPU interpreter's`, () => expectCudaDraftsEqualCpu(name, { quantize: mode }, /fp8 e4m3/));
    }
  }
});
