// KV-cache slots: one per resident request, each Lmax positions long. A slot's length is host
// bookkeeping only: rolling back r rejected tokens lowers it and copies nothing, because attention
// reads positions 0…p of the query's own position p (docs/targets.md).
/** A request the target cannot run (bad token ids, lengths past max-model-len, no free slot); names the request. */
export class TargetError extends Error {
  override name = 'TargetError';
}

export class KvSlots {
  readonly count: number;
  readonly maxLen: number;
  readonly #length: Int32Array;
  readonly #owner: (string | null)[];
  readonly #free: number[];

  constructor(count: number, maxLen: number) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`KV slots: count must be a positive integer, got ${count}`);
    if (!Number.isInteger(maxLen) || maxLen < 2) throw new RangeError(`KV slots: max-model-len must be an integer ≥ 2, got ${maxLen}`);
    this.count = count;
    this.maxLen = maxLen;
    this.#length = new Int32Array(count);
    this.#owner = Array.from({ length: count }, () => null);
    this.#free = Array.from({ length: count }, (_, i) => count - 1 - i);
  }

  get inUse(): number { return this.count - this.#free.length; }
  get available(): number { return this.#free.length; }

  /** A free slot for `owner` (a request name for errors), at length 0. */
  acquire(owner: string): number {
    const s = this.#free.pop();
    if (s === undefined) throw new TargetError(`${owner}: all ${this.count} KV-cache slots are in use (raise max-num-seqs or finish a request first)`);
    this.#owner[s] = owner;
    this.#length[s] = 0;
    return s;
  }

  release(slot: number): void {
    this.#check(slot);
    this.#owner[slot] = null;
    this.#length[slot] = 0;
    this.#free.push(slot);
  }

  owner(slot: number): string { this.#check(slot); return this.#owner[slot]!; }
  length(slot: number): number { this.#check(slot); return this.#length[slot]; }

  /** Positions [length, length + n) are written by the next pass; checked against max-model-len first. */
  checkRoom(slot: number, n: number): void {
    const len = this.length(slot);
    if (len + n > this.maxLen) {
      throw new TargetError(`${this.#owner[slot]}: ${len} cached + ${n} new tokens = ${len + n} exceeds max-model-len ${this.maxLen}`);
    }
  }

  advance(slot: number, n: number): void { this.checkRoom(slot, n); this.#length[slot] += n; }

  /** Forget the last r positions (rejected draft tokens): no data moves. */
  rollback(slot: number, r: number): void {
    const len = this.length(slot);
    if (!Number.isInteger(r) || r < 0 || r > len) throw new TargetError(`${this.#owner[slot]}: cannot roll back ${r} of ${len} cached tokens`);
    this.#length[slot] = len - r;
  }

  #check(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.count || this.#owner[slot] === null) throw new TargetError(`KV slot ${slot} is not in use`);
  }
}
