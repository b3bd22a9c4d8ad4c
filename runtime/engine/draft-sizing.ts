// Per-step draft sizing: how many draft tokens to verify this step. Verifying more rows costs more target
// time, and a drafted token is worth only its chance of acceptance, so at large batches (or with drafters
// that rarely hit) speculation can lower throughput. The sizer measures both sides as the engine runs: the
// wall time of target passes by padded row count, and the acceptance at each draft position per draft
// source (conditional on the positions before it being accepted). Each step it gives the verify rows to the
// draft positions likeliest to be accepted, across requests, as many as maximize expected tokens per
// millisecond (none included), so each request gets its own cap; when verifying nothing beats drafting at a
// batch size for a while, it stops drafting there and re-tries now and then.
// Which tokens come out is unchanged: greedy and sampled outputs never depend on the drafts verified.
import type { DraftSource } from '../decoding/proposer.ts';
import { paddingSize } from '../cuda/plan-layout.ts';

const EMA = 0.2;
/**
 * Below this many running requests the sizer verifies whole drafts: on the H200 every drafter gained at
 * batch 1 with whole drafts (bench/results/e2e-h200-fixed-length.json) and lost only at 32 requests; the
 * sizer's own exploration cost more than it saved at small batches (bench/results/e2e-h200.json).
 */
export const MIN_SIZED_BATCH = 16;
/** retry drafting at a batch size where it did not pay after this many steps */
const RETRY = 64;
/** steps with no drafts verified, at most, to measure a batch size's no-draft pass */
const EXPLORE = 4;

interface PositionStats { reached: number[]; accepted: number[] }

/** DraftSizer.snapshot(): ms by padded row count (passes) and batch (drafts), gain by batch, and the decisions */
export interface SizerSnapshot {
  readonly passMs: Record<string, number>;
  readonly draftMs: Record<string, number>;
  /** tokens per ms with the chosen cap over tokens per ms without drafts (< 1: drafting stops there for a while) */
  readonly gain: Record<string, number>;
  /** steps that drafted nothing because drafting did not pay at their batch size */
  readonly skippedSteps: number;
  /** cap k chosen → request-steps, at batches the sizer sizes */
  readonly chosenCaps: Record<string, number>;
}

export class DraftSizer {
  readonly #passMs = new Map<number, number>();
  readonly #draftMs = new Map<number, number>();
  readonly #gain = new Map<number, number>();
  readonly #skipUntil = new Map<number, number>();
  readonly #explored = new Map<number, number>();
  readonly #stats = new Map<DraftSource, PositionStats>();
  /** buckets seen once: a first pass at a size includes its CUDA graph capture, which later passes don't pay */
  readonly #seen = new Set<number>();
  #step = 0;
  #retry = false;
  /** one cap for all of a step's drafts instead of per-request caps (ARCTICC_SIZER_CAPS=uniform: A/Bs only) */
  readonly #uniform = process.env.ARCTICC_SIZER_CAPS === 'uniform';
  #skipped = 0;
  readonly #chosen = new Map<number, number>();

