// Candidate generation (spec §4.2): for every match length m = 1, 2, ... (< context length) match the last m
// context tokens from the root, stopping at the first failure; from each match, emit a path (or a best-first
// tree) of continuations weighted by their estimated probability, within a budget of
//   max_tokens = clamp(min(max_spec_tokens, floor(m·max_spec_factor + max_spec_offset + 1e-6)), ≥ 0).
// The draft with the highest score (sum of probabilities ≈ expected accepted tokens) wins; a later, longer
// match replaces an earlier one on an equal score.
//
// Probabilities and scores are rounded to float32 at every step, as the reference computes them in float,
// so thresholds such as min_token_prob cut at exactly the same place.
import { DecodingError } from './errors.ts';
import { NIL, ROOT } from './node-store.ts';
import type { SuffixTree } from './suffix-tree.ts';
import { checkFinite, checkInt, checkTokens, type TokenInput } from './validate.ts';
import { DraftHeap } from './draft-heap.ts';

export interface SpeculateOptions {
  maxSpecTokens: number;
  maxSpecFactor?: number;  // default 1.0
  maxSpecOffset?: number;  // default 0
  minTokenProb?: number;   // default 0.1
  useTree?: boolean;       // default false: a single path, as vLLM uses it
}

export interface SuffixDraft {
  tokens: Int32Array;
  parents: Int32Array;  // index of each token's parent in `tokens`, -1 for a first token
  probs: Float32Array;
  score: number;
  matchLength: number;
}

const f32 = Math.fround;

export interface ResolvedSpecOptions {
  maxSpecTokens: number; factor: number; offset: number; minProb: number; useTree: boolean;
}

export function resolveSpecOptions(o: SpeculateOptions, what: string): ResolvedSpecOptions {
  if (o === null || typeof o !== 'object') throw new DecodingError(`${what}: options must be an object`);
  checkInt(o.maxSpecTokens, `${what}: maxSpecTokens`, 1, 1 << 20);
  const factor = o.maxSpecFactor ?? 1.0, offset = o.maxSpecOffset ?? 0, minProb = o.minTokenProb ?? 0.1;
  checkFinite(factor, `${what}: maxSpecFactor`, 0);
  checkFinite(offset, `${what}: maxSpecOffset`);
  checkFinite(minProb, `${what}: minTokenProb`, 0, 1);
  if (o.useTree !== undefined && typeof o.useTree !== 'boolean') throw new DecodingError(`${what}: useTree must be a boolean`);
  return { maxSpecTokens: o.maxSpecTokens, factor: f32(factor), offset: f32(offset), minProb: f32(minProb), useTree: o.useTree === true };
}

// Scratch space shared by all trees (JS is single-threaded): the current candidate and the best so far.
class DraftBuf {
  tokens: Int32Array = new Int32Array(16);
  parents: Int32Array = new Int32Array(16);
  probs: Float32Array = new Float32Array(16);
  size = 0;
  score = 0;
  ensure(n: number): void {
    if (this.tokens.length >= n) return;
    this.tokens = new Int32Array(n); this.parents = new Int32Array(n); this.probs = new Float32Array(n);
  }
  push(token: number, parent: number, prob: number): void {
    const k = this.size++;
    this.tokens[k] = token; this.parents[k] = parent; this.probs[k] = prob;
    this.score = f32(this.score + prob);
  }
}
let cur = new DraftBuf();
let best = new DraftBuf();
const heap = new DraftHeap();
let matchIdx = 0;

export function speculateTree(tree: SuffixTree, context: TokenInput, options: SpeculateOptions): SuffixDraft {
  checkTokens(context, 'speculate: context');
  if (context.length === 0) throw new DecodingError('speculate: context is empty');
  const o = resolveSpecOptions(options, 'speculate');
  return speculateResolved(tree, context, o);
}

