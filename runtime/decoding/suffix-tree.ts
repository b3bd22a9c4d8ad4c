// A path-compressed, depth-limited suffix tree over int32 token sequences (ArcticInference's SuffixTree, spec
// §4.1), stored in typed arrays. Every suffix of every sequence, truncated to maxDepth tokens, is a path from
// the root; a node's count is the number of suffixes ending at or passing through it, and its children are
// kept sorted by count so the most likely continuation is always the head child.
//
// Appending a token extends the sequence's last maxDepth suffixes by one each (its "active" nodes), so the
// cost is O(maxDepth) per token whatever the tree's size. remove() walks every suffix of the sequence,
// undoing its counts, deleting nodes that reach zero and merging nodes left with a single same-count child.
import { ChildIndex } from './child-index.ts';
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
    this.order = new SiblingOrder(this.nodes, cap);
    this.endpoints = new EndpointPool(this.nodes, cap);
    this.seqs = new SequenceStore(maxDepth);
  }

  get numSequences(): number { return this.seqs.size; }
  get numNodes(): number { return this.nodes.live; }
  get numTokens(): number { return this.seqs.storedTokens; }
  hasSequence(seqId: number): boolean { return this.seqs.slotOf(seqId) !== NIL; }
  sequenceIds(): number[] { return this.seqs.ids(); }

  sequenceLength(seqId: number): number {
    const s = this.seqs.slotOf(seqId);
    if (s === NIL) throw new DecodingError(`suffix tree: unknown sequence ${seqId}`);
    return this.seqs.length[s];
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
    if (tokens.length === 0) return;
    const slot = this.slotFor(seqId, tokens.length);
    this.seqs.reserve(slot, tokens.length);
    for (let i = 0; i < tokens.length; i++) this.appendAt(slot, tokens[i]);
  }

  remove(seqId: number): void {
    const slot = this.seqs.slotOf(seqId);
    if (slot === NIL) throw new DecodingError(`suffix tree: cannot remove unknown sequence ${seqId}`);
    this.removeSlot(slot);
  }

  speculate(context: TokenInput, options: SpeculateOptions): SuffixDraft {
    return speculateTree(this, context, options);
  }

  // Throws an Error describing the first broken invariant; for tests.
  checkInvariants(): void {
    checkTreeInvariants(this);
  }

  private slotFor(seqId: number, extra: number): number {
    const s = this.seqs.slotOf(seqId);
    return s !== NIL ? s : this.seqs.open(seqId, extra);
  }

  // Extend the last maxDepth suffixes of the sequence in `slot` by `token` (room is already reserved).
  // The cases follow the reference: 1a extend a leaf in place, 1b add a child, 2a fuse into the only child,
  // 2b slide the edge boundary one token down, 3a step into a length-1 child, 3b split the child's edge.
  private appendAt(slot: number, token: number): void {
    const N = this.nodes, kids = this.children, order = this.order, eps = this.endpoints, seqs = this.seqs;
    const D = this.maxDepth;
    const L = seqs.length[slot];
    const toks = seqs.tokens[slot], entry = seqs.entry[slot], win = seqs.window[slot];
    toks[L] = token;
    seqs.length[slot] = L + 1;
    seqs.storedTokens++;
    // The new empty suffix starting at L joins at the root and is extended with everyone else below.
    const e0 = eps.alloc(slot, L);
    entry[L] = e0;
    eps.link(ROOT, e0);
    N.count[ROOT]++;
    win[L % D] = ROOT;
    for (let j = L + 1 > D ? L + 1 - D : 0; j <= L; j++) {
      const w = j % D;
      const n = win[w];
      const c = kids.find(n, token);
      if (c === NIL) {
        if (n !== ROOT && N.count[n] === 1) {
          N.len[n]++; // 1a: n is a leaf holding only this suffix
          continue;
        }
        const m = N.alloc(); // 1b
        N.token[m] = token; N.count[m] = 1; N.len[m] = 1; N.refSeq[m] = slot; N.refIdx[m] = L;
        N.parent[m] = n;
        kids.insert(m);
        order.appendChild(n, m);
        eps.move(entry[j], n, m);
        win[w] = m;
      } else if (n !== ROOT && N.count[n] === N.count[c] + 1) {
        // Only this suffix ends at n, and everything else through n continues into c.
        if (N.len[c] === 1) {
          const p = N.parent[n]; // 2a: c absorbs n's edge and takes its place
          kids.remove(n); kids.remove(c);
          order.detach(c);
          N.token[c] = N.token[n]; N.count[c] = N.count[n]; N.len[c] = N.len[n] + 1;
          N.refSeq[c] = slot; N.refIdx[c] = L + 1 - N.len[c];
          N.parent[c] = p; // replace() reads the parent from n
          order.replace(n, c);
          kids.insert(c);
          eps.move(entry[j], n, c);
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
        eps.move(entry[j], n, c);
        win[w] = c;
      } else {
        const m = N.alloc(); // 3b: split c after its first token; m takes c's place and count, then +1
        N.token[m] = token; N.len[m] = 1; N.refSeq[m] = slot; N.refIdx[m] = L; N.count[m] = N.count[c];
        kids.remove(c);
        N.parent[m] = n;
        order.replace(c, m);
        kids.insert(m);
        N.refIdx[c]++; N.len[c]--;
        N.token[c] = seqs.tokens[N.refSeq[c]][N.refIdx[c]];
        order.setOnlyChild(m, c);
        kids.insert(c);
        order.increment(m);
        eps.move(entry[j], n, m);
        win[w] = m;
      }
    }
  }

  private dropFirstToken(c: number): void {
    const N = this.nodes;
    N.refIdx[c]++; N.len[c]--;
    const t = this.seqs.tokens[N.refSeq[c]][N.refIdx[c]];
    if (t !== N.token[c]) { this.children.remove(c); N.token[c] = t; this.children.insert(c); }
  }

  // Two phases. First undo every suffix's count (deleting leaves that reach zero, merging the suffix's end
  // node into its only child when nothing else ends there). The removed sequence's tokens stay readable
  // meanwhile, so labels that point into it remain valid; the second phase repoints them at a surviving
  // occurrence, found through an endpoint at or below each node.
  private removeSlot(slot: number): void {
    const N = this.nodes, kids = this.children, order = this.order, eps = this.endpoints, seqs = this.seqs;
    const D = this.maxDepth;
    const L = seqs.length[slot], toks = seqs.tokens[slot], entry = seqs.entry[slot];
    const stale: number[] = [];
    for (let i = 0; i < L; i++) {
      const end = i + D < L ? i + D : L;
      const e = entry[i];
      N.count[ROOT]--;
      let n = ROOT, idx = i, ended = false;
      while (idx < end) {
        const c = kids.find(n, toks[idx]);
        if (c === NIL) throw new Error(`suffix tree: sequence ${seqs.idOf[slot]} suffix ${i} is missing at ${idx}`);
        if (N.count[c] === 1) {
          // Only this suffix reaches c, so c is a leaf and this suffix ends there.
          eps.unlink(c, e);
          order.detach(c);
          kids.remove(c);
          N.free(c);
          ended = true;
          break;
        }
        order.decrement(c);
        if (N.refSeq[c] === slot) stale.push(c);
        idx += N.len[c];
        n = c;
      }
      if (!ended) eps.unlink(n, e);
      eps.free(e);
      if (n !== ROOT && N.ep[n] === NIL) this.mergeIntoOnlyChild(n, slot, stale);
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
    kids.remove(n); kids.remove(h);
    order.detach(h);
    N.token[h] = N.token[n]; N.len[h] += N.len[n]; N.refIdx[h] -= N.len[n];
    N.parent[h] = N.parent[n];
    order.replace(n, h);
    kids.insert(h);
    N.free(n);
    if (N.refSeq[h] === slot) stale.push(h);
  }

  // Point x (and every node between x and the witness below it) at another occurrence of its label. Every
  // live node has endpoints or children, and all of the removed sequence's endpoints are already gone.
  private repoint(x: number, slot: number): void {
    const N = this.nodes, eps = this.endpoints, seqs = this.seqs;
    let y = x;
    while (N.ep[y] === NIL) y = N.head[y];
    const e = N.ep[y];
    const ws = eps.slot[e];
    const wend = Math.min(eps.start[e] + this.maxDepth, seqs.length[ws]);
    let pos = wend; // one past the last token of y's edge in sequence ws
    for (;;) {
      pos -= N.len[y];
      if (N.refSeq[y] === slot) { N.refSeq[y] = ws; N.refIdx[y] = pos; }
      if (y === x) break;
      y = N.parent[y];
    }
  }
}
