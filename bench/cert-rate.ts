// How often the certified argmax head (docs/certified-argmax.md) certifies a row, on a real speculator and real
// hidden states (CPU only): the fixture pycode-small-lstm on the 16 dev prompts' final hidden states
// (tests/fixtures/target/data/reference-dev.json; tokens = the target's first greedy token), every head's input x
// taken from the interpreter. Per row: the one-term logits (x rounded to bf16 RN, or two terms; float64 sums, so the
// tensor cores' own rounding is left out), the kernel's certificate a − c > 2E + 2^-20(|a| + |c|) with
// E = Ŵ(‖x − x̂‖ + K·2^-22(‖x̂‖ + ‖x − x̂‖)), for C = 4 and 8 candidates, with the shipped Ŵ = max_n |s_n|‖w_n‖ and with
// per-column norms (not implemented in the kernel), bf16 and fp8 (quantizeFp8) heads. Small model (K = 256,
// V = 4096): the rate at the 8B shapes is for the GPU to measure.
//   node bench/cert-rate.ts [--model DIR]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { graphNodes, makeGraph } from '../compiler/ir/graph.ts';
import { interpret } from '../compiler/ir/interp.ts';
import { bf16ToF32, f32ToBf16 } from '../compiler/ir/numerics.ts';
import type { Node } from '../compiler/ir/node.ts';
import { hostTensor, reader } from '../compiler/ir/tensor-data.ts';
import { loadCheckpoint } from '../runtime/checkpoint/index.ts';
import { quantizeFp8 } from '../runtime/quantize-fp8.ts';
import { programFor } from '../runtime/speculator-program.ts';

const { values: args } = parseArgs({ options: { model: { type: 'string', default: 'tests/fixtures/target/pycode-small-lstm' } } });
const ckpt = loadCheckpoint(args.model!, { quiet: true });
const g = programFor(ckpt.config, ckpt.weights).graph;
const ref = JSON.parse(readFileSync('tests/fixtures/target/data/reference-dev.json', 'utf8')) as { cases: { final_hidden_last: number[]; greedy_fp32: number[] }[] };
const B = ref.cases.length, H = ref.cases[0].final_hidden_last.length;
const hidden = hostTensor('f32', [B, H], Float32Array.from(ref.cases.flatMap((c) => c.final_hidden_last)));
const tokens = hostTensor('i32', [B], Int32Array.from(ref.cases.map((c) => c.greedy_fp32[0])));
/** each argmax's linear (through the fp8 head's mul, if any) */
const heads = graphNodes(g).filter((n) => n.op === 'argmax').map((a) => {
  let l: Node = a.src[0];
  while (l.op !== 'linear') l = l.src.find((s) => s.op === 'linear' || s.op === 'mul') ?? l.src[0];
  return l;
});
const xs = interpret(makeGraph('xs', g.inputs, heads.map((l, i) => ({ name: `x${i}`, node: l.src[0] }))), { hidden, tokens }, ckpt.weights);

for (const mode of ['bf16', 'fp8'] as const) {
  let rows = 0;
  const tally = new Map<string, number>();
  const count = (key: string, ok: boolean): void => { tally.set(key, (tally.get(key) ?? 0) + (ok ? 1 : 0)); };
  heads.forEach((l, hi) => {
    const name = l.src[1].argOf<string>('name'), wt = ckpt.weights.get(name)!;
    const [N, K] = wt.shape as number[];
    let rw = reader(wt), rs = (_: number): number => 1;
    if (mode === 'fp8') { const q = quantizeFp8(wt, name); rw = reader(q.fp8); const r = reader(q.scale); rs = (n) => r(n); }
    const W = Float64Array.from({ length: N * K }, (_, i) => rw(i)), S = Float64Array.from({ length: N }, (_, n) => rs(n));
    const wcol = Float64Array.from({ length: N }, (_, n) => { let q = 0; for (let k = 0; k < K; k++) q += W[n * K + k] ** 2; return Math.sqrt(q) * Math.abs(S[n]); });
    const wmax = Math.max(...wcol);
    const x = xs[`x${hi}`].data as Float32Array;
    for (let b = 0; b < B; b++) {
      rows++;
      for (const terms of [1, 2]) {
        let se = 0, sh = 0;
        const xh = new Float64Array(K);
        for (let k = 0; k < K; k++) {
          const v = x[b * K + k];
          let h = bf16ToF32(f32ToBf16(v));
          if (terms === 2) h += bf16ToF32(f32ToBf16(Math.fround(v - h)));
          xh[k] = h; se += (v - h) ** 2; sh += h * h;
        }
        const z: [number, number][] = [];
        for (let n = 0; n < N; n++) { let a = 0; for (let k = 0; k < K; k++) a += xh[k] * W[n * K + k]; z.push([a * S[n], n]); }
        z.sort((p, q) => q[0] - p[0]);
        const ex = Math.sqrt(se) + K * 2 ** -22 * (Math.sqrt(sh) + Math.sqrt(se));
        for (const C of [4, 8]) {
          const a = z[0][0], c = z[C][0], rel = 2 ** -20 * (Math.abs(a) + Math.abs(c));
          count(`${terms} term${terms > 1 ? 's' : ''}, C = ${C}, Ŵ = max`, a - c > 2 * wmax * ex + rel);
          let hi2 = -Infinity;
          for (let r = C; r < N; r++) hi2 = Math.max(hi2, z[r][0] + wcol[z[r][1]] * ex);
          count(`${terms} term${terms > 1 ? 's' : ''}, C = ${C}, per-column`, a - wcol[z[0][1]] * ex - hi2 > rel);
        }
      }
    }
  });
  console.log(`${mode} head, ${rows} rows (${heads.length} heads × ${B} prompts): rows certified`);
  for (const [k, v] of tally) console.log(`  ${k.padEnd(32)} ${v}/${rows}`);
}
