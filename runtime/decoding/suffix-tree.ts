// A path-compressed, depth-limited suffix tree over int32 token sequences (ArcticInference's SuffixTree, spec
// §4.1), stored in typed arrays. Every suffix of every sequence, truncated to maxDepth tokens, is a path from
// the root; a node's count is the number of suffixes ending at or passing through it, and its children are
// kept sorted by count so the most likely continuation is always the head child.
//
// Appending a token extends the sequence's last maxDepth suffixes by one each (its window of active nodes),
// so the cost is O(maxDepth) per token whatever the tree's size. remove() walks every suffix of the
// sequence, undoing its counts, deleting nodes that reach zero and merging nodes left with one same-count
// child.
//
// Where each suffix ends is recorded on the end node's endpoint list, which remove() needs to repoint edge
// labels. A suffix still in the window is tracked by the window alone and is linked onto a list only when
// it leaves the window (reaches maxDepth) or the sequence is sealed: it saves an unlink and a link at every
// one of the maxDepth steps it takes.
import { ChildIndex, SCAN } from './child-index.ts';
import { EndpointPool } from './endpoint-pool.ts';
import { DecodingError } from './errors.ts';
import { NIL, NodeStore, ROOT } from './node-store.ts';
import { SequenceStore } from './sequence-store.ts';
import { SiblingOrder } from './sibling-order.ts';
import { checkTreeInvariants } from './suffix-invariants.ts';
import { speculateTree, type SpeculateOptions, type SuffixDraft } from './suffix-speculate.ts';
import { checkInt, checkToken, checkTokens, type TokenInput } from './validate.ts';

export type { SpeculateOptions, SuffixDraft } from './suffix-speculate.ts';

export interface SuffixTreeOptions {
  initialNodes?: number; // capacity hint for the node pools; they grow by doubling past it
}

/** A suffix tree over token sequences with per-node counts, the structure suffix decoding matches and drafts from. */
export class SuffixTree {
  readonly maxDepth: number;
  readonly nodes: NodeStore;
  readonly children: ChildIndex;
  readonly order: SiblingOrder;
  readonly endpoints: EndpointPool;
  readonly seqs: SequenceStore;

  constructor(maxDepth = 64, options: SuffixTreeOptions = {}) {
    checkInt(maxDepth, 'maxDepth', 1, 1 << 20);
    const cap = options.initialNodes ?? 16;
    checkInt(cap, 'initialNodes', 1, 1 << 30);
    this.maxDepth = maxDepth;
    this.nodes = new NodeStore(cap);
    this.children = new ChildIndex(this.nodes, cap);
    this.order = new SiblingOrder(this.nodes, 16);
    this.endpoints = new EndpointPool(this.nodes, cap);
    this.seqs = new SequenceStore(maxDepth);
  }

  get numSequences(): number { return this.seqs.size; }
  get numNodes(): number { return this.nodes.live; }
  get numTokens(): number { return this.seqs.storedTokens; }
  hasSequence(seqId: number): boolean { return this.seqs.slotOf(seqId) !== NIL; }
  sequenceIds(): number[] { return this.seqs.ids(); }

  sequenceLength(seqId: number): number {
    return this.seqs.length[this.slotOrThrow(seqId, 'sequenceLength')];
  }

  // Bytes held by the tree's typed arrays (capacity, not just the used part).
  bytes(): number {
    return this.nodes.bytes() + this.children.bytes() + this.order.bytes() + this.endpoints.bytes() + this.seqs.bytes();
  }

  append(seqId: number, token: number): void {
    checkInt(seqId, 'suffix tree: sequence id', 0, 0x7fffffff);
    checkToken(token, `suffix tree: sequence ${seqId}`);
    const slot = this.slotFor(seqId, 1);
    this.seqs.reserve(slot, 1);
    this.appendAt(slot, token);
  }

  extend(seqId: number, tokens: TokenInput): void {
    checkInt(seqId, 'suffix tree: sequence id', 0, 0x7fffffff);
    checkTokens(tokens, `suffix tree: sequence ${seqId}`);
    this.extendChecked(seqId, tokens);
  }