export function speculateResolved(tree: SuffixTree, context: TokenInput, o: ResolvedSpecOptions): SuffixDraft {
  cur.ensure(o.maxSpecTokens); best.ensure(o.maxSpecTokens);
  best.size = 0; best.score = 0;
  let bestMatch = 0;
  const n = context.length;
  for (let m = 1; m < n; m++) {
    const node = matchSuffix(tree, context, n - m, n);
    if (node === NIL) break;
    let maxTokens = Math.trunc(f32(f32(m * o.factor) + o.offset) + 1e-6);
    if (maxTokens > o.maxSpecTokens) maxTokens = o.maxSpecTokens;
    if (maxTokens < 0) maxTokens = 0;
    cur.size = 0; cur.score = 0;
    if (o.useTree) speculateBestFirst(tree, node, matchIdx, maxTokens, o.minProb, cur);
    else speculatePath(tree, node, matchIdx, maxTokens, o.minProb, cur);
    if (cur.score >= best.score) {
      const t = best; best = cur; cur = t;
      bestMatch = m;
    }
  }
  return {
    tokens: best.tokens.slice(0, best.size),
    parents: best.parents.slice(0, best.size),
    probs: best.probs.slice(0, best.size),
    score: best.score,
    matchLength: bestMatch,
  };
}

// Walk context[from, to) down from the root; returns the node the match ends in (NIL if it fails) and
// leaves the number of matched tokens of that node's edge in matchIdx.
function matchSuffix(tree: SuffixTree, ctx: TokenInput, from: number, to: number): number {
  const N = tree.nodes, kids = tree.children, seqTokens = tree.seqs.tokens;
  const len = N.len, refSeq = N.refSeq, refIdx = N.refIdx;
  let node = ROOT, idx = 0, edgeLen = 0;
  let label: Int32Array | null = null, base = 0;
  for (let i = from; i < to; i++) {
    const t = ctx[i];
    if (idx === edgeLen) {
      node = kids.find(node, t);
      if (node === NIL) return NIL;
      idx = 1; edgeLen = len[node]; label = null;
      continue; // an edge's first token is its key, so it matched already
    }
    if (label === null) { label = seqTokens[refSeq[node]]; base = refIdx[node]; }
    if (label[base + idx] !== t) return NIL;
    idx++;
  }
  matchIdx = idx;
  return node;
}

function speculatePath(tree: SuffixTree, node: number, idx: number, maxTokens: number, minProb: number, out: DraftBuf): void {
  const N = tree.nodes, seqTokens = tree.seqs.tokens;
  const len = N.len, count = N.count, head = N.head;
  let prob = 1;
  let label = seqTokens[N.refSeq[node]], base = N.refIdx[node], edgeLen = len[node];
  while (out.size < maxTokens && prob >= minProb) {
    if (idx < edgeLen) {
      out.push(label[base + idx], out.size - 1, prob);
      idx++;
    } else {
      const child = head[node];
      if (child === NIL) break;
      prob = f32(prob * f32(count[child] / count[node]));
      node = child; idx = 0;
      label = seqTokens[N.refSeq[node]]; base = N.refIdx[node]; edgeLen = len[node];
    }
  }
}

// Best-first over (prob, position) items; children are visited in count order, so the first child below
// the probability floor ends the expansion. Equal probabilities pop in push order.
function speculateBestFirst(tree: SuffixTree, node: number, idx: number, maxTokens: number, minProb: number, out: DraftBuf): void {
  const N = tree.nodes, seqTokens = tree.seqs.tokens;
  heap.clear();
  heap.push(1, node, idx, -1);
  while (out.size < maxTokens && heap.size > 0) {
    heap.pop();
    const prob = heap.topProb, n = heap.topNode, i = heap.topIdx, parent = heap.topParent;
    if (i < N.len[n]) {
      out.push(seqTokens[N.refSeq[n]][N.refIdx[n] + i], parent, prob);
      heap.push(prob, n, i + 1, out.size - 1);
    } else {
      const total = N.count[n];
      for (let c = N.head[n]; c !== NIL; c = N.next[c]) {
        const p = f32(f32(prob * N.count[c]) / total);
        if (p < minProb) break;
        heap.push(p, c, 0, parent);
      }
    }
  }
}