  /** what the sizer has measured and decided so far (benchmarks report it per row) */
  snapshot(): SizerSnapshot {
    const obj = (m: Map<number, number>): Record<string, number> => Object.fromEntries([...m].sort((a, b) => a[0] - b[0]));
    return { passMs: obj(this.#passMs), draftMs: obj(this.#draftMs), gain: obj(this.#gain), skippedSteps: this.#skipped, chosenCaps: obj(this.#chosen) };
  }

  /** a target pass over `rows` token rows took `ms` */
  observePass(rows: number, ms: number): void {
    const b = paddingSize(rows);
    if (!this.#seen.has(b)) { this.#seen.add(b); return; }
    ema(this.#passMs, b, ms);
  }
  /** drafting for a batch of `batch` requests took `ms` */
  observeDraft(batch: number, ms: number): void { ema(this.#draftMs, paddingSize(batch), ms); }

  /** a draft of `offered` tokens from `source` had its first `accepted` accepted */
  observeAcceptance(source: DraftSource, offered: number, accepted: number): void {
    let s = this.#stats.get(source);
    if (!s) { s = { reached: [], accepted: [] }; this.#stats.set(source, s); }
    for (let i = 0; i < offered && i <= accepted; i++) {
      s.reached[i] = (s.reached[i] ?? 0) + 1;
      if (i < accepted) s.accepted[i] = (s.accepted[i] ?? 0) + 1;
    }
  }

  /** whether to draft at all for a batch of this size this step */
  shouldDraft(batch: number): boolean {
    this.#step++;
    if (batch < MIN_SIZED_BATCH) return true;
    const b = paddingSize(batch);
    const until = this.#skipUntil.get(b);
    if (until === undefined) return true;
    if (this.#step < until) { this.#skipped++; return false; }
    // a retry verifies whole drafts, so costs and acceptance are measured again, not judged from old estimates
    this.#skipUntil.delete(b);
    this.#retry = true;
    return true;
  }

  /** the chance that position j of a draft from `source` is accepted (all before it accepted too), j < len */
  positionProbs(source: DraftSource, len: number): number[] {
    const s = this.#stats.get(source);
    const out = new Array<number>(len);
    let p = 1;
    for (let i = 0; i < len; i++) {
      const reached = s?.reached[i] ?? 0;
      // an unmeasured position gets an optimistic prior, so new drafters and long suffix drafts get tried
      p *= ((s?.accepted[i] ?? 0) + 1) / (reached + 2);
      out[i] = p;
    }
    return out;
  }

  /** expected accepted tokens of a draft of `len` from `source` verified up to `k` */
  expectedAccepted(source: DraftSource, len: number, k: number): number {
    let e = 0;
    for (const p of this.positionProbs(source, Math.min(len, k))) e += p;
    return e;
  }

  /** the estimated wall time of a target pass over `rows` rows (null when nothing near it is measured) */
  passMs(rows: number): number | null {
    return this.#passEstimator()(rows);
  }

  /** passMs over one snapshot of the measurements (sorted once, memoized by bucket) */
  #passEstimator(): (rows: number) => number | null {
    const known = [...this.#passMs].sort((x, y) => x[0] - y[0]);
    const memo = new Map<number, number | null>();
    return (rows) => {
      const b = paddingSize(rows);
      if (memo.has(b)) return memo.get(b)!;
      let v: number | null;
      const hit = this.#passMs.get(b);
      if (hit !== undefined) v = hit;
      else if (known.length === 0) v = null;
      else {
        // linear between the nearest measured buckets; past the largest, the line through the two largest
        const hi = known.find(([r]) => r > b), lo = [...known].reverse().find(([r]) => r < b);
        const line = (p: [number, number], q: [number, number]): number => p[1] + ((q[1] - p[1]) * (b - p[0])) / (q[0] - p[0]);
        v = lo && hi ? line(lo, hi) : lo ? (known.length > 1 ? Math.max(lo[1], line(known[known.length - 2], lo)) : lo[1]) : hi![1];
      }
      memo.set(b, v);
      return v;
    };
  }

  /**
   * How many tokens of each request's draft to verify this step: `lens[i]` tokens from `sources[i]` for
   * request i (each verified row also carries the request's last token). The rows go to the draft positions
   * most likely to be accepted, whichever request they belong to (a request's positions are taken in order,
   * since each is no likelier than the one before it), as many as give the most expected tokens per ms of the
   * pass: a long suffix draft that hits keeps its rows while a weak model draft beside it gets none.
   */
  chooseCaps(lens: readonly number[], sources: readonly DraftSource[]): number[] {
    const caps = this.#chooseCaps(lens, sources);
    if (lens.length >= MIN_SIZED_BATCH) for (const k of caps) this.#chosen.set(k, (this.#chosen.get(k) ?? 0) + 1);
    return caps;
  }

  /** one cap for every request (the largest of chooseCaps'), for callers that verify all drafts alike */
  choose(lens: readonly number[], sources: readonly DraftSource[]): number {
    return Math.max(0, ...this.chooseCaps(lens, sources));
  }

  #chooseCaps(lens: readonly number[], sources: readonly DraftSource[]): number[] {
    const batch = lens.length;
    const whole = (): number[] => lens.slice();
    const none = (): number[] => new Array<number>(batch).fill(0);
    const maxLen = Math.max(0, ...lens);
    if (maxLen === 0) return none();
    if (batch < MIN_SIZED_BATCH) return whole();
    if (this.#retry) { this.#retry = false; return whole(); }
    // a pass with no drafts is what every choice is judged against: below the smallest measured size passMs is
    // flat, so with only full-draft passes measured no drafts would look as dear as all and never be tried
    // (H200 e2e, 32 requests: Arctic verified whole drafts on every step, 31443 against 47680 tok/s without).
    // Verify nothing until it is measured (two passes: the first at a size is its graph capture; at most
    // EXPLORE tries, as requests joining in the same pass add their prompt rows to it).
    const b = paddingSize(batch), tries = this.#explored.get(b) ?? 0;
    if (this.#passMs.size > 0 && !this.#passMs.has(b) && tries < EXPLORE) {
      this.#explored.set(b, tries + 1);
      return none();
    }
    const passMs = this.#passEstimator();
    const baseMs = passMs(batch);
    // unmeasured sizes: try the full drafts first (the measurement then decides)
    if (baseMs === null) return whole();
    // each source's chance of acceptance per draft position, as far as its longest draft this step
    const longest = new Map<DraftSource, number>();
    lens.forEach((len, i) => longest.set(sources[i], Math.max(len, longest.get(sources[i]) ?? 0)));
    const probs = new Map([...longest].map(([src, len]) => [src, this.positionProbs(src, len)]));
    // this step's drafts are paid for: pick how many positions by tokens per ms of the pass alone
    let best = 0, bestRate = batch / baseMs, bestTokens = batch, bestMs = baseMs, tokens = batch;
    const caps = none();
    if (this.#uniform) {
      // one cap k for every request (the rule before per-request caps; ARCTICC_SIZER_CAPS=uniform, for A/Bs)
      let bestK = 0;
      for (let k = 1; k <= maxLen; k++) {
        let rows = batch, t = batch;
        lens.forEach((len, i) => { const m = Math.min(len, k); rows += m; for (let j = 0; j < m; j++) t += probs.get(sources[i])![j]; });
        const ms = passMs(rows);
        if (ms === null) return whole();
        if (t / ms > bestRate) { bestRate = t / ms; bestK = k; bestTokens = t; bestMs = ms; best = rows - batch; }
      }
      lens.forEach((len, i) => { caps[i] = Math.min(len, bestK); });
    } else {
      // every draft position with its chance of acceptance, likeliest first (ties: request order, then position)
      const cand: { i: number; p: number }[] = [];
      lens.forEach((len, i) => { const ps = probs.get(sources[i])!; for (let j = 0; j < len; j++) cand.push({ i, p: ps[j] }); });
      cand.sort((x, y) => y.p - x.p || x.i - y.i);
      for (let n = 1; n <= cand.length; n++) {
        tokens += cand[n - 1].p;
        const ms = passMs(batch + n);
        if (ms === null) return whole();
        if (tokens / ms > bestRate) { bestRate = tokens / ms; best = n; bestTokens = tokens; bestMs = ms; }
      }
      for (let n = 0; n < best; n++) caps[cand[n].i]++;
    }
    // whether drafting pays for its own cost too decides the next steps at this batch size
    const draft = this.#draftMs.get(b) ?? 0;
    ema(this.#gain, b, (bestTokens / (bestMs + draft)) / (batch / baseMs));
    if (best === 0 || (this.#gain.get(b) ?? 1) < 1) this.#skipUntil.set(b, this.#step + RETRY);
    return caps;
  }
}

function ema(m: Map<number, number>, key: number, x: number): void {
  const old = m.get(key);
  m.set(key, old === undefined ? x : old + EMA * (x - old));
}
