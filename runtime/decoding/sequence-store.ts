// The token sequences a suffix tree indexes. Edge labels are (slot, index) references into these arrays, so
// every token is stored once however many nodes it labels. External sequence ids are arbitrary int32s; the
// tree works with dense slots so that a reference is two array loads, never a Map lookup.
import { NIL } from './node-store.ts';

export class SequenceStore {
  tokens: Int32Array[] = [];  // per slot, capacity grows by doubling
  entry: Int32Array[] = [];   // per slot: endpoint entry of the suffix starting at each index, once linked
  window: Int32Array[] = [];  // per open slot: ring of the nodes where the last maxDepth suffixes end
  length: number[] = [];
  idOf: number[] = [];
  // Open sequences can still grow: their last maxDepth suffixes live in the window only, not on endpoint
  // lists. Sealing links them and drops the window.
  readonly open = new Set<number>();
  private readonly slotOfId = new Map<number, number>();
  private freeSlots: number[] = [];
  private readonly maxDepth: number;
  storedTokens = 0;

  constructor(maxDepth: number) {
    this.maxDepth = maxDepth;
  }

  get size(): number {
    return this.slotOfId.size;
  }

  slotOf(id: number): number {
    const s = this.slotOfId.get(id);
    return s === undefined ? NIL : s;
  }

  ids(): number[] {
    return [...this.slotOfId.keys()];
  }

  create(id: number, capacity: number): number {
    const s = this.freeSlots.length > 0 ? this.freeSlots.pop()! : this.tokens.length;
    const c = Math.max(4, capacity);
    this.tokens[s] = new Int32Array(c);
    this.entry[s] = new Int32Array(c);
    this.window[s] = new Int32Array(this.maxDepth);
    this.length[s] = 0;
    this.idOf[s] = id;
    this.slotOfId.set(id, s);
    this.open.add(s);
    return s;
  }

  close(slot: number): void {
    this.storedTokens -= this.length[slot];
    this.slotOfId.delete(this.idOf[slot]);
    this.open.delete(slot);
    const empty = new Int32Array(0);
    this.tokens[slot] = empty; this.entry[slot] = empty; this.window[slot] = empty;
    this.length[slot] = 0;
    this.idOf[slot] = NIL;
    this.freeSlots.push(slot);
  }

  // Make room for `extra` more tokens in a slot.
  reserve(slot: number, extra: number): void {
    const need = this.length[slot] + extra;
    let c = this.tokens[slot].length;
    if (need <= c) return;
    while (c < need) c *= 2;
    const t = new Int32Array(c); t.set(this.tokens[slot]); this.tokens[slot] = t;
    const e = new Int32Array(c); e.set(this.entry[slot]); this.entry[slot] = e;
  }

  bytes(): number {
    let b = 0;
    for (let s = 0; s < this.tokens.length; s++) {
      b += this.tokens[s].byteLength + this.entry[s].byteLength + this.window[s].byteLength;
    }
    return b;
  }
}
