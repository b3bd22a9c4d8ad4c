// One host sync per Arctic step on CUDA (docs/serve.md, "One sync per Arctic step"): the model draft is not
// waited for. The host lays the verify batch out first (each model row's k = min(n_predict, room, cap) is
// known before the draft exists, its draft tokens are placeholders), then the target, right before its
// pass, enqueues the draft on the same stream: hidden rows gathered on the device from the previous pass's
// hidden output (or staged from the host copies when a later pass overwrote them), last tokens staged, the
// draft graph, the draft's output copy; then its own staged inputs, the draft tokens patched into the verify
// rows device to device, the verify graph, its output copies, and one stream sync. Acceptance stays on the
// host, comparing the draft tokens read back with the target's.
import type { DeviceDrafting, EnqueuedDraft } from '../backend.ts';
import { DecodingError } from '../decoding/errors.ts';
import type { Proposer, SplitDraftProposer } from '../decoding/proposer.ts';
import { canSplitDraft } from '../decoding/proposer.ts';
import type { ChainedDraft, HiddenRef, TargetChainInfo, TargetModel } from '../target/target-model.ts';

/** A proposer whose model enqueues on the target's own stream. */
export interface DraftChain {
  readonly proposer: SplitDraftProposer;
  readonly drafting: DeviceDrafting;
  readonly target: TargetChainInfo;
}

/** The chain for this target and proposer, or null (a CPU target or drafter, another stream, no model drafts). */
export function draftChainFor(target: TargetModel, proposer: Proposer | null): DraftChain | null {
  if (!target.chain || !canSplitDraft(proposer)) return null;
  const drafting = proposer.model.deviceDrafting;
  if (!drafting || drafting.chainKey !== target.chain.key) return null;
  return { proposer, drafting, target: target.chain };
}

/** One request's row of a chained draft. */
export interface ChainRow {
  /** for errors, e.g. "prompt 3" */
  readonly name: string;
  /** the host copy of the hidden state that produced the last token, and where it is on the device */
  readonly hidden: Float32Array;
  readonly hiddenRef: HiddenRef | null;
  /** the last token (the draft's input) */
  readonly token: number;
}

/** One step's model draft, enqueued by the target in front of its verify pass (forward's `draft`). */
export class StepDraft implements ChainedDraft {
  readonly chain: DraftChain;
  readonly rows: readonly ChainRow[];
  /** whether the hidden rows are gathered on the device (all still in the last pass's output) */
  readonly hiddenOnDevice: boolean;
  readonly #hidden: readonly bigint[] | Float32Array;
  readonly #tokens: Int32Array;
  #enqueued: EnqueuedDraft | null = null;
  /** the draft plan and its hidden rows' indices in the last pass's output, when the target can fuse this draft */
  readonly fusable: ChainedDraft['fusable'];
  /** a fused pass's draft tokens (deliver) */
  #delivered: readonly Int32Array[] | null = null;

  constructor(chain: DraftChain, rows: readonly ChainRow[]) {
    const H = chain.proposer.model.hiddenSize;
    this.chain = chain;
    this.rows = rows;
    if (rows.length > chain.drafting.maxBatch) throw new DecodingError(`chained draft: ${rows.length} rows exceed the drafter's maxBatch ${chain.drafting.maxBatch}`);
    // resolved now: the pass this draft precedes overwrites the rows
    const addrs: bigint[] = [];
    for (const r of rows) {
      const a = r.hiddenRef ? chain.target.hiddenRowAddress(r.hiddenRef) : null;
      if (a === null) break;
      addrs.push(a);
    }
    this.hiddenOnDevice = addrs.length === rows.length;
    const port = chain.drafting.port;
    const src = port && chain.target.fusesDrafts && this.hiddenOnDevice ? Int32Array.from(rows, (r) => chain.target.hiddenRow(r.hiddenRef!) ?? -1) : null;
    this.fusable = port && src && !src.includes(-1) && rows.length <= port.maxBatch && port.hiddenSize === H
      ? { port, src, last: Int32Array.from(rows, (r) => r.token) } : null;
    if (this.hiddenOnDevice) this.#hidden = addrs;
    else {
      const h = new Float32Array(rows.length * H);
      rows.forEach((r, i) => {
        if (r.hidden.length !== H) throw new DecodingError(`draft model: ${r.name} has a hidden state of length ${r.hidden.length}, expected ${H}`);
        h.set(r.hidden, i * H);
      });
      this.#hidden = h;
    }
    this.#tokens = Int32Array.from(rows, (r) => r.token);
  }

  enqueue(): (row: number, j: number) => bigint {
    try {
      this.#enqueued = this.chain.drafting.enqueue(this.#hidden, this.#tokens);
    } catch (e) {
      throw withRequests(e, this.rows);
    }
    const d = this.#enqueued;
    return (row, j) => d.tokenAddress(row, j);
  }

  /** A fused pass's draft tokens: row b's first count[b] tokens (what the pass verified). */
  deliver(tokens: readonly Int32Array[]): void {
    if (tokens.length !== this.rows.length) throw new DecodingError(`fused draft: ${tokens.length} rows delivered for ${this.rows.length}`);
    this.#delivered = tokens;
  }

  /**
   * After forward resolved (its sync covered the draft): each row's draft tokens, checked to lie in [0, V):
   * n_predict of them, or after a fused pass the ones it verified.
   */
  collect(): Int32Array[] {
    const V = this.chain.proposer.model.vocabSize;
    if (this.#delivered) {
      const rows = this.#delivered;
      this.#delivered = null;
      rows.forEach((row, i) => {
        for (let j = 0; j < row.length; j++) if (!(row[j] >= 0 && row[j] < V)) throw new DecodingError(`draft model: ${this.rows[i].name} position ${j}: token ${row[j]} outside [0, ${V})`);
      });
      return [...rows];
    }
    const d = this.#enqueued;
    if (!d) throw new Error('chained draft: collect() before the target enqueued it');
    this.#enqueued = null;
    const n = this.chain.proposer.model.numSpeculativeTokens;
    const ids = d.collect();
    if (ids.length !== this.rows.length * n) throw new DecodingError(`draft model returned ${ids.length} ids for ${this.rows.length} rows × ${n} tokens`);
    return this.rows.map((r, i) => {
      const row = ids.subarray(i * n, (i + 1) * n);
      for (let j = 0; j < n; j++) {
        if (!(row[j] >= 0 && row[j] < V)) throw new DecodingError(`draft model: ${r.name} position ${j}: token ${row[j]} outside [0, ${V})`);
      }
      return row;
    });
  }

  /** drops an enqueued draft unread (the forward failed; its error path synchronized the stream) */
  discard(): void {
    this.#enqueued?.discard();
    this.#enqueued = null;
    this.#delivered = null;
  }
}

/** `e` with the requests of a chained draft named (a device fault or a bad row surfaces from the verify pass). */
export function withRequests(e: unknown, rows: readonly ChainRow[]): unknown {
  if (e instanceof Error && !e.message.includes('(chained draft of ')) e.message += ` (chained draft of ${rows.map((r) => r.name).join(', ')})`;
  return e;
}
