// The linears the benchmark times, at the Llama-3.1-8B speculator shapes (K = 4096; N = 128256: the LM
// head, N = 16384: the LSTM's four-gate projection), on the GPU against the reference interpreter on the
// same random weights: bf16 and fp8 e4m3 (+ per-column f32 scale, as fp8-matmul writes a head), the
// logits stored and the fused argmax (no logits buffer), compiled for maxDims.B = 32 (what
// bench/gpu-bench.ts compiles: the fp8 128-wide k trip) and 64 (ArcticInference's largest bucket: the
// 64-wide trip), run at B = 1, 3, 4, 5, 32, 64: the GEMV (B ≤ 4) with 4 columns per warp at 128256 and 2
// at 16384, the tensor-core kernel (B ≥ 5; a fused e4m3 head from B = 4, FP8_HEAD_TC_MIN_ROWS) with the
// [8,2] block at 128256 and [4,1] at 16384 (the same
// rules on the simulator: tests/unit/codegen/sim-variants.test.ts). Outputs are
// poisoned before each run. Tokens must equal the interpreter's exactly; stored logits within the f32
// dot-product bound 2·K·2^-24·max|x_m|·Σ_k|w_nk|·|s_n|. One reference per (N, dtype) at 64 rows: batch B
// runs the first B of them (rows are independent). Deterministic seed: a pass is reproducible.
// The certified head (lm-head-certify, docs/certified-argmax.md: one bf16 term of x, an error bound, the exact
// recompute of 8 candidates, the three-term fallback for rows that fail) on the same data: tokens equal the
// interpreter's at every batch. Rows 2 and 3 are planted near ties: row 2 has two columns whose logits differ
// by far less than the one-term bound (so both are candidates and the recompute decides), row 3 has ten (more
// than the 8 candidates: the certificate fails and the fallback decides); their gaps are ≫ the actual f32
// accumulation error, so the exact paths agree with the interpreter.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ExecutionPlan } from '../../compiler/codegen/plan.ts';
import type { Graph } from '../../compiler/ir/graph.ts';
import { makeGraph } from '../../compiler/ir/graph.ts';
import { Node } from '../../compiler/ir/node.ts';
import { bf16ToF32, f32ToBf16, f32ToFp8e4m3, fp8e4m3ToF32 } from '../../compiler/ir/numerics.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import type { CudaDevice } from '../../runtime/cuda/device.ts';
import { openDevice } from '../../runtime/cuda/device.ts';
import { PlanExecutor } from '../../runtime/cuda/executor.ts';
import { InterpreterPool } from '../../bench/interp-pool.ts';
import { describeGpuCompiled, rng } from './gpu-env.ts';

const K = 4096;
const ROWS = 64;
const BATCHES = [1, 3, 4, 5, 32, 64];
const SEED = 0x8b;

type WD = 'bf16' | 'fp8e4m3';

function graphs(n: number, wd: WD): { stored: Graph; argmax: Graph; both: Graph } {
  const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', K]);
  const w = Node.make('param', [], { name: 'w' }, wd, [n, K]);
  let logits = Node.make('linear', [x, w]);
  if (wd === 'fp8e4m3') {
    const scale = Node.make('param', [], { name: 'scale' }, 'f32', [n]);
    logits = Node.make('mul', [logits, Node.make('broadcast', [scale], { shape: ['B', n] })]);
  }
  const tok = Node.make('argmax', [logits], { axis: 1 });
  return {
    stored: makeGraph('lin8b', [x], [{ name: 'y', node: logits }]),
    argmax: makeGraph('lin8b', [x], [{ name: 'tok', node: tok }]),
    both: makeGraph('lin8b', [x], [{ name: 'y', node: logits }, { name: 'tok', node: tok }]),
  };
}

/** Row 3's planted columns (10: more than the certified head's 8 candidates); row 2's are 1000 and N − 5. */
const row3 = (n: number): number[] => [7, 4099, 9000, n - 700, n - 2, 12000, 13000, 14000, 15000, 300];

