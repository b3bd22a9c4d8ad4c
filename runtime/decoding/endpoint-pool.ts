// Which suffixes end exactly at a node. Every stored suffix (sequence slot, start index) that has left its
// sequence's active window has one entry, on the list of the node where its depth-limited path ends (suffixes
// still in a window are found through the window). remove() needs them to find, for a node whose edge label
// pointed into the removed sequence, another sequence that still contains that label; the lists are doubly
// linked so that remove() unlinks each of the removed sequence's entries in O(1).
import { NIL, type NodeStore } from './node-store.ts';

export class EndpointPool {
  slot: Int32Array;
  start: Int32Array;
  next: Int32Array; // NIL-terminated; free-list link for freed entries
  prev: Int32Array; // NIL at the list head
  private freeHead = NIL;
  private used = 0;
  live = 0;
  private readonly nodes: NodeStore;

  constructor(nodes: NodeStore, capacity = 16) {
    this.nodes = nodes;
    this.slot = new Int32Array(capacity); this.start = new Int32Array(capacity);
    this.next = new Int32Array(capacity); this.prev = new Int32Array(capacity);
  }

  alloc(slot: number, start: number): number {
    let e = this.freeHead;
    if (e !== NIL) this.freeHead = this.next[e];
    else {
      if (this.used === this.slot.length) this.grow();
      e = this.used++;
    }
    this.slot[e] = slot; this.start[e] = start;
    this.live++;
    return e;
  }

  free(e: number): void {
    this.next[e] = this.freeHead;
    this.freeHead = e;
    this.slot[e] = NIL;
    this.live--;
  }

  link(node: number, e: number): void {
    const ep = this.nodes.ep;
    const h = ep[node];
    this.next[e] = h; this.prev[e] = NIL;
    if (h !== NIL) this.prev[h] = e;
    ep[node] = e;
  }

  unlink(node: number, e: number): void {
    const nx = this.next[e], pv = this.prev[e];
    if (pv === NIL) this.nodes.ep[node] = nx; else this.next[pv] = nx;
    if (nx !== NIL) this.prev[nx] = pv;
  }

  move(e: number, from: number, to: number): void {
    this.unlink(from, e);
    this.link(to, e);
  }

  bytes(): number {
    return 4 * 4 * this.slot.length;
  }

  private grow(): void {
    const c = this.slot.length * 2;
    const g = (a: Int32Array): Int32Array => { const b = new Int32Array(c); b.set(a); return b; };
    this.slot = g(this.slot); this.start = g(this.start); this.next = g(this.next); this.prev = g(this.prev);
  }
}
