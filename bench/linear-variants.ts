// Where does the batch-32 tensor-core linear spend its time? Compiles one graph per case at the 8B
// shapes with maxDims B = 32 — argmax(linear(x, W[128256, 4096])) with bf16 and with e4m3 weights (the
// fused heads of the bench) and linear(x, W[16384, 4096]) (a projection) — then times the plan at B = 32
// (median of CUDA-graph replays, events) with the tensor-core kernel's PTX edited into variants that each
// remove one cost. The variants are for measuring only: most compute wrong numbers.
//   base      the shipped kernel
//   t2, t1    2 or 1 x terms (drops the lower terms' mmas; their shared reads become dead)
//   nomma     no mma: each trio becomes xor's of its A words and one B word folded into the
//             accumulator, so the weight loads (and e4m3 widening) stay alive: weights + staging only
//   noload    the weight loads read shared memory (one broadcast address) instead of global: mma + staging only
//   nostage   the x tile's shared stores dropped (so its global loads and split are dead); bar.sync kept
//   nobar     the per-trip bar.sync dropped
//   nomma+nostage   weight stream alone (through this kernel's loads and loop)
//   noload+nostage  mmas alone (and the shared fragment reads)
//   nobranch  the batch-tile skip branches dropped (all 4 tiles always run: B = 32 needs them all), so
//             ptxas may interleave the mmas of all tiles instead of per-tile basic blocks
//   r80       .maxnreg 80: 3 blocks of 8 warps per SM instead of 2 (ptxas spills a little)
// The certified head (lm-head-certify, docs/certified-argmax.md) is timed as it ships (base only; the PTX edits do
// not apply): head-*-cert plants one clear winner column per row (x random, the winner aligned with its row), so
// every row certifies (the one-term kernel + the certify reduce + the two gated launches that return at once);
// head-*-cert-fail takes the other heads' weights, whose tiling repeats every 1024 rows (exact ties), so every row
// fails and the fallback runs (the worst case). Their tokens are checked: the planted winners, and the exact
// plan's tokens on the same data.
//   node bench/linear-variants.ts [--out FILE.json] [--reps N] [--variants a,b+c,… (base and these only)]
//     [--ptx DIR (write the edited PTX, no GPU)]
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { compileProgram } from '../compiler/compile.ts';
import type { ExecutionPlan } from '../compiler/codegen/plan.ts';
import type { DType } from '../compiler/ir/dtype.ts';
import type { Graph } from '../compiler/ir/graph.ts';
import { makeGraph } from '../compiler/ir/graph.ts';
import { Node } from '../compiler/ir/node.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import { hostTensor } from '../compiler/ir/tensor-data.ts';
import { lmHeadArgmax } from '../compiler/passes/lm-head-argmax.ts';
import { lmHeadCertify } from '../compiler/passes/lm-head-certify.ts';

const { values: args } = parseArgs({ options: { out: { type: 'string' }, reps: { type: 'string', default: '100' }, ptx: { type: 'string' }, variants: { type: 'string' } } });
const REPS = Math.max(20, Number(args.reps));
const B = 32, K = 4096;

interface Case { name: string; n: number; wd: DType; argmax: boolean; scaled: boolean; cert?: 'pass' | 'fail' }
const CASES: Case[] = [
  { name: 'head-bf16', n: 128256, wd: 'bf16', argmax: true, scaled: false },
  { name: 'head-fp8', n: 128256, wd: 'fp8e4m3', argmax: true, scaled: true },
  { name: 'proj-bf16', n: 16384, wd: 'bf16', argmax: false, scaled: false },
  { name: 'head-bf16-cert', n: 128256, wd: 'bf16', argmax: true, scaled: false, cert: 'pass' },
  { name: 'head-bf16-cert-fail', n: 128256, wd: 'bf16', argmax: true, scaled: false, cert: 'fail' },
  { name: 'head-fp8-cert', n: 128256, wd: 'fp8e4m3', argmax: true, scaled: true, cert: 'pass' },
  { name: 'head-fp8-cert-fail', n: 128256, wd: 'fp8e4m3', argmax: true, scaled: true, cert: 'fail' },
];
/** The planted winner column of row m (head-*-cert). */
const winner = (m: number): number => 1000 + 3989 * m;
const VARIANTS = ['base', 't2', 't1', 'nomma', 'noload', 'nostage', 'nobar', 'nomma+nostage', 'noload+nostage', 'noload+nomma', 'r80',
  'noload@2', 'nomma+nostage@2', 'noload+nostage@2', 'noload+nomma@2', 'base'].filter((v, i, all) => !args.variants || i === 0)
  .concat(args.variants ? args.variants.split(',') : []);