function data(n: number, wd: WD) {
  const ROW3 = row3(n);
  const r = rng(SEED + n + (wd === 'bf16' ? 0 : 1));
  const x = new Float32Array(ROWS * K);
  for (let i = 0; i < x.length; i++) x[i] = r() * 2 - 1;
  const params = new Map<string, HostTensor>();
  const l1 = new Float64Array(n); // Σ_k |w_nk| (times |s_n|)
  // the planted near ties (see the top): columns aligned with x's row (weight sign(x_k)·a), column j of a row's
  // set bumped to b at `bumps` of the row's largest x_k — distinct exact logits, all within the one-term bound
  const planted = (row: number, cols: number[], a: number, b: number, bumps: number, put: (c: number, k: number, v: number) => void): void => {
    const big = Array.from({ length: K }, (_, k) => k).sort((p, q) => x[row * K + q] - x[row * K + p]);
    cols.forEach((c, j) => {
      for (let k = 0; k < K; k++) put(c, k, Math.sign(x[row * K + k]) * a);
      for (let i = 0; i < bumps; i++) put(c, big[j * bumps + i], b);
    });
  };
  const ties = (put: (c: number, k: number, v: number) => void, a: number, b: number, bumps: number): void => {
    planted(2, [1000, n - 5], a, b, bumps, put);
    planted(3, ROW3, a, b, bumps, put);
  };
  if (wd === 'bf16') {
    // ±[2^-9, 2^-5): sign | exponent 118..121 | 7 random mantissa bits (as the benchmark's weights)
    const w = new Uint16Array(n * K);
    for (let i = 0; i < w.length; i++) { const s = (r() * 2 ** 32) >>> 0; w[i] = ((s >>> 31) << 15) | ((118 + ((s >>> 7) & 3)) << 7) | (s & 0x7f); }
    // aligned 2^-5, bumps to 1.5·2^-5 at 64 elements: logits ≈ 65, gaps between columns ≈ 0.03 (the f32 sums'
    // actual error ~1e-4), the one-term bound 2E ≈ 0.36; the random columns reach ≈ 3
    ties((c, k, v) => { w[c * K + k] = f32ToBf16(v); }, 2 ** -5, 1.5 * 2 ** -5, 64);
    for (let c = 0; c < n; c++) { let a = 0; for (let k = 0; k < K; k++) a += Math.abs(bf16ToF32(w[c * K + k])); l1[c] = a; }
    params.set('w', hostTensor('bf16', [n, K], w));
  } else {
    // every finite e4m3 code (NaN codes 0x7f/0xff moved to their neighbour), scales ±[1e-4, 1e-3)
    const w = new Uint8Array(n * K), s = new Float32Array(n);
    for (let i = 0; i < w.length; i++) { let c = (r() * 256) | 0; if ((c & 0x7f) === 0x7f) c ^= 1; w[i] = c; }
    for (let c = 0; c < n; c++) s[c] = (r() < 0.5 ? -1 : 1) * (1e-4 + 9e-4 * r());
    // aligned 1.0 at scale 0.1 (logits ≈ 210, the random columns reach ≈ 15), bumps to 2 at 64 elements: gaps
    // between columns ≈ 0.2 (actual error ~2e-3), the one-term bound 2E ≈ 1.6
    const tied = new Set<number>();
    ties((c, k, v) => { w[c * K + k] = f32ToFp8e4m3(v); tied.add(c); }, 1, 2, 64);
    for (const c of tied) s[c] = 0.1;
    for (let c = 0; c < n; c++) {
      let a = 0; for (let k = 0; k < K; k++) a += Math.abs(fp8e4m3ToF32(w[c * K + k]));
      l1[c] = a * Math.abs(s[c]);
    }
    params.set('w', hostTensor('fp8e4m3', [n, K], w));
    params.set('scale', hostTensor('f32', [n], s));
  }
  return { x, params, l1 };
}

/**
 * The interpreter's outputs for all ROWS rows of x, a few rows per job on the pool's worker threads (rows
 * are independent, so the result is the one-call result): the 64-row references at N = 128256 are 34 G
 * multiply-adds each, which took most of this file's three minutes on one thread.
 */
async function interpretRows(pool: InterpreterPool, g: Graph, x: Float32Array, params: ReadonlyMap<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const m = pool.model(g, params);
  try {
    const per = Math.max(1, Math.ceil(ROWS / pool.size));
    const parts: Promise<{ r0: number; out: Record<string, HostTensor> }>[] = [];
    for (let r0 = 0; r0 < ROWS; r0 += per) {
      const r1 = Math.min(ROWS, r0 + per);
      parts.push(pool.run(m.id, { x: hostTensor('f32', [r1 - r0, K], x.slice(r0 * K, r1 * K)) }).then((out) => ({ r0, out })));
    }
    const done = await Promise.all(parts);
    const result: Record<string, HostTensor> = {};
    for (const name of Object.keys(done[0].out)) {
      const first = done[0].out[name];
      const width = first.data.length / first.shape[0];
      const C = first.data.constructor as new (n: number) => HostTensor['data'];
      const data = new C(ROWS * width) as unknown as { set(a: ArrayLike<number>, at: number): void };
      for (const { r0, out } of done) data.set(out[name].data as unknown as ArrayLike<number>, r0 * width);
      result[name] = hostTensor(first.dtype, [ROWS, ...first.shape.slice(1)], data as unknown as HostTensor['data']);
    }
    return result;
  } finally { pool.drop(m.id); }
}

