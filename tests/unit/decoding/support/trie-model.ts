// A deliberately naive model of the suffix tree for differential tests: an uncompressed trie of every
// suffix (truncated to maxDepth) with plain objects, children kept in an array reordered by the rules of the
// reference's group-based sibling list, written out plainly. Drafts are computed by the spec's rules (§4.2)
// over the trie, with float32 rounding where the reference rounds. It shares no code with runtime/decoding.
interface TrieNode {
  token: number;
  count: number;
  ends: number; // suffixes ending exactly here
  children: TrieNode[]; // sorted by count, ties in the reference's order (bubbleUp, bubbleDown)
  parent: TrieNode | null;
}

const f32 = Math.fround;

export interface ModelDraft { tokens: number[]; parents: number[]; probs: number[]; score: number; matchLength: number }

export class TrieModel {
  readonly root: TrieNode = { token: -1, count: 0, ends: 0, children: [], parent: null };
  readonly seqs = new Map<number, number[]>();
  readonly maxDepth: number;

  constructor(maxDepth: number) {
    this.maxDepth = maxDepth;
  }

  append(id: number, token: number): void {
    const seq = this.seqs.get(id) ?? [];
    this.seqs.set(id, seq);
    seq.push(token);
    const L = seq.length;
    // Every suffix within the depth limit that ends at the new token grows by it; each level is an
    // increment of one child, reordered as the reference's sibling list does.
    this.root.count++;
    for (let start = Math.max(0, L - this.maxDepth); start < L; start++) {
      let node = this.root;
      for (let i = start; i < L - 1; i++) node = node.children.find((c) => c.token === seq[i])!;
      if (node !== this.root) node.ends--;
      let child = node.children.find((c) => c.token === token);
      if (child === undefined) {
        child = { token, count: 0, ends: 0, children: [], parent: node };
        node.children.push(child);
      }
      child.count++;
      child.ends++;
      bubbleUp(node.children, child);
    }
  }

  remove(id: number): void {
    const seq = this.seqs.get(id)!;
    for (let start = 0; start < seq.length; start++) {
      const end = Math.min(start + this.maxDepth, seq.length);
      let node = this.root;
      node.count--;
      for (let i = start; i < end; i++) {
        const child = node.children.find((c) => c.token === seq[i])!;
        child.count--;
        if (i === end - 1) child.ends--;
        if (child.count === 0) node.children.splice(node.children.indexOf(child), 1);
        else bubbleDown(node.children, child);
        node = child;
      }
    }
    this.seqs.delete(id);
  }

  // Spec §4.2 over the trie. A trie node with one child and no endings sits inside a compressed edge, where
  // the reference keeps the probability as it is instead of multiplying by count/count.
  speculate(ctx: number[], maxSpecTokens: number, factor = 1, offset = 0, minProb = 0.1, useTree = false): ModelDraft {
    let best: ModelDraft = { tokens: [], parents: [], probs: [], score: 0, matchLength: 0 };
    for (let m = 1; m < ctx.length; m++) {
      let node: TrieNode | undefined = this.root;
      for (let i = ctx.length - m; i < ctx.length && node; i++) node = node.children.find((c) => c.token === ctx[i]);
      if (!node) break;
      const maxTokens = Math.max(0, Math.min(maxSpecTokens, Math.trunc(f32(f32(m * f32(factor)) + f32(offset)) + 1e-6)));
      const d = useTree ? this.tree(node, maxTokens, f32(minProb)) : this.path(node, maxTokens, f32(minProb));
      if (d.score >= best.score) best = { ...d, matchLength: m };
    }
    return best;
  }

  private path(node: TrieNode, maxTokens: number, minProb: number): ModelDraft {
    const d: ModelDraft = { tokens: [], parents: [], probs: [], score: 0, matchLength: 0 };
    let prob = 1;
    while (d.tokens.length < maxTokens) {
      const child = node.children[0];
      if (!child) break;
      if (!inEdge(node)) prob = f32(prob * f32(child.count / node.count));
      if (prob < minProb) break;
      d.parents.push(d.tokens.length - 1); d.tokens.push(child.token); d.probs.push(prob);
      d.score = f32(d.score + prob);
      node = child;
    }
    return d;
  }

  // Best-first; only the multiset of emitted probabilities (and so the score) is tie-independent.
  private tree(start: TrieNode, maxTokens: number, minProb: number): ModelDraft {
    const d: ModelDraft = { tokens: [], parents: [], probs: [], score: 0, matchLength: 0 };
    let queue: { prob: number; node: TrieNode; parent: number; seq: number }[] = [];
    let seq = 0;
    const expand = (node: TrieNode, prob: number, parent: number): void => {
      if (inEdge(node)) { queue.push({ prob, node: node.children[0], parent, seq: seq++ }); return; }
      for (const c of node.children) {
        const p = f32(f32(prob * c.count) / node.count);
        if (p < minProb) break;
        queue.push({ prob: p, node: c, parent, seq: seq++ });
      }
    };
    expand(start, 1, -1);
    while (d.tokens.length < maxTokens && queue.length > 0) {
      queue.sort((a, b) => b.prob - a.prob || a.seq - b.seq);
      const it = queue.shift()!;
      d.tokens.push(it.node.token); d.parents.push(it.parent); d.probs.push(it.prob);
      d.score = f32(d.score + it.prob);
      expand(it.node, it.prob, d.tokens.length - 1);
    }
    queue = [];
    return d;
  }
}

// Inside a compressed edge: exactly one child, nothing ends here, and not the root.
function inEdge(n: TrieNode): boolean {
  return n.parent !== null && n.children.length === 1 && n.ends === 0;
}

// After x's count rose from k to k + 1, put it where ArcticInference's group-based sibling list does: the first
// of its run of k's, behind a k + 1, goes in front of the k + 1 run; any other goes in front of its old run
// (behind the k + 1 run).
function bubbleUp(list: TrieNode[], x: TrieNode): void {
  const i = list.indexOf(x), k = x.count - 1;
  if (i === 0 || k === 0) return; // a new child stays last
  const runCount = list[i - 1].count === k + 1 ? k + 1 : list[i - 1].count === k ? k : -1;
  if (runCount < 0) return;
  const j = list.findIndex((c) => c.count === runCount);
  list.splice(i, 1);
  list.splice(j, 0, x);
}

function bubbleDown(list: TrieNode[], x: TrieNode): void {
  let i = list.indexOf(x);
  while (i < list.length - 1 && list[i + 1].count > x.count) { list[i] = list[i + 1]; list[i + 1] = x; i++; }
}