/** Shared memory a block may take so that only 2 fit on an SM (228 KiB, 1 KiB reserved per block). */
const PIN2_BYTES = 113 * 1024;

function graphOf(c: Case): Graph {
  const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', K]);
  const w = Node.make('param', [], { name: 'w' }, c.wd, [c.n, K]);
  let y = Node.make('linear', [x, w]);
  if (c.scaled) y = Node.make('mul', [y, Node.make('broadcast', [Node.make('param', [], { name: 'scale' }, 'f32', [c.n])], { shape: ['B', c.n] })]);
  const g = makeGraph(c.name.replace(/-/g, '_'), [x], [{ name: 'y', node: c.argmax ? Node.make('argmax', [y], { axis: 1 }) : y }]);
  return c.cert ? lmHeadCertify(lmHeadArgmax(g)) : g;
}

/** The batch: sin(j)·2 (the plans of run 1 and 2), or for head-*-cert uniform ±2 from xorshift. */
function inputOf(c: Case): HostTensor {
  if (c.cert !== 'pass') return hostTensor('f32', [B, K], Float32Array.from({ length: B * K }, (_, j) => Math.sin(j) * 2));
  let s = 777;
  return hostTensor('f32', [B, K], Float32Array.from({ length: B * K }, () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return (s / 2 ** 32) * 4 - 2; }));
}

/** Random weights from one 16 MiB block, tiled (fast); bf16 in ±[2^-9, 2^-5), e4m3 without NaN codes. */
function weightsOf(c: Case): Map<string, HostTensor> {
  const n = c.n * K, block = new Uint32Array(4 << 20);
  let s = 12345;
  for (let i = 0; i < block.length; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; block[i] = s; }
  const fill = (out: Uint8Array | Uint16Array, f: (r: number) => number): void => {
    const blk = out.constructor === Uint8Array ? new Uint8Array(block.length) : new Uint16Array(block.length);
    for (let i = 0; i < blk.length; i++) blk[i] = f(block[i]);
    for (let off = 0; off < out.length; off += blk.length) out.set(blk.subarray(0, Math.min(blk.length, out.length - off)), off);
  };
  const m = new Map<string, HostTensor>();
  if (c.wd === 'bf16') {
    const d = new Uint16Array(n);
    fill(d, (r) => ((r >>> 31) << 15) | ((118 + ((r >>> 7) & 3)) << 7) | (r & 0x7f));
    m.set('w', hostTensor('bf16', [c.n, K], d));
  } else {
    const d = new Uint8Array(n);
    fill(d, (r) => (r & 0x77) | ((r >>> 24) & 0x80)); // exponent ≤ 14: never 0x7F / 0xFF
    m.set('w', hostTensor('fp8e4m3', [c.n, K], d));
  }
  if (c.scaled) m.set('scale', hostTensor('f32', [c.n], new Float32Array(c.n).fill(1 / 512)));
  if (c.cert === 'pass') { // row m's winner: sign(x_mk) · 2^-5 (bf16) or · 1.0 at scale 1/16 (e4m3): logit ≈ 150–290, the others ≲ 50
    const x = inputOf(c).data as Float32Array, w = m.get('w')!.data as Uint8Array | Uint16Array;
    for (let r = 0; r < B; r++) {
      const col = winner(r);
      for (let k = 0; k < K; k++) w[col * K + k] = c.wd === 'bf16' ? (x[r * K + k] < 0 ? 0xbd00 : 0x3d00) : (x[r * K + k] < 0 ? 0xb8 : 0x38);
      if (c.scaled) (m.get('scale')!.data as Float32Array)[col] = 1 / 16;
    }
  }
  return m;
}

