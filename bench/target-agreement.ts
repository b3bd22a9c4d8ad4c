// Top-1 agreement of a quantized target with its reference (issue 11: fp8 weights vs bf16): both models are
// fed the same token streams teacher-forced (each stream prefilled in chunks with every row's head wanted), so
// step i of a stream is the decode step at position i after the stream's first i tokens, on both models alike.
// Per step: the two argmax ids, the reference's top-1 margin (top1 − top2 logit) and the relative L2 distance
// of the two logits rows. Reported: agreement over all steps, the share of steps whose reference margin is tiny
// (where any rounding may flip the argmax: random-weight checkpoints have many), agreement among the steps
// whose margin is not tiny, and the logits' distance. Measures; decides nothing.
import type { TargetModel } from '../runtime/target/target-model.ts';
import { randomTokens, relL2, topMargin } from './target-steps.ts';

export interface AgreementReport {
  steps: number;
  agreed: number;
  agreement: number;
  /** per margin threshold m (absolute logit units): steps with the reference margin < m, and agreement on the others */
  byMargin: { below: number; tinyShare: number; judged: number; agreedJudged: number; agreementJudged: number }[];
  /** median and largest reference top-1 margin */
  marginMedian: number;
  /** rel. L2 of the quantized logits against the reference's, per step: median and max */
  logitsRelL2Median: number;
  logitsRelL2Max: number;
  positions: string;
  checked: string;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[s.length >> 1] : NaN; };

/** `n` streams of `len` random tokens in [0, V) (seeds seed, seed + 1, …). */
export function randomStreams(n: number, len: number, V: number, seed: number): number[][] {
  return Array.from({ length: n }, (_, i) => randomTokens(len, V, seed + i));
}

/**
 * Teacher-forced top-1 agreement of `q` with `ref` over `streams` (each ≤ both targets' maxModelLen): every
 * position of every stream is one step. `chunk` rows per forward (their logits come back to the host).
 */
export async function top1Agreement(ref: TargetModel, q: TargetModel, streams: readonly number[][], o: { chunk?: number; margins?: readonly number[] } = {}): Promise<AgreementReport> {
  const chunk = o.chunk ?? 128;
  const thresholds = o.margins ?? [1e-3, 1e-2, 1e-1];
  const V = ref.vocabSize;
  if (q.vocabSize !== V) throw new Error(`top1Agreement: vocabularies differ (${V} and ${q.vocabSize})`);
  const agree: boolean[] = [], margins: number[] = [], dist: number[] = [];
  for (const [si, stream] of streams.entries()) {
    const a = ref.newSequence(`agreement stream ${si} (reference)`), b = q.newSequence(`agreement stream ${si} (quantized)`);
    try {
      for (let at = 0; at < stream.length; at += chunk) {
        const tokens = stream.slice(at, at + chunk);
        const [ra] = await ref.forward([{ seq: a, tokens, want: 'all' }], { logits: true });
        const [rb] = await q.forward([{ seq: b, tokens, want: 'all' }], { logits: true });
        for (let r = 0; r < tokens.length; r++) {
          agree.push(ra.nextTokens[r] === rb.nextTokens[r]);
          const la = ra.logits!.subarray(r * V, (r + 1) * V), lb = rb.logits!.subarray(r * V, (r + 1) * V);
          margins.push(topMargin(la));
          dist.push(relL2(lb, la));
        }
      }
    } finally {
      a.close();
      b.close();
    }
  }
  const steps = agree.length, agreed = agree.filter(Boolean).length;
  const byMargin = thresholds.map((m) => {
    let below = 0, judged = 0, agreedJudged = 0;
    margins.forEach((x, i) => { if (x < m) below++; else { judged++; if (agree[i]) agreedJudged++; } });
    return { below: m, tinyShare: below / (steps || 1), judged, agreedJudged, agreementJudged: judged ? agreedJudged / judged : NaN };
  });
  const lens = streams.map((s) => s.length);
  return {
    steps, agreed, agreement: agreed / (steps || 1), byMargin, marginMedian: median(margins),
    logitsRelL2Median: median(dist), logitsRelL2Max: Math.max(...dist),
    positions: `${streams.length} streams of ${Math.min(...lens)}–${Math.max(...lens)} tokens: positions 0…${Math.max(...lens) - 1}`,
    checked: `teacher-forced argmax of ${q.deviceDescription} vs ${ref.deviceDescription}, ${steps} steps`,
  };
}

/** One line for logs: "agreement 97.3 % (973/1000); bf16 margin < 0.01 on 2.1 % of steps, agreement 98.9 % on the rest; logits rel. L2 median 1.2e-2". */
export function agreementLine(r: AgreementReport): string {
  const m = r.byMargin.find((x) => x.below === 1e-2) ?? r.byMargin[0];
  const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
  return `top-1 agreement ${pct(r.agreement)} (${r.agreed}/${r.steps}); reference margin < ${m.below} on ${pct(m.tinyShare)} of steps, agreement ${pct(m.agreementJudged)} on the other ${m.judged}; median margin ${r.marginMedian.toPrecision(3)}; logits rel. L2 median ${r.logitsRelL2Median.toExponential(2)} (max ${r.logitsRelL2Max.toExponential(2)})`;
}
