// One line for bench/gpu-check.sh's target section (issue 11, fp8 weights): the fp8 B = 1 decode rows against
// their fp8 floor (the issue's target: ≤ 1.15 × the floor) and the bf16 rows of the same call, then the top-1
// agreement with bf16 on the 8B checkpoint and on the extra model. Reads the JSON of bench/target-bench.ts
// --quantize fp8 (and, when present, of the bf16 run); exits 1 when the fp8 file is missing or has no rows.
//   node bench/target-fp8-summary.ts FP8.json [BF16.json]
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface Row { B: number; q: number; context: number; ms?: number; floor: { ms: number }; error?: string }
interface Agreement { model?: string; tokens?: string; agreement: number; agreed: number; steps: number; byMargin: { below: number; tinyShare: number; agreementJudged: number }[]; logitsRelL2Median: number; error?: string }
interface Report { rows?: Row[]; agreement?: Record<string, Agreement>; error?: string; model?: string; load?: { seconds: number; peakRssGB: number; deviceGB?: number } }

const [fp8File, bf16File] = process.argv.slice(2);
if (!fp8File || !existsSync(fp8File)) { console.error(`target-fp8-summary: no fp8 report ${fp8File ?? '(none given)'}`); process.exit(1); }
const fp8 = JSON.parse(readFileSync(fp8File, 'utf8')) as Report;
const bf16 = bf16File && existsSync(bf16File) ? JSON.parse(readFileSync(bf16File, 'utf8')) as Report : null;
if (!fp8.rows?.length) { console.error(`target-fp8-summary: ${fp8File} has no rows${fp8.error ? ` (${fp8.error})` : ''}`); process.exit(1); }

const TARGET = 1.15;
const parts: string[] = [];
for (const r of fp8.rows.filter((x) => x.B === 1 && x.q === 1)) {
  if (r.ms === undefined) { parts.push(`B=1 ctx ${r.context}: ERROR ${r.error ?? 'no time'}`); continue; }
  const ratio = r.ms / r.floor.ms;
  const b = bf16?.rows?.find((x) => x.B === 1 && x.q === 1 && x.context === r.context);
  parts.push(`B=1 ctx ${r.context}: ${r.ms.toFixed(3)} ms = ${ratio.toFixed(2)}× the fp8 floor ${r.floor.ms.toFixed(3)} (${ratio <= TARGET ? 'meets' : 'misses'} ≤ ${TARGET})${b?.ms ? `, bf16 ${b.ms.toFixed(3)} ms (${(b.ms / r.ms).toFixed(2)}× faster)` : ''}`);
}
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
for (const [k, a] of Object.entries(fp8.agreement ?? {})) {
  if (a.error) { parts.push(`agreement (${k}): ERROR ${a.error}`); continue; }
  const m = a.byMargin.find((x) => x.below === 1e-2) ?? a.byMargin[0];
  parts.push(`top-1 agreement with bf16 (${basename(a.model ?? k)}, ${a.tokens?.startsWith('random') ? 'random tokens' : 'prompts'}): ${pct(a.agreement)} of ${a.steps} steps (bf16 margin < ${m.below} on ${pct(m.tinyShare)}; ${pct(m.agreementJudged)} on the rest; logits rel. L2 ${a.logitsRelL2Median.toExponential(1)})`);
}
if (fp8.load) parts.push(`load ${fp8.load.seconds.toFixed(1)} s, peak RSS ${fp8.load.peakRssGB} GB${fp8.load.deviceGB !== undefined ? `, ${fp8.load.deviceGB} GB on the device` : ''}`);
console.log(`target fp8 summary: ${parts.join('; ')}`);
