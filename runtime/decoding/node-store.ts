// Struct-of-arrays storage for suffix-tree nodes: one Int32Array per field, grown by doubling, with a free
// list threaded through `next`. A node is just an index, so the tree allocates no JS object per node and the
// garbage collector never sees the tree's shape.
//
// Sibling lists are doubly linked through next/prev, but prev is circular at the head (prev[head] = tail):
// that gives O(1) append-at-tail without a tail field per node.

export const NIL = -1;
export const ROOT = 0;
const FREED = -2; // parent value of a node on the free list; a live non-root node's parent is >= 0

export class NodeStore {
  count: Int32Array;  // suffixes that end at or pass through the node
  token: Int32Array;  // first token of the incoming edge (the child-index key)
  len: Int32Array;    // tokens on the incoming edge
  refSeq: Int32Array; // sequence slot holding the edge's tokens
  refIdx: Int32Array; // index of the edge's first token in that sequence
  parent: Int32Array;
  next: Int32Array;   // next sibling (NIL at the tail); free-list link for freed nodes
  prev: Int32Array;   // previous sibling; for the head child, the tail child
  head: Int32Array;   // first (most frequent) child
  group: Int32Array;  // equal-count run this node belongs to among its siblings (see sibling-order.ts)
  ep: Int32Array;     // head of the list of suffixes that end exactly here, once out of their window (endpoint-pool.ts)
  wide: Uint8Array;   // 1 when the node has more than SCAN children, which are then in the child index
  capacity: number;
  highWater = 0;      // indices below this have been handed out at least once
  live = 0;
  private freeHead = NIL;

  constructor(capacity = 16) {
    this.capacity = Math.max(2, capacity);
    const c = this.capacity;
    this.count = new Int32Array(c); this.token = new Int32Array(c); this.len = new Int32Array(c);
    this.refSeq = new Int32Array(c); this.refIdx = new Int32Array(c); this.parent = new Int32Array(c);
    this.next = new Int32Array(c); this.prev = new Int32Array(c); this.head = new Int32Array(c);
    this.group = new Int32Array(c); this.ep = new Int32Array(c); this.wide = new Uint8Array(c);
    const root = this.alloc();
    this.parent[root] = NIL; this.refIdx[root] = NIL; this.refSeq[root] = NIL;
  }

  // A fresh node with no children, no endpoints and no siblings; the caller fills in the rest.
  alloc(): number {
    let n = this.freeHead;
    if (n !== NIL) {
      this.freeHead = this.next[n];
    } else {
      if (this.highWater === this.capacity) this.grow();
      n = this.highWater++;
    }
    this.live++;
    this.head[n] = NIL; this.ep[n] = NIL; this.next[n] = NIL; this.prev[n] = NIL; this.group[n] = NIL;
    this.wide[n] = 0;
    return n;
  }

  free(n: number): void {
    this.count[n] = 0;
    this.parent[n] = FREED;
    this.next[n] = this.freeHead;
    this.freeHead = n;
    this.live--;
  }

  isLive(n: number): boolean {
    return n === ROOT || (n > 0 && n < this.highWater && this.parent[n] !== FREED);
  }

  bytes(): number {
    return (11 * 4 + 1) * this.capacity;
  }

  private grow(): void {
    const c = this.capacity * 2;
    const g = (a: Int32Array): Int32Array => { const b = new Int32Array(c); b.set(a); return b; };
    this.count = g(this.count); this.token = g(this.token); this.len = g(this.len);
    this.refSeq = g(this.refSeq); this.refIdx = g(this.refIdx); this.parent = g(this.parent);
    this.next = g(this.next); this.prev = g(this.prev); this.head = g(this.head);
    this.group = g(this.group); this.ep = g(this.ep);
    const w = new Uint8Array(c); w.set(this.wide); this.wide = w;
    this.capacity = c;
  }
}