describeGpuCompiled('linears at the 8B shapes vs the interpreter (K = 4096, B = 1, 3, 4, 5, 32, 64)', () => {
  let dev: CudaDevice;
  let compile: (g: Graph, maxDims: Record<string, number>) => ExecutionPlan;
  let compileCertified: (g: Graph, maxDims: Record<string, number>) => Promise<ExecutionPlan>;
  let pool: InterpreterPool;
  beforeAll(async () => {
    ({ compile, compileCertified } = await import('./compiled.ts'));
    dev = openDevice();
    pool = new InterpreterPool();
  });
  afterAll(async () => { dev?.release(); await pool?.close(); });

  for (const n of [128256, 16384]) {
    for (const wd of ['bf16', 'fp8e4m3'] as const) {
      it(`N=${n} ${wd}: stored logits, fused argmax and the certified head, maxDims.B 32 and 64`, async () => {
        const g = graphs(n, wd);
        const { x, params, l1 } = data(n, wd);
        const ref = await interpretRows(pool, g.both, x, params);
        const want = ref.y.data as Float32Array, wantTok = ref.tok.data;
        // the planted rows are won by a planted column (else the data above is not what it says)
        if (![1000, n - 5].includes(Number(wantTok[2])) || !row3(n).includes(Number(wantTok[3]))) throw new Error(`planted near ties: rows 2, 3 won by ${wantTok[2]}, ${wantTok[3]}`);
        const xMax = Array.from({ length: ROWS }, (_, m) => { let a = 0; for (let k = 0; k < K; k++) a = Math.max(a, Math.abs(x[m * K + k])); return a; });
        const bad: string[] = [];
        for (const maxB of [32, 64]) {
          for (const head of ['stored', 'argmax', 'certified'] as const) {
            const plan = head === 'certified' ? await compileCertified(g.argmax, { B: maxB }) : compile(head === 'stored' ? g.stored : g.argmax, { B: maxB });
            if (head === 'certified' && !plan.launches.some((l) => l.kernel.includes('cert_reduce'))) bad.push(`certified maxB=${maxB}: no cert_reduce launch`);
            const ex = new PlanExecutor(dev, plan, params, { graphs: false });
            try {
              for (const B of BATCHES.filter((b) => b <= maxB)) {
                const label = `${head} maxB=${maxB} B=${B}`;
                ex.poisonOutputs(0xff);
                const out = ex.run({ x: hostTensor('f32', [B, K], x.slice(0, B * K)) });
                if (head !== 'stored') {
                  const got = out.tok.data;
                  for (let m = 0; m < B; m++) {
                    if (Number(got[m]) === Number(wantTok[m])) continue;
                    const gi = Number(got[m]), wi = Number(wantTok[m]);
                    bad.push(`${label} row ${m}: token ${gi} (ref logit ${want[m * n + gi]}) vs ${wi} (${want[m * n + wi]})`);
                  }
                  if (head === 'certified') { // the gated launches inside a captured CUDA graph, as the benchmark replays them
                    ex.poisonOutputs(0xff);
                    const replay = ex.run({ x: hostTensor('f32', [B, K], x.slice(0, B * K)) }, { graph: true }).tok.data;
                    if ([...replay].join() !== [...got].join()) bad.push(`${label}: graph replay tokens differ from the eager launches'`);
                  }
                } else {
                  const got = out.y.data as Float32Array;
                  let worst = 0, at = -1;
                  for (let m = 0; m < B; m++) for (let c = 0; c < n; c++) {
                    const i = m * n + c, tol = 2 * K * 2 ** -24 * xMax[m] * l1[c];
                    const e = Math.abs(got[i] - want[i]);
                    if (!(e <= tol) && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) { if (!(e / tol <= worst)) { worst = e / tol; at = i; } }
                  }
                  if (at >= 0) bad.push(`${label}: [${Math.floor(at / n)}, ${at % n}] gpu ${got[at]} ref ${want[at]} (${worst.toFixed(1)}× the bound)`);
                }
              }
            } finally {
              ex.close();
            }
          }
        }
        expect(bad).toEqual([]);
      }, 900_000);
    }
  }
});