/** The tensor-core kernel's PTX with the variant's edits, confined to its k loop (but .maxnreg). */
export function editPtx(ptx: string, variant: string): string {
  const parts = new Set(variant.split('+'));
  const lines = ptx.split('\n');
  const start = lines.findIndex((l) => /^\$L_k_\d+:/.test(l.trim()));
  const end = lines.findIndex((l, i) => i > start && /^bra \$L_k_\d+;/.test(l.trim()));
  if (start < 0 || end < 0) throw new Error('editPtx: no k loop found');
  const out: string[] = [];
  const mmaRe = /^(\s*)mma\.sync\S* (\{[^}]*\}), (\{[^}]*\}), (\{[^}]*\}), \{[^}]*\};$/;
  const regs = (g: string): string[] => g.slice(1, -1).split(',').map((r) => r.trim());
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (parts.has('r80') && l.startsWith('.maxnreg')) { out.push('.maxnreg 80'); continue; }
    if (i <= start || i >= end) { out.push(l); continue; }
    const m = mmaRe.exec(l);
    if (m) {
      // trios: the emitter writes terms lo, mid, hi with the same d and a on consecutive lines
      const trioPos = (() => { // preceding mmas with the same d and a: 0 (lo), 1 (mid), 2 (hi)
        let p = 0;
        for (let q; p < 2 && (q = mmaRe.exec(lines[i - p - 1])) && q[2] === m[2] && q[3] === m[3];) p++;
        return p;
      })();
      if (parts.has('nomma')) {
        if (trioPos !== 2) continue;
        const [d, a, bb] = [regs(m[2]), regs(m[3]), regs(m[4])];
        out.push(`${m[1]}{ .reg .b32 %kt; .reg .f32 %kf; xor.b32 %kt, ${a[0]}, ${a[1]}; xor.b32 %kt, %kt, ${a[2]}; xor.b32 %kt, %kt, ${a[3]}; xor.b32 %kt, %kt, ${bb[0]}; mov.b32 %kf, %kt; add.f32 ${d[0]}, ${d[0]}, %kf; }`);
        continue;
      }
      if (parts.has('t2') && trioPos < 1) continue;
      if (parts.has('t1') && trioPos < 2) continue;
      out.push(l);
      continue;
    }
    if (parts.has('noload') && l.includes('ld.global.nc.L1::no_allocate')) {
      out.push(l.replace(/ld\.global\.nc\.L1::no_allocate\.v4\.u32 (\{[^}]*\}), \[[^\]]*\];/, 'ld.shared.v4.u32 $1, [xs];'));
      continue;
    }
    if (parts.has('nostage') && /^\s*(@%p\d+ )?st\.shared\.v4\.b32/.test(l)) continue;
    if (parts.has('nobar') && l.trim() === 'bar.sync 0;') continue;
    if (parts.has('nobranch') && /^@%p\d+ bra \$L_tiles_\d+;$/.test(l.trim())) continue;
    out.push(l);
  }
  return out.join('\n');
}

function variantPlan(plan: ExecutionPlan, variant: string): { plan: ExecutionPlan; tc: string } {
  const tc = plan.kernels.find((k) => k.name.includes('_tc'));
  if (plan.derived?.length && variant !== 'base') throw new Error(`${plan.name}: the certified head is timed as shipped (base) only`);
  if (!tc) throw new Error(`${plan.name}: no tensor-core kernel`);
  if (variant === 'base') return { plan, tc: tc.name };
  // '@2': fewer registers let more blocks share an SM; unused dynamic shared memory holds it at the base's 2
  const [edits, pin] = variant.split('@');
  const ptx = editPtx(plan.modules[tc.module], edits);
  const staticBytes = [...ptx.matchAll(/\.shared \.align \d+ \.b8 \w+\[(\d+)\]/g)].reduce((a, m) => a + Number(m[1]), 0);
  const kernels = pin === '2' ? plan.kernels.map((k) => (k === tc ? { ...k, sharedBytes: PIN2_BYTES - staticBytes } : k)) : plan.kernels;
  return { plan: { ...plan, kernels, modules: { ...plan.modules, [tc.module]: ptx } }, tc: tc.name };
}