  // extend() for a caller that has already checked the id and every token (the cache, once per call for
  // both of its trees).
  extendChecked(seqId: number, tokens: TokenInput): void {
    if (tokens.length === 0) return;
    const slot = this.slotFor(seqId, tokens.length);
    this.seqs.reserve(slot, tokens.length);
    for (let i = 0; i < tokens.length; i++) this.appendAt(slot, tokens[i]);
  }

  // Declare a sequence complete: later appends are refused, and its window is released. Seal what will not
  // grow: remove() may have to search the windows of open sequences for a surviving occurrence.
  seal(seqId: number): void {
    const slot = this.slotOrThrow(seqId, 'seal');
    if (!this.seqs.open.has(slot)) return;
    const L = this.seqs.length[slot], D = this.maxDepth, win = this.seqs.window[slot];
    for (let j = L > D ? L - D : 0; j < L; j++) this.linkEnd(slot, j, win[j % D]);
    this.seqs.open.delete(slot);
    this.seqs.window[slot] = new Int32Array(0);
  }

  isSealed(seqId: number): boolean {
    return !this.seqs.open.has(this.slotOrThrow(seqId, 'isSealed'));
  }

  remove(seqId: number): void {
    this.removeSlot(this.slotOrThrow(seqId, 'remove'));
  }

  // `tailOf`: a sequence whose tail the context probably is (the request's own, while serving); it only
  // makes the call cheaper, the draft is the same either way.
  speculate(context: TokenInput, options: SpeculateOptions, tailOf?: number): SuffixDraft {
    return speculateTree(this, context, options, tailOf === undefined ? NIL : this.seqs.slotOf(tailOf));
  }

  // Throws an Error describing the first broken invariant; for tests.
  checkInvariants(): void {
    checkTreeInvariants(this);
  }

  // The child of n whose edge starts with token t, or NIL. The head child (the most frequent) is the usual
  // answer, so it is tried first; then narrow nodes are scanned and wide ones probed.
  childOf(n: number, t: number): number {
    const N = this.nodes, token = N.token;
    let c = N.head[n];
    if (c === NIL || token[c] === t) return c;
    if (N.wide[n] === 1) return this.children.find(n, t);
    const next = N.next;
    do c = next[c]; while (c !== NIL && token[c] !== t);
    return c;
  }

  private slotOrThrow(seqId: number, op: string): number {
    const s = this.seqs.slotOf(seqId);
    if (s === NIL) throw new DecodingError(`suffix tree: ${op}: unknown sequence ${seqId}`);
    return s;
  }

  private slotFor(seqId: number, extra: number): number {
    const s = this.seqs.slotOf(seqId);
    if (s === NIL) return this.seqs.create(seqId, extra);
    if (!this.seqs.open.has(s)) throw new DecodingError(`suffix tree: sequence ${seqId} is sealed`);
    return s;
  }

  private linkEnd(slot: number, start: number, node: number): void {
    const e = this.endpoints.alloc(slot, start);
    this.seqs.entry[slot][start] = e;
    this.endpoints.link(node, e);
  }

