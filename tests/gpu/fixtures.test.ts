// All five fixture checkpoints, compiled to PTX and run on the GPU through the CUDA backend, reproduce
// cases.json `expected` exactly at batch sizes 1, 3, 16 and 64 (cases replicated), and a captured graph
// replay gives the same tokens as eager launches.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import type { Backend } from '../../runtime/backend.ts';
import { createCudaBackend } from '../../runtime/cuda/backend.ts';
import { openDevice } from '../../runtime/cuda/device.ts';
import { PlanExecutor } from '../../runtime/cuda/executor.ts';
import type { CompiledFixture } from './fixtures-helpers.ts';
import { batchOf, compileFixture, FIXTURES } from './fixtures-helpers.ts';
import { describeGpuCompiled, freshSeed, rng } from './gpu-env.ts';

const MAX_B = 64;

describeGpuCompiled('speculator fixtures on the GPU', () => {
  for (const name of FIXTURES) {
    describe(name, () => {
      let f: CompiledFixture;
      let be: Backend;
      beforeAll(async () => {
        f = await compileFixture(name, MAX_B);
        be = createCudaBackend(f.plan, f.weights);
      });
      afterAll(() => { be?.close(); });

      for (const B of [1, 3, 16, 64]) {
        it(`B=${B}: every row reproduces expected`, async () => {
          for (let start = 0; start < (B === 1 ? f.cases.length : 2); start++) {
            const b = batchOf(f, B, start * 7);
            const got = await be.propose({ hidden: b.hidden, tokens: b.tokens, batch: B });
            expect([...got], `${name} B=${B} from case ${start * 7}`).toEqual([...b.expected]);
          }
        });
      }

      it('a batch above maxDims.B runs in chunks and still matches', async () => {
        const b = batchOf(f, 100, 5);
        expect([...await be.propose({ hidden: b.hidden, tokens: b.tokens, batch: 100 })]).toEqual([...b.expected]);
      });

      it('graph replay equals eager launches on random inputs', () => {
        const dev = openDevice();
        const ex = new PlanExecutor(dev, f.plan, f.weights);
        try {
          const rand = rng(freshSeed());
          for (const B of [5, 33]) {
            const H = f.config.hiddenSize;
            const inputs = {
              hidden: hostTensor('f32', [B, H], Float32Array.from({ length: B * H }, () => (rand() - 0.5) * 8)),
              tokens: hostTensor('i32', [B], Int32Array.from({ length: B }, () => Math.floor(rand() * f.config.vocabSize))),
            };
            ex.poisonOutputs();
            const eager = ex.run(inputs, { graph: false }).draft.data;
            ex.poisonOutputs();
            const graph = ex.run(inputs, { graph: true }).draft.data;
            ex.poisonOutputs();
            const replay = ex.run(inputs, { graph: true }).draft.data;
            expect([...graph]).toEqual([...eager]);
            expect([...replay]).toEqual([...eager]);
          }
        } finally {
          ex.close();
          dev.release();
        }
      });
    });
  }
});
