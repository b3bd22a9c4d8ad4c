// SuffixDecodingCache (spec §4.1): one local tree per active request over its prompt plus everything it has
// generated, and one global tree over the responses of recent requests, so a request can copy from its own
// context and from what other requests produced. Responses enter the global tree as they are generated and
// stay after the request stops, until FIFO eviction once more than maxCachedRequests are cached.
import { DecodingError, showId, type RequestId } from './errors.ts';
import { contextTailStart, resolveSpecOptions, speculateResolved, type SpeculateOptions, type SuffixDraft } from './suffix-speculate.ts';
import { SuffixTree } from './suffix-tree.ts';
import { checkInt, checkTokens, type TokenInput } from './validate.ts';

export interface SuffixDecodingCacheOptions {
  maxTreeDepth?: number;       // default 64
  maxCachedRequests?: number;  // default 100000; 0 disables the global tree, -1 means no limit
  /** which tree updates wait for flush() (docs/suffix-overlap.md); default 'off': every update at once */
  deferUpdates?: DeferMode;
}

/**
 * 'off': every update at once (the reference). 'global': a response's tokens go into its local tree at once
 * and into the global tree at the next flush(); prompts wait for flush() too (nothing speculates from a
 * request before its first step). 'all': local trees wait for flush() as well.
 */
export type DeferMode = 'off' | 'global' | 'all';
export const DEFER_MODES: readonly DeferMode[] = ['off', 'global', 'all'];

/** An update waiting for flush(): tokens into a tree (a local one only while its request is active), or a seal. */
type Pending =
  | { readonly tree: SuffixTree; readonly id: RequestId | null; readonly seq: number; readonly tokens: Int32Array }
  | { readonly seal: number };

const MAX_SEQ_ID = 0x7fffffff;

/** Suffix decoding's cache: a suffix tree per active request and a global tree of earlier responses; `speculate` drafts from both (see docs/decoding.md). */
export class SuffixDecodingCache {
  readonly maxTreeDepth: number;
  readonly maxCachedRequests: number;
  private readonly global: SuffixTree;
  private readonly local = new Map<RequestId, SuffixTree>();
  // Insertion order of this map is the FIFO eviction order.
  private readonly seqOfReq = new Map<RequestId, number>();
  private readonly reqOfSeq = new Map<number, RequestId>();
  private nextSeqId = 0;
  readonly deferUpdates: DeferMode;
  private pending: Pending[] = [];
  /** local trees with updates in `pending` (their later updates queue behind them) */
  private readonly waiting = new Set<SuffixTree>();

  constructor(options: SuffixDecodingCacheOptions = {}) {
    const { maxTreeDepth = 64, maxCachedRequests = 100000, deferUpdates = 'off' } = options;
    checkInt(maxTreeDepth, 'SuffixDecodingCache: maxTreeDepth', 1, 1 << 20);
    checkInt(maxCachedRequests, 'SuffixDecodingCache: maxCachedRequests', -1, MAX_SEQ_ID);
    if (!DEFER_MODES.includes(deferUpdates)) throw new DecodingError(`SuffixDecodingCache: deferUpdates must be one of ${DEFER_MODES.join(', ')}, got ${String(deferUpdates)}`);
    this.maxTreeDepth = maxTreeDepth;
    this.maxCachedRequests = maxCachedRequests;
    this.deferUpdates = deferUpdates;
    this.global = new SuffixTree(maxTreeDepth, { initialNodes: 1024 });
  }

  get activeRequests(): RequestId[] { return [...this.local.keys()]; }
  get cachedRequests(): RequestId[] { return [...this.seqOfReq.keys()]; }
  get numActiveRequests(): number { return this.local.size; }
  get numCachedResponses(): number { return this.seqOfReq.size; }
  get globalTree(): SuffixTree { return this.global; }

  isActive(id: RequestId): boolean { return this.local.has(id); }

  /** updates waiting for flush() */
  get pendingUpdates(): number { return this.pending.length; }

  /**
   * Apply the deferred updates in the order they were made (a no-op with deferUpdates 'off'). The engine calls
   * it while the target pass runs on the device, between one step's speculation and the next.
   */
  flush(): void {
    if (this.pending.length === 0) return;
    const work = this.pending;
    this.pending = [];
    this.waiting.clear();
    for (const p of work) {
      if ('seal' in p) { if (this.global.hasSequence(p.seal)) this.global.seal(p.seal); continue; }
      // a stopped request's local tree is dropped: its updates are too
      if (p.id !== null && this.local.get(p.id) !== p.tree) continue;
      p.tree.extendChecked(p.seq, p.tokens);
    }
  }

  localTree(id: RequestId): SuffixTree {
    return this.active(id, 'localTree');
  }

  get globalNodes(): number { return this.global.numNodes; }
  get globalTokens(): number { return this.global.numTokens; }
  get localNodes(): number { let n = 0; for (const t of this.local.values()) n += t.numNodes; return n; }
  get localTokens(): number { let n = 0; for (const t of this.local.values()) n += t.numTokens; return n; }

  // Bytes of typed arrays held by all trees.
  bytes(): number {
    let b = this.global.bytes();
    for (const t of this.local.values()) b += t.bytes();
    return b;
  }

