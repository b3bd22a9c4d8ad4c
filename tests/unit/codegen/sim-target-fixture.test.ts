// The real pycode-small checkpoint (tests/fixtures/target) compiled to PTX and run on the PTX machine
// against the interpreter: a prefill of two prompts in slots 1 and 0 with a padding row, then a decode
// step of both reading the caches the first step left in the state buffers; with the one-launch
// attention kernel and with the split over positions (small chunks).
import { expect, it } from 'vitest';
import { compileProgram } from '../../../compiler/compile.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { loadLlamaCheckpoint } from '../../../runtime/checkpoint/load-llama.ts';
import { addRopeTables, targetProgram } from '../../../runtime/target/target-program.ts';
import { referenceCases, TARGET_DIR } from '../../support/target.ts';
import { mismatches } from './ptx-sim/compare.ts';
import { runPlanSim } from './ptx-sim/run-plan.ts';

// the one-launch attention kernel (maxLen 32 is within one chunk of the default rule), then the split over
// positions with chunks of 2 (16 chunks; the decode rows at positions 4 and 3 end mid-chunk and at a chunk's end)
it.each([['one-launch attention', undefined], ['attention split in chunks of 2', 2]] as const)('pycode-small (%s): prefill of 2 prompts and a decode step match the interpreter on the PTX machine', (_, chunk) => {
  const { config, weights } = loadLlamaCheckpoint(TARGET_DIR, { quiet: true });
  const maxLen = 32;
  addRopeTables(weights, config, maxLen);
  const g = targetProgram(config, weights, { slots: 2, maxLen, head: 'logits' }).graph;
  const plan = compileProgram(g, { maxDims: { N: 16, M: 4 }, ...(chunk ? { attention: { chunk } } : {}) });
  expect(plan.launches.some((l) => /attention_combine/.test(l.kernel))).toBe(chunk !== undefined);
  const [a, b] = referenceCases().map((c) => c.prompt.slice(0, 4));
  const i32 = (x: number[]): HostTensor => hostTensor('i32', [x.length], Int32Array.from(x));
  const steps = [
    { tokens: [...a, ...b.slice(0, 3), 0], positions: [0, 1, 2, 3, 0, 1, 2, -1], slots: [1, 1, 1, 1, 0, 0, 0, 0], rows: [3, 6] },
    { tokens: [7, b[3]], positions: [4, 3], slots: [1, 0], rows: [0, 1] },
  ];
  let want: Record<string, HostTensor> = Object.fromEntries(g.inputs.filter((n) => n.argOf<string>('name').startsWith('kv_'))
    .map((n) => [n.argOf<string>('name'), hostTensor(n.dtype, n.shape as number[])]));
  let got: Record<string, HostTensor> = Object.fromEntries(Object.entries(want).map(([k, t]) => [k, hostTensor(t.dtype, t.shape)]));
  const caches = (x: Record<string, HostTensor>): Record<string, HostTensor> =>
    Object.fromEntries(Object.entries(x).filter(([k]) => k.endsWith('_out')).map(([k, t]) => [k.slice(0, -4), t]));
  for (const s of steps) {
    const rows = { tokens: i32(s.tokens), positions: i32(s.positions), slots: i32(s.slots), rows: i32(s.rows) };
    const w = interpret(g, { ...rows, ...want }, weights, { inPlace: true });
    const o = runPlanSim(plan, { ...rows, ...got }, weights);
    for (const name of ['hidden', 'logits']) expect(mismatches(o[name], w[name], 1e-4), name).toEqual([]);
    for (const [k, t] of Object.entries(caches(w))) expect(mismatches(caches(o)[k], t, 1e-5), k).toEqual([]);
    want = { ...want, ...caches(w) };
    got = { ...got, ...caches(o) };
  }
}, 300_000);