  // Extend the last maxDepth suffixes of the sequence in `slot` by `token` (room is already reserved).
  // The cases follow the reference: 1a extend a leaf in place, 1b add a child, 2a fuse into the only child,
  // 2b slide the edge boundary one token down, 3a step into a length-1 child, 3b split the child's edge.
  private appendAt(slot: number, token: number): void {
    const N = this.nodes, kids = this.children, order = this.order, seqs = this.seqs;
    const D = this.maxDepth;
    const L = seqs.length[slot];
    const win = seqs.window[slot];
    seqs.tokens[slot][L] = token;
    seqs.length[slot] = L + 1;
    seqs.storedTokens++;
    // The suffix that started D tokens ago is now maxDepth long and final; its ring slot goes to the new,
    // empty suffix starting at L, which is extended from the root with everyone else.
    if (L >= D) this.linkEnd(slot, L - D, win[L % D]);
    N.count[ROOT]++;
    win[L % D] = ROOT;
    for (let j = L + 1 > D ? L + 1 - D : 0; j <= L; j++) {
      const w = j % D;
      const n = win[w];
      const c = this.childOf(n, token);
      if (c === NIL) {
        if (n !== ROOT && N.count[n] === 1) {
          N.len[n]++; // 1a: n is a leaf holding only this suffix
          continue;
        }
        const m = N.alloc(); // 1b
        N.token[m] = token; N.count[m] = 1; N.len[m] = 1; N.refSeq[m] = slot; N.refIdx[m] = L;
        this.addChild(n, m);
        win[w] = m;
      } else if (n !== ROOT && N.count[n] === N.count[c] + 1) {
        // Only this suffix ends at n, and everything else through n continues into c.
        if (N.len[c] === 1) {
          // 2a: c absorbs n's edge and takes its place (c, an only child, is not indexed)
          const indexed = N.wide[N.parent[n]] === 1;
          if (indexed) kids.remove(n);
          order.detach(c);
          N.token[c] = N.token[n]; N.count[c] = N.count[n]; N.len[c] = N.len[n] + 1;
          N.refSeq[c] = slot; N.refIdx[c] = L + 1 - N.len[c];
          order.replace(n, c);
          if (indexed) kids.insert(c);
          N.free(n);
          win[w] = c;
        } else {
          N.len[n]++; // 2b: n's edge grows by c's first token; c's edge shrinks from the front
          N.refSeq[n] = slot; N.refIdx[n] = L + 1 - N.len[n];
          this.dropFirstToken(c);
        }
      } else if (N.len[c] === 1) {
        order.increment(c); // 3a
        N.refSeq[c] = slot; N.refIdx[c] = L;
        win[w] = c;
      } else {
        const m = N.alloc(); // 3b: split c after its first token; m takes c's place and count, then +1
        N.token[m] = token; N.len[m] = 1; N.refSeq[m] = slot; N.refIdx[m] = L; N.count[m] = N.count[c];
        const indexed = N.wide[n] === 1;
        if (indexed) kids.remove(c);
        order.replace(c, m);
        if (indexed) kids.insert(m);
        N.refIdx[c]++; N.len[c]--;
        N.token[c] = seqs.tokens[N.refSeq[c]][N.refIdx[c]];
        order.setOnlyChild(m, c);
        order.increment(m);
        win[w] = m;
      }
    }
  }

  private dropFirstToken(c: number): void {
    const N = this.nodes;
    const indexed = N.wide[N.parent[c]] === 1;
    if (indexed) this.children.remove(c);
    N.refIdx[c]++; N.len[c]--;
    N.token[c] = this.seqs.tokens[N.refSeq[c]][N.refIdx[c]];
    if (indexed) this.children.insert(c);
  }

  // Append m (count 1, parent unset) to n's children; n turns wide when it passes SCAN children.
  private addChild(n: number, m: number): void {
    const N = this.nodes;
    this.order.appendChild(n, m);
    if (N.wide[n] === 1) { this.children.insert(m); return; }
    let k = 0;
    for (let c = N.head[n]; c !== NIL; c = N.next[c]) k++;
    if (k <= SCAN) return;
    N.wide[n] = 1;
    for (let c = N.head[n]; c !== NIL; c = N.next[c]) this.children.insert(c);
  }

  // Delete leaf c from its parent's children; the parent turns narrow again at SCAN children.
  private deleteLeaf(c: number): void {
    const N = this.nodes, p = N.parent[c];
    if (N.wide[p] === 1) this.children.remove(c);
    this.order.detach(c);
    N.free(c);
    if (N.wide[p] === 0) return;
    let k = 0;
    for (let x = N.head[p]; x !== NIL && k <= SCAN; x = N.next[x]) k++;
    if (k > SCAN) return;
    for (let x = N.head[p]; x !== NIL; x = N.next[x]) this.children.remove(x);
    N.wide[p] = 0;
  }