  startRequest(id: RequestId, promptTokens: TokenInput): void {
    checkRequestId(id);
    if (this.local.has(id)) throw new DecodingError(`startRequest: request ${showId(id)} is already active`);
    checkTokens(promptTokens, `startRequest(${showId(id)}): prompt`);
    const tree = new SuffixTree(this.maxTreeDepth, { initialNodes: Math.max(16, 2 * promptTokens.length) });
    if (this.maxCachedRequests !== 0) {
      // A finished request's id may be reused; its old response makes way for the new one (an eviction
      // applies what waits first).
      if (this.seqOfReq.has(id)) this.evictCachedResponse(id);
      this.allocateSeqId(id);
    }
    if (this.deferUpdates === 'off') tree.extendChecked(0, promptTokens);
    else if (promptTokens.length > 0) { this.pending.push({ tree, id, seq: 0, tokens: Int32Array.from(promptTokens) }); this.waiting.add(tree); }
    this.local.set(id, tree);
  }

  addActiveResponse(id: RequestId, tokens: TokenInput): void {
    const tree = this.active(id, 'addActiveResponse');
    checkTokens(tokens, `addActiveResponse(${showId(id)})`);
    if (tokens.length === 0) return;
    const mode = this.deferUpdates;
    const copy = mode === 'off' ? null : Int32Array.from(tokens);
    // behind its own prompt, if that still waits ('global' defers prompts)
    if (mode === 'all' || this.waiting.has(tree)) this.pending.push({ tree, id, seq: 0, tokens: copy! });
    else tree.extendChecked(0, tokens);
    const seq = this.seqOfReq.get(id);
    if (seq === undefined) return;
    if (copy) this.pending.push({ tree: this.global, id: null, seq, tokens: copy });
    else this.global.extendChecked(seq, tokens);
  }

  stopRequest(id: RequestId): void {
    this.waiting.delete(this.active(id, 'stopRequest'));
    this.local.delete(id);
    // The response is complete: seal it so its window is released and its suffixes go on endpoint lists.
    const seq = this.seqOfReq.get(id);
    if (seq === undefined) return;
    if (this.pending.length > 0) this.pending.push({ seal: seq });
    else if (this.global.hasSequence(seq)) this.global.seal(seq);
  }

  evictCachedResponse(id: RequestId): void {
    this.flush();
    const seq = this.seqOfReq.get(id);
    if (seq === undefined) throw new DecodingError(`evictCachedResponse: request ${showId(id)} is not cached`);
    this.seqOfReq.delete(id);
    this.reqOfSeq.delete(seq);
    if (this.global.hasSequence(seq)) this.global.remove(seq);
  }

  // The better of the local and the global draft; the local one on a tie.
  speculate(id: RequestId, context: TokenInput, options: SpeculateOptions): SuffixDraft {
    const tree = this.active(id, 'speculate');
    const what = `speculate(${showId(id)})`;
    // Only the last maxTreeDepth tokens are used, so only they are checked: a long context costs nothing extra.
    checkTokens(context, `${what}: context`, contextTailStart(context, this.maxTreeDepth));
    if (context.length === 0) throw new DecodingError(`${what}: context is empty`);
    const o = resolveSpecOptions(options, what);
    const ctx = context.length > this.maxTreeDepth ? tail(context, this.maxTreeDepth) : context;
    // Both trees hold this request's own tokens as an open sequence: its window answers most matches.
    const mine = speculateResolved(tree, ctx, o, tree.seqs.slotOf(0));
    if (this.maxCachedRequests === 0) return mine;
    const seq = this.seqOfReq.get(id);
    const theirs = speculateResolved(this.global, ctx, o, seq === undefined ? -1 : this.global.seqs.slotOf(seq));
    return mine.score >= theirs.score ? mine : theirs;
  }

  checkInvariants(): void {
    for (const p of this.pending) {
      if (!('seal' in p) && p.id === null && !this.reqOfSeq.has(p.seq)) throw new Error(`suffix cache invariant: a deferred update for sequence ${p.seq}, which no request holds`);
    }
    this.global.checkInvariants();
    for (const t of this.local.values()) t.checkInvariants();
    if (this.maxCachedRequests > 0 && this.seqOfReq.size > this.maxCachedRequests) {
      throw new Error(`suffix cache invariant: ${this.seqOfReq.size} cached responses exceed ${this.maxCachedRequests}`);
    }
  }

  private active(id: RequestId, op: string): SuffixTree {
    const t = this.local.get(id);
    if (t === undefined) throw new DecodingError(`${op}: request ${showId(id)} is not active`);
    return t;
  }

  private allocateSeqId(id: RequestId): void {
    // Sequence ids wrap at 2^31; skip ids still held by active requests, evict a stale holder otherwise.
    let seq: number;
    for (;;) {
      seq = this.nextSeqId;
      this.nextSeqId = (this.nextSeqId + 1) & MAX_SEQ_ID;
      const holder = this.reqOfSeq.get(seq);
      if (holder === undefined || !this.local.has(holder)) break;
    }
    const stale = this.reqOfSeq.get(seq);
    if (stale !== undefined) this.evictCachedResponse(stale);
    this.seqOfReq.set(id, seq);
    this.reqOfSeq.set(seq, id);
    if (this.maxCachedRequests < 0) return;
    while (this.seqOfReq.size > this.maxCachedRequests) {
      for (const [req, s] of this.seqOfReq) {
        if (s !== seq) { this.evictCachedResponse(req); break; }
      }
    }
  }
}

function checkRequestId(id: unknown): asserts id is RequestId {
  if (typeof id === 'string') return;
  if (typeof id === 'number' && Number.isFinite(id)) return;
  throw new DecodingError(`request id must be a string or a finite number, got ${String(id)}`);
}

function tail(ctx: TokenInput, n: number): TokenInput {
  if (ArrayBuffer.isView(ctx)) return (ctx as unknown as Int32Array).subarray(ctx.length - n);
  return Array.prototype.slice.call(ctx, ctx.length - n) as number[];
}
