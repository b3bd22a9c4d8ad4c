// A max-heap of tree-speculation items (prob, node, edge offset, parent draft index) in parallel typed
// arrays. Ties on probability pop in insertion order, which makes tree drafts deterministic.
export class DraftHeap {
  private prob: Float64Array = new Float64Array(64);
  private seq: Float64Array = new Float64Array(64);
  private node: Int32Array = new Int32Array(64);
  private idx: Int32Array = new Int32Array(64);
  private parent: Int32Array = new Int32Array(64);
  private counter = 0;
  size = 0;
  topProb = 0;
  topNode = 0;
  topIdx = 0;
  topParent = 0;

  clear(): void {
    this.size = 0;
    this.counter = 0;
  }

  push(prob: number, node: number, idx: number, parent: number): void {
    if (this.size === this.prob.length) this.grow();
    let i = this.size++;
    const s = this.counter++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(prob, s, this.prob[p], this.seq[p])) break;
      this.move(p, i);
      i = p;
    }
    this.set(i, prob, s, node, idx, parent);
  }

  // Removes the top item into topProb/topNode/topIdx/topParent.
  pop(): void {
    this.topProb = this.prob[0]; this.topNode = this.node[0]; this.topIdx = this.idx[0]; this.topParent = this.parent[0];
    const last = --this.size;
    if (last === 0) return;
    const prob = this.prob[last], s = this.seq[last];
    const node = this.node[last], idx = this.idx[last], parent = this.parent[last];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= last) break;
      if (c + 1 < last && this.before(this.prob[c + 1], this.seq[c + 1], this.prob[c], this.seq[c])) c++;
      if (!this.before(this.prob[c], this.seq[c], prob, s)) break;
      this.move(c, i);
      i = c;
    }
    this.set(i, prob, s, node, idx, parent);
  }

  private before(pa: number, sa: number, pb: number, sb: number): boolean {
    return pa > pb || (pa === pb && sa < sb);
  }

  private move(from: number, to: number): void {
    this.prob[to] = this.prob[from]; this.seq[to] = this.seq[from];
    this.node[to] = this.node[from]; this.idx[to] = this.idx[from]; this.parent[to] = this.parent[from];
  }

  private set(i: number, prob: number, s: number, node: number, idx: number, parent: number): void {
    this.prob[i] = prob; this.seq[i] = s; this.node[i] = node; this.idx[i] = idx; this.parent[i] = parent;
  }

  private grow(): void {
    const c = this.prob.length * 2;
    const f = (a: Float64Array): Float64Array => { const b = new Float64Array(c); b.set(a); return b; };
    const g = (a: Int32Array): Int32Array => { const b = new Int32Array(c); b.set(a); return b; };
    this.prob = f(this.prob); this.seq = f(this.seq);
    this.node = g(this.node); this.idx = g(this.idx); this.parent = g(this.parent);
  }
}
