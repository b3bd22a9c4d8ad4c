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
}

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

  constructor(options: SuffixDecodingCacheOptions = {}) {
    const { maxTreeDepth = 64, maxCachedRequests = 100000 } = options;
    checkInt(maxTreeDepth, 'SuffixDecodingCache: maxTreeDepth', 1, 1 << 20);
    checkInt(maxCachedRequests, 'SuffixDecodingCache: maxCachedRequests', -1, MAX_SEQ_ID);
    this.maxTreeDepth = maxTreeDepth;
    this.maxCachedRequests = maxCachedRequests;
    this.global = new SuffixTree(maxTreeDepth, { initialNodes: 1024 });
  }

  get activeRequests(): RequestId[] { return [...this.local.keys()]; }
  get cachedRequests(): RequestId[] { return [...this.seqOfReq.keys()]; }
  get numActiveRequests(): number { return this.local.size; }
  get numCachedResponses(): number { return this.seqOfReq.size; }
  get globalTree(): SuffixTree { return this.global; }

  isActive(id: RequestId): boolean { return this.local.has(id); }

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
    tree.extendChecked(0, promptTokens);
    this.local.set(id, tree);
    if (this.maxCachedRequests !== 0) {
      // A finished request's id may be reused; its old response makes way for the new one.
      if (this.seqOfReq.has(id)) this.evictCachedResponse(id);
      this.allocateSeqId(id);
    }
  }

  addActiveResponse(id: RequestId, tokens: TokenInput): void {
    const tree = this.active(id, 'addActiveResponse');
    checkTokens(tokens, `addActiveResponse(${showId(id)})`);
    tree.extendChecked(0, tokens);
    const seq = this.seqOfReq.get(id);
    if (seq !== undefined) this.global.extendChecked(seq, tokens);
  }

  stopRequest(id: RequestId): void {
    this.active(id, 'stopRequest');
    this.local.delete(id);
    // The response is complete: seal it so its window is released and its suffixes go on endpoint lists.
    const seq = this.seqOfReq.get(id);
    if (seq !== undefined && this.global.hasSequence(seq)) this.global.seal(seq);
  }

  evictCachedResponse(id: RequestId): void {
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
