// The linear kernels with a fused x (an rms_norm scale, SiLU(gate)·up) and a residual epilogue
// (docs/fusion.md) at the fixture's shape and at K = 4096 and 7168 (the largest fused linears are
// X_FUSE_MAX_WEIGHTS = 2^22 weights): every GEMV and tensor-core module assembles with ptxas -arch=sm_90
// without register spills, at both maxDims the runtime uses for decode (N ≤ 64) and a bf16 / e4m3 gate/up.
import { expect, it } from 'vitest';
import { compileProgram } from '../../compiler/compile.ts';
import { scheduleGraph } from '../../compiler/schedule/schedule.ts';
import { defineProgram, rmsNorm } from '../../dsl/index.ts';
import type { Module } from './ptxas.ts';
import { assemble } from './ptxas.ts';
import { describePtxas } from './ptxas-env.ts';

const block = (H: number, I: number, wd: 'bf16' | 'fp8e4m3') => defineProgram('fz', { H, I }, (p) => {
  const x = p.input('x', ['N', 'H'], 'f32');
  const h = rmsNorm(x, { eps: 1e-5, weight: p.param('norm', ['H'], 'bf16') });
  const gu = h.linear(p.param('gate_up', [2 * I, 'H'], wd));
  const act = gu.slice(-1, 0, I, 'I').silu().mul(gu.slice(-1, I, 2 * I, 'I'));
  p.output('y', x.add(act.linear(p.param('down', ['H', 'I'], 'bf16'))));
}).graph;

const shapes = [[256, 768], [4096, 512], [256, 7168]] as const;
const modules: Module[] = [];
for (const [H, I] of shapes) for (const wd of ['bf16', 'fp8e4m3'] as const) for (const N of [32, 64]) {
  for (const [k, text] of Object.entries(compileProgram(block(H, I, wd), { maxDims: { N } }).modules)) modules.push({ name: `H=${H} I=${I} ${wd} maxN=${N}/${k}`, text });
}

it('fuses the norm, SiLU·up and the residual at every shape tested', () => {
  for (const [H, I] of shapes) {
    const s = scheduleGraph(block(H, I, 'bf16'));
    expect(s.kernels.map((k) => `${k.kind}:${k.operand?.norms.length ?? '-'}:${k.items.length}`), `H=${H} I=${I}`).toEqual(['linear:1:1', 'linear:0:2']);
  }
});

describePtxas('fused linear modules assemble with ptxas -arch=sm_90', (ptxas) => {
  it(`assembles all ${modules.length} modules with no register spills`, async () => {
    const results = await assemble(ptxas, modules, { batch: 1, jobs: 4 });
    expect(results.filter((x) => !x.ok).map((x) => `${x.name}:\n${x.log}`)).toEqual([]);
    expect(results.filter((x) => /[1-9]\d* bytes spill/.test(x.log)).map((x) => x.name)).toEqual([]);
  }, 300_000);
});
