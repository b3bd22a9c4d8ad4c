// (parent, first token) -> child, as one open-addressing table for the whole tree. Slots hold only the child
// index: the key is read back from the node's own parent/token fields, so the table costs 4 bytes a slot.
// Linear probing with backward-shift deletion keeps lookups tombstone-free however many nodes come and go.
//
// Only the children of wide nodes (more than SCAN children) are indexed; narrow lists are scanned, which is
// faster than a probe and keeps most structural edits out of the table. Callers must remove an indexed node
// before changing its parent or token and insert it again afterwards.
import { NIL, type NodeStore } from './node-store.ts';

const MAX_LOAD = 0.6;

// Sibling lists up to this long are scanned instead of indexed.
export const SCAN = 4;

export class ChildIndex {
  private table: Int32Array;
  private mask: number;
  private size = 0;
  private readonly nodes: NodeStore;

  constructor(nodes: NodeStore, capacity = 16) {
    this.nodes = nodes;
    let c = 16;
    while (c * MAX_LOAD < capacity) c *= 2;
    this.table = new Int32Array(c).fill(NIL);
    this.mask = c - 1;
  }

  get entries(): number {
    return this.size;
  }

  find(parent: number, token: number): number {
    const table = this.table, mask = this.mask;
    const par = this.nodes.parent, tok = this.nodes.token;
    let i = slotOf(parent, token) & mask;
    for (;;) {
      const n = table[i];
      if (n === NIL) return NIL;
      if (tok[n] === token && par[n] === parent) return n;
      i = (i + 1) & mask;
    }
  }

  insert(node: number): void {
    if ((this.size + 1) > this.table.length * MAX_LOAD) this.rehash(this.table.length * 2);
    this.place(node);
    this.size++;
  }

  remove(node: number): void {
    const table = this.table, mask = this.mask;
    const par = this.nodes.parent, tok = this.nodes.token;
    let i = slotOf(par[node], tok[node]) & mask;
    while (table[i] !== node) {
      if (table[i] === NIL) throw new Error(`child index: node ${node} is not indexed`);
      i = (i + 1) & mask;
    }
    // Backward shift: pull later entries of the same probe run into the hole so no tombstone is needed.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const n = table[j];
      if (n === NIL) break;
      const home = slotOf(par[n], tok[n]) & mask;
      const movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
      if (movable) { table[i] = n; i = j; }
    }
    table[i] = NIL;
    this.size--;
  }

  bytes(): number {
    return this.table.byteLength;
  }

  private place(node: number): void {
    const table = this.table, mask = this.mask;
    let i = slotOf(this.nodes.parent[node], this.nodes.token[node]) & mask;
    while (table[i] !== NIL) i = (i + 1) & mask;
    table[i] = node;
  }

  private rehash(capacity: number): void {
    const old = this.table;
    this.table = new Int32Array(capacity).fill(NIL);
    this.mask = capacity - 1;
    for (let i = 0; i < old.length; i++) if (old[i] !== NIL) this.place(old[i]);
  }
}

// Multiplicative mixing of both halves of the key; the final xor-shift spreads high bits into the low
// bits that the mask keeps.
function slotOf(parent: number, token: number): number {
  let h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(token, 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}
