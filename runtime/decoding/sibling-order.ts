// Keeps every node's children in a doubly linked list sorted by decreasing count, so head[node] is always the
// most frequent continuation and tree speculation can stop at the first child below the probability floor.
//
// Counts only ever move by one. Each run of two or more equal-count siblings is a "group" with a head and a
// tail, so an increment moves the node to just before its run's head and a decrement to just after its run's
// tail: O(1) however many siblings share the count (the root has thousands of count-1 children). A node
// alone in its run has group NIL and needs no record, which is most nodes. The order among equal counts is
// the one ArcticInference's group-based list produces (since its commit 1bc893f): an incremented node goes
// behind the siblings that already had the new count, except that the first of a run goes in front of them;
// a decremented one goes in front of those that already had it; a new child (count 1) goes last.
import { NIL, type NodeStore } from './node-store.ts';

export class SiblingOrder {
  gHead: Int32Array;
  gTail: Int32Array;
  private freeGroup = NIL;
  private used = 0;
  live = 0;
  private readonly n: NodeStore;

  constructor(nodes: NodeStore, capacity = 16) {
    this.n = nodes;
    this.gHead = new Int32Array(capacity);
    this.gTail = new Int32Array(capacity);
  }

  // Append x (count already set, at most every sibling's count) as the last child of p.
  appendChild(p: number, x: number): void {
    const n = this.n;
    const h = n.head[p];
    n.parent[x] = p; n.group[x] = NIL;
    if (h === NIL) { n.head[p] = x; n.prev[x] = x; n.next[x] = NIL; return; }
    const t = n.prev[h];
    n.next[t] = x; n.prev[x] = t; n.next[x] = NIL; n.prev[h] = x;
    if (n.count[t] === n.count[x]) this.joinAfter(t, x);
  }

  // Make x the only child of p (p must have none).
  setOnlyChild(p: number, x: number): void {
    const n = this.n;
    n.parent[x] = p; n.head[p] = x; n.prev[x] = x; n.next[x] = NIL; n.group[x] = NIL;
  }

  // The order among equal counts is the peer's (ArcticInference's group list): a node that was the first of
  // its run and is raised to its predecessor's count goes in front of that run; any other raised node goes
  // just behind the siblings that already had the new count.
  increment(x: number): void {
    const n = this.n, count = n.count;
    const k = count[x];
    const g = n.group[x];
    const pv = n.head[n.parent[x]] === x ? NIL : n.prev[x];
    if (pv !== NIL && count[pv] === k + 1) {
      // x heads its run (its predecessor has a higher count): it moves before the head of pv's run.
      if (g !== NIL) this.leave(g, x);
      const pg = n.group[pv];
      const target = pg === NIL ? pv : this.gHead[pg];
      this.unlink(x);
      this.linkBefore(x, target);
      count[x] = k + 1;
      this.joinBefore(target, x);
      return;
    }
    if (g !== NIL) {
      const h = this.gHead[g];
      this.leave(g, x);
      if (x !== h) { this.unlink(x); this.linkBefore(x, h); }
    }
    count[x] = k + 1;
    if (n.head[n.parent[x]] !== x) {
      const p = n.prev[x];
      if (count[p] === k + 1) this.joinAfter(p, x);
    }
  }

  // Decrement to a count that is still >= 1 (a node reaching 0 is deleted with detach instead).
  decrement(x: number): void {
    const n = this.n, count = n.count;
    const k = count[x];
    const g = n.group[x];
    if (g !== NIL) {
      const t = this.gTail[g];
      this.leave(g, x);
      if (x !== t) { this.unlink(x); this.linkAfter(x, t); }
    }
    count[x] = k - 1;
    const nx = n.next[x];
    if (nx !== NIL && count[nx] === k - 1) this.joinBefore(nx, x);
  }

  // Take x out of its parent's list (and out of its group) entirely.
  detach(x: number): void {
    const g = this.n.group[x];
    if (g !== NIL) this.leave(g, x);
    this.unlink(x);
  }