  // Two phases. First undo every suffix's count (deleting leaves that reach zero, merging the suffix's end
  // node into its only child when nothing else ends there). The removed sequence's tokens stay readable
  // meanwhile, so labels that point into it remain valid; the second phase repoints them at a surviving
  // occurrence, found through an endpoint at or below each node.
  private removeSlot(slot: number): void {
    const N = this.nodes, order = this.order, eps = this.endpoints, seqs = this.seqs;
    const D = this.maxDepth;
    const L = seqs.length[slot], toks = seqs.tokens[slot], entry = seqs.entry[slot];
    const linkedBelow = seqs.open.has(slot) ? L - D : L; // suffixes starting before this are on endpoint lists
    seqs.open.delete(slot); // its window no longer counts as a witness for other nodes
    const stale: number[] = [];
    for (let i = 0; i < L; i++) {
      const end = i + D < L ? i + D : L;
      N.count[ROOT]--;
      let n = ROOT, idx = i, deleted = NIL;
      while (idx < end) {
        const c = this.childOf(n, toks[idx]);
        if (c === NIL) throw new Error(`suffix tree: sequence ${seqs.idOf[slot]} suffix ${i} is missing at ${idx}`);
        if (N.count[c] === 1) { deleted = c; break; } // only this suffix reaches c: c is its leaf
        order.decrement(c);
        if (N.refSeq[c] === slot) stale.push(c);
        idx += N.len[c];
        n = c;
      }
      if (i < linkedBelow) {
        const e = entry[i];
        eps.unlink(deleted !== NIL ? deleted : n, e);
        eps.free(e);
      }
      if (deleted !== NIL) this.deleteLeaf(deleted);
      if (n !== ROOT) this.mergeIntoOnlyChild(n, slot, stale);
    }
    for (let k = 0; k < stale.length; k++) {
      const x = stale[k];
      if (N.isLive(x) && N.refSeq[x] === slot) this.repoint(x, slot);
    }
    seqs.close(slot);
  }

  private mergeIntoOnlyChild(n: number, slot: number, stale: number[]): void {
    const N = this.nodes, kids = this.children, order = this.order;
    const h = N.head[n];
    if (h === NIL || N.next[h] !== NIL || N.count[h] !== N.count[n]) return;
    const indexed = N.wide[N.parent[n]] === 1; // h, an only child, is not indexed
    if (indexed) kids.remove(n);
    order.detach(h);
    N.token[h] = N.token[n]; N.len[h] += N.len[n]; N.refIdx[h] -= N.len[n];
    order.replace(n, h);
    if (indexed) kids.insert(h);
    N.free(n);
    if (N.refSeq[h] === slot) stale.push(h);
  }

  // Point x (and the nodes between x and the witness below it) at another occurrence of its label. Every
  // live node has children or suffixes ending at it, and none of those is the removed sequence's any more:
  // follow head children to a node with a linked endpoint, or to a leaf whose endings are all still in
  // some open sequence's window.
  private repoint(x: number, slot: number): void {
    const N = this.nodes, eps = this.endpoints, seqs = this.seqs;
    let y = x;
    while (N.ep[y] === NIL && N.head[y] !== NIL) y = N.head[y];
    let ws: number, end: number;
    if (N.ep[y] !== NIL) {
      const e = N.ep[y];
      ws = eps.slot[e];
      end = Math.min(eps.start[e] + this.maxDepth, seqs.length[ws]);
    } else {
      ws = this.openSlotEndingAt(y);
      end = seqs.length[ws]; // a suffix in the window ends where its sequence ends
    }
    let pos = end; // one past the last token of y's edge in sequence ws
    for (;;) {
      pos -= N.len[y];
      if (N.refSeq[y] === slot) { N.refSeq[y] = ws; N.refIdx[y] = pos; }
      if (y === x) break;
      y = N.parent[y];
    }
  }

  private openSlotEndingAt(node: number): number {
    const seqs = this.seqs, D = this.maxDepth;
    for (const s of seqs.open) {
      const L = seqs.length[s], win = seqs.window[s];
      for (let j = L > D ? L - D : 0; j < L; j++) if (win[j % D] === node) return s;
    }
    throw new Error(`suffix tree: node ${node} has no surviving occurrence`);
  }
}
