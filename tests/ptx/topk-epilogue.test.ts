// The fused top-k epilogue (lm-head-topk) at Llama-3.1-8B head shapes (V = 128256 and 16384, K = 4096), bf16 and
// fp8-scaled heads (and f32, GEMV only), k = 1, 4, 8, both maxDims the runtime uses: every module assembles with ptxas -arch=sm_90
// without register spills (the GEMV and tensor-core partials kernels and the top-k reduce).
import { expect, it } from 'vitest';
import { compileProgram } from '../../compiler/compile.ts';
import type { DType } from '../../compiler/ir/dtype.ts';
import { makeGraph } from '../../compiler/ir/graph.ts';
import { Node } from '../../compiler/ir/node.ts';
import type { Module } from './ptxas.ts';
import { assemble } from './ptxas.ts';
import { describePtxas } from './ptxas-env.ts';

function head(n: number, k: number, wd: DType) {
  const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', 4096]);
  let logits = Node.make('linear', [x, Node.make('param', [], { name: 'w' }, wd, [n, 4096])]);
  if (wd === 'fp8e4m3') logits = Node.make('mul', [logits, Node.make('broadcast', [Node.make('param', [], { name: 's' }, 'f32', [n])], { shape: ['B', n] })]);
  return makeGraph('topk_head', [x], [
    { name: 'vals', node: Node.make('topk_values', [logits], { k }) },
    { name: 'ids', node: Node.make('topk_indices', [logits], { k }) },
  ]);
}

const modules: Module[] = [];
for (const n of [128256, 16384]) for (const wd of ['bf16', 'fp8e4m3', 'f32'] as const) for (const k of [1, 4, 8]) for (const B of [32, 64]) {
  const plan = compileProgram(head(n, k, wd), { maxDims: { B } });
  for (const [key, text] of Object.entries(plan.modules)) modules.push({ name: `N=${n} ${wd} k=${k} maxB=${B}/${key}`, text });
}

it('every plan fuses the top-k (a top-k reduce after the GEMV, one after both tensor-core kernels: ≤ 32 rows per pass and 64)', () => {
  expect(modules.filter((m) => m.text.includes('.entry')).length).toBeGreaterThan(0);
  for (const n of [128256, 16384]) {
    const plan = compileProgram(head(n, 8, 'bf16'), { maxDims: { B: 64 } });
    expect(plan.launches.map((l) => l.kernel.replace(/^topk_head_/, '').replace(/\d+$/, ''))).toEqual(['linear_topk', 'topk_reduce', 'linear_tc_topk', 'linear_tc_topk', 'topk_reduce']);
  }
});

describePtxas('top-k epilogue modules assemble with ptxas -arch=sm_90', (ptxas) => {
  it(`assembles all ${modules.length} modules with no register spills`, async () => {
    const results = await assemble(ptxas, modules, { batch: 1, jobs: 4, verbose: true });
    expect(results.filter((r) => !r.ok).map((r) => `${r.name}:\n${r.log}`)).toEqual([]);
    expect(results.filter((r) => /[1-9]\d* bytes spill/.test(r.log)).map((r) => r.name)).toEqual([]);
  }, 300_000);
});
