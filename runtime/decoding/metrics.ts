// Acceptance metrics as vLLM's SpecDecodingStats reports them (spec §5): drafts, drafted and accepted
// tokens, mean acceptance length = 1 + accepted/drafts (the 1 is the token the target adds every step), and
// per-position acceptance rates, which grow as long as the longest draft (suffix drafts can be long).
import { checkInt } from './validate.ts';

export interface AcceptanceSnapshot {
  numDrafts: number;
  numDraftTokens: number;
  numAcceptedTokens: number;
  meanAcceptanceLength: number;
  draftAcceptanceRate: number;
  perPositionAcceptanceRate: number[];
}

/** Counts drafts, drafted and accepted tokens; `snapshot()` gives mean acceptance length and per-position rates. */
export class AcceptanceMetrics {
  numDrafts = 0;
  numDraftTokens = 0;
  numAcceptedTokens = 0;
  readonly acceptedPerPosition: number[] = [];

  // One verified draft; empty drafts are not drafts (vLLM only records steps that speculated).
  observe(numDraftTokens: number, numAccepted: number): void {
    checkInt(numDraftTokens, 'metrics: numDraftTokens', 0);
    checkInt(numAccepted, 'metrics: numAccepted', 0, numDraftTokens);
    if (numDraftTokens === 0) return;
    this.numDrafts++;
    this.numDraftTokens += numDraftTokens;
    this.numAcceptedTokens += numAccepted;
    while (this.acceptedPerPosition.length < numDraftTokens) this.acceptedPerPosition.push(0);
    for (let i = 0; i < numAccepted; i++) this.acceptedPerPosition[i]++;
  }

  merge(other: AcceptanceMetrics): void {
    this.numDrafts += other.numDrafts;
    this.numDraftTokens += other.numDraftTokens;
    this.numAcceptedTokens += other.numAcceptedTokens;
    other.acceptedPerPosition.forEach((n, i) => { this.acceptedPerPosition[i] = (this.acceptedPerPosition[i] ?? 0) + n; });
  }

  // NaN until the first draft: an acceptance length of nothing is undefined, not 1.
  get meanAcceptanceLength(): number {
    return this.numDrafts === 0 ? NaN : 1 + this.numAcceptedTokens / this.numDrafts;
  }

  get draftAcceptanceRate(): number {
    return this.numDraftTokens === 0 ? NaN : this.numAcceptedTokens / this.numDraftTokens;
  }

  get perPositionAcceptanceRate(): number[] {
    return this.acceptedPerPosition.map((n) => n / this.numDrafts);
  }

  snapshot(): AcceptanceSnapshot {
    return {
      numDrafts: this.numDrafts, numDraftTokens: this.numDraftTokens, numAcceptedTokens: this.numAcceptedTokens,
      meanAcceptanceLength: this.meanAcceptanceLength, draftAcceptanceRate: this.draftAcceptanceRate,
      perPositionAcceptanceRate: this.perPositionAcceptanceRate,
    };
  }
}
