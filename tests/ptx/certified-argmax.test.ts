// The certified argmax head (lm-head-certify, docs/certified-argmax.md) at the Llama-3.1-8B head shapes (V = 128256
// and 16384, K = 4096), bf16 and fp8-scaled, both maxDims the runtime uses (B = 32, 64): every module (the GEMV
// partials, the one-term tensor-core kernel, the certify reduce, the gated three-term fallback and its reduce)
// assembles with ptxas -arch=sm_90 without register spills.
import { expect, it } from 'vitest';
import { compileProgram } from '../../compiler/compile.ts';
import type { DType } from '../../compiler/ir/dtype.ts';
import { makeGraph } from '../../compiler/ir/graph.ts';
import { Node } from '../../compiler/ir/node.ts';
import { lmHeadArgmax } from '../../compiler/passes/lm-head-argmax.ts';
import { lmHeadCertify } from '../../compiler/passes/lm-head-certify.ts';
import type { Module } from './ptxas.ts';
import { assemble } from './ptxas.ts';
import { describePtxas } from './ptxas-env.ts';

function head(n: number, wd: DType) {
  const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', 4096]);
  let logits = Node.make('linear', [x, Node.make('param', [], { name: 'w' }, wd, [n, 4096])]);
  if (wd === 'fp8e4m3') logits = Node.make('mul', [logits, Node.make('broadcast', [Node.make('param', [], { name: 's' }, 'f32', [n])], { shape: ['B', n] })]);
  return lmHeadCertify(lmHeadArgmax(makeGraph('cert_head', [x], [{ name: 'tok', node: Node.make('argmax', [logits], { axis: 1 }) }])));
}

const modules: Module[] = [];
for (const n of [128256, 16384]) for (const wd of ['bf16', 'fp8e4m3'] as const) for (const B of [32, 64]) {
  const plan = compileProgram(head(n, wd), { maxDims: { B } });
  for (const [key, text] of Object.entries(plan.modules)) modules.push({ name: `N=${n} ${wd} maxB=${B}/${key}`, text });
}

it('every plan has the certified launches after the GEMV variant', () => {
  for (const wd of ['bf16', 'fp8e4m3'] as const) {
    const plan = compileProgram(head(128256, wd), { maxDims: { B: 64 } });
    expect(plan.launches.map((l) => l.kernel.replace(/^cert_head_/, '').replace(/\d+$/, ''))).toEqual(['linear_argmax', 'argmax_reduce', 'linear_tc_cert', 'cert_reduce', 'linear_tc_argmax', 'argmax_reduce']);
  }
});

describePtxas('certified argmax modules assemble with ptxas -arch=sm_90', (ptxas) => {
  it(`assembles all ${modules.length} modules with no register spills`, async () => {
    const results = await assemble(ptxas, modules, { batch: 1, jobs: 4, verbose: true });
    expect(results.filter((r) => !r.ok).map((r) => `${r.name}:\n${r.log}`)).toEqual([]);
    expect(results.filter((r) => /[1-9]\d* bytes spill/.test(r.log)).map((r) => r.name)).toEqual([]);
  }, 300_000);
});