  // b (detached, same count as a) takes a's exact place: same position, same group, same parent.
  replace(a: number, b: number): void {
    const n = this.n;
    const p = n.parent[a], g = n.group[a];
    n.parent[b] = p; n.group[b] = g;
    if (g !== NIL) {
      if (this.gHead[g] === a) this.gHead[g] = b;
      if (this.gTail[g] === a) this.gTail[g] = b;
    }
    const nx = n.next[a], pv = n.prev[a];
    const h = n.head[p];
    n.next[b] = nx;
    if (h === a) {
      n.head[p] = b;
      n.prev[b] = pv === a ? b : pv; // a single child's prev is itself
      if (nx !== NIL) n.prev[nx] = b;
    } else {
      n.prev[b] = pv; n.next[pv] = b;
      if (nx !== NIL) n.prev[nx] = b; else n.prev[h] = b;
    }
    n.group[a] = NIL;
  }

  bytes(): number {
    return this.gHead.byteLength + this.gTail.byteLength;
  }

  // x leaves group g (its list position is unchanged); a group left with one member dissolves.
  private leave(g: number, x: number): void {
    const n = this.n;
    if (this.gHead[g] === x) this.gHead[g] = n.next[x];
    else if (this.gTail[g] === x) this.gTail[g] = n.prev[x];
    n.group[x] = NIL;
    const h = this.gHead[g];
    if (h === this.gTail[g]) { n.group[h] = NIL; this.release(g); }
  }

  // x, now directly after y with y's count, becomes the tail of y's run.
  private joinAfter(y: number, x: number): void {
    const n = this.n;
    let g = n.group[y];
    if (g === NIL) { g = this.alloc(y); n.group[y] = g; }
    n.group[x] = g; this.gTail[g] = x;
  }

  // x, now directly before y with y's count, becomes the head of y's run.
  private joinBefore(y: number, x: number): void {
    const n = this.n;
    let g = n.group[y];
    if (g === NIL) { g = this.alloc(y); n.group[y] = g; }
    n.group[x] = g; this.gHead[g] = x;
  }

  private unlink(x: number): void {
    const n = this.n;
    const p = n.parent[x], h = n.head[p], nx = n.next[x];
    if (h === x) {
      if (nx === NIL) n.head[p] = NIL;
      else { n.head[p] = nx; n.prev[nx] = n.prev[x]; }
    } else {
      const pv = n.prev[x];
      n.next[pv] = nx;
      if (nx === NIL) n.prev[h] = pv; else n.prev[nx] = pv;
    }
  }

  // Insert x before y; x is already unlinked, y is in x's parent's list.
  private linkBefore(x: number, y: number): void {
    const n = this.n;
    const p = n.parent[x], pv = n.prev[y];
    n.next[x] = y; n.prev[x] = pv; n.prev[y] = x;
    if (n.head[p] === y) n.head[p] = x; else n.next[pv] = x;
  }

  private linkAfter(x: number, y: number): void {
    const n = this.n;
    const nx = n.next[y];
    n.next[y] = x; n.prev[x] = y; n.next[x] = nx;
    if (nx === NIL) n.prev[n.head[n.parent[x]]] = x; else n.prev[nx] = x;
  }

  // A group whose head and tail are both `member` (the caller adds the second member).
  private alloc(member: number): number {
    let g = this.freeGroup;
    if (g !== NIL) this.freeGroup = this.gHead[g];
    else {
      if (this.used === this.gHead.length) this.grow();
      g = this.used++;
    }
    this.gHead[g] = member; this.gTail[g] = member;
    this.live++;
    return g;
  }

  private release(g: number): void {
    this.gHead[g] = this.freeGroup;
    this.freeGroup = g;
    this.live--;
  }

  private grow(): void {
    const c = this.gHead.length * 2;
    const h = new Int32Array(c); h.set(this.gHead); this.gHead = h;
    const t = new Int32Array(c); t.set(this.gTail); this.gTail = t;
  }
}