interface Row { case: string; variant: string; ms?: number; minMs?: number; weightGBps?: number; error?: string }

async function main(): Promise<void> {
  if (args.ptx) { // CPU only: write the edited PTX for ptxas
    mkdirSync(args.ptx, { recursive: true });
    for (const c of CASES) {
      const plan = compileProgram(graphOf(c), { maxDims: { B } });
      for (const v of new Set(c.cert ? ['base'] : VARIANTS)) { const { plan: p, tc } = variantPlan(plan, v); writeFileSync(`${args.ptx}/${c.name}.${v}.ptx`, p.modules[p.kernels.find((k) => k.name === tc)!.module]); }
    }
    return;
  }
  const { openDevice } = await import('../runtime/cuda/device.ts');
  const { PlanExecutor } = await import('../runtime/cuda/executor.ts');
  const { EventTimer } = await import('../runtime/cuda/graph.ts');
  const dev = openDevice();
  const rows: Row[] = [];
  const timer = new EventTimer(dev);
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  try {
    const exactTokens = new Map<string, string>(); // head-bf16 / head-fp8 base tokens, for the -cert-fail cases
    for (const c of CASES) {
      const plan = compileProgram(graphOf(c), { maxDims: { B } });
      const weights = weightsOf(c);
      const bytes = c.n * K * (c.wd === 'bf16' ? 2 : 1);
      const x = inputOf(c);
      for (const v of (c.cert ? ['base'] : VARIANTS).filter((v) => c.argmax || !v.includes('@'))) { // the projection runs 5 blocks per SM: no pin
        let ex: InstanceType<typeof PlanExecutor> | null = null;
        try {
          ex = new PlanExecutor(dev, variantPlan(plan, v).plan, weights);
          const tok = [...ex.run({ x }).y.data].join(','); // warm-up + graph capture
          if (v === 'base' && !c.cert && c.argmax) exactTokens.set(c.wd, tok);
          const want = c.cert === 'pass' ? Array.from({ length: B }, (_, r) => winner(r)).join(',') : c.cert === 'fail' ? exactTokens.get(c.wd) : undefined;
          if (want !== undefined && tok !== want) throw new Error(`tokens [${tok}] != expected [${want}]`);
          const ms: number[] = [];
          for (let r = 0; r < REPS; r++) { timer.start(); ex.enqueue({ B }, { graph: true }); timer.stop(); ms.push(timer.elapsedMs()); }
          const med = median(ms);
          rows.push({ case: c.name, variant: v, ms: med, minMs: Math.min(...ms), weightGBps: bytes / (med / 1e3) / 1e9 });
        } catch (e) {
          rows.push({ case: c.name, variant: v, error: (e as Error).message.split('\n').slice(0, 3).join(' | ') });
        } finally { ex?.close(); }
        const r = rows[rows.length - 1];
        console.log(`[variants] ${c.name.padEnd(9)} ${v.padEnd(15)} ${r.ms === undefined ? `error: ${r.error}` : `${r.ms.toFixed(4)} ms (min ${r.minMs!.toFixed(4)})  ${r.weightGBps!.toFixed(0)} GB/s of weights`}`);
      }
    }
  } finally {
    timer.destroy();
    dev.release();
  }
  if (args.out) writeFileSync(args.out, `${JSON.stringify({ device: dev.description, B, K, reps: REPS, rows }, null, 2)}\n`);
}

await main();
