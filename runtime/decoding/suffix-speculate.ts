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

/** How much a suffix draft may hold: maxSpecTokens, maxSpecFactor × match length + maxSpecOffset, minTokenProb, useTree. */
export interface SpeculateOptions {
  maxSpecTokens: number;
  maxSpecFactor?: number;  // default 1.0
  maxSpecOffset?: number;  // default 0
  minTokenProb?: number;   // default 0.1
  useTree?: boolean;       // default false: a single path, as vLLM uses it
}

/** A suffix-decoding draft: tokens, each parent index (a tree, or a path), per-token probabilities, score and match length. */
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

export function speculateTree(tree: SuffixTree, context: TokenInput, options: SpeculateOptions, tailOf = NIL): SuffixDraft {
  // Only the last maxDepth tokens are read (no match is longer than the tree is deep): only they are checked.
  checkTokens(context, 'speculate: context', contextTailStart(context, tree.maxDepth));
  if (context.length === 0) throw new DecodingError('speculate: context is empty');
  const o = resolveSpecOptions(options, 'speculate');
  return speculateResolved(tree, context, o, tailOf);
}

// `tailSlot` names an open sequence whose tail the context probably is (the request's own sequence while
// serving). For every m up to the length of their common tail, the node where the context's last m tokens
// end is already known: it is where that sequence's suffix of length m ends, held in its window. Same
// nodes as matching from the root finds, without the walk.
export function speculateResolved(tree: SuffixTree, context: TokenInput, o: ResolvedSpecOptions, tailSlot = NIL): SuffixDraft {
  cur.ensure(o.maxSpecTokens); best.ensure(o.maxSpecTokens);
  best.size = 0; best.score = 0;
  let bestMatch = 0;
  const n = context.length, D = tree.maxDepth, N = tree.nodes;
  const known = sharedTail(tree, context, tailSlot);
  const win = known > 0 ? tree.seqs.window[tailSlot] : null, L = known > 0 ? tree.seqs.length[tailSlot] : 0;
  // Matches longer than the tree is deep cannot succeed, so m stops at D: the context is read no further back.
  const mEnd = n - 1 < D ? n - 1 : D;
  for (let m = 1; m <= mEnd; m++) {
    // A path from a match of length m has at most D - m tokens (nodes are at most D deep), so once that is
    // below the best score no longer match can win or tie: stopping here returns the same draft.
    if (!o.useTree && D - m < best.score) break;
    let node: number, idx: number;
    if (m <= known) {
      node = win![(L - m) % D]; idx = N.len[node];
    } else {
      node = matchSuffix(tree, context, n - m, n);
      if (node === NIL) break;
      idx = matchIdx;
    }
    let maxTokens = Math.trunc(f32(f32(m * o.factor) + o.offset) + 1e-6);
    if (maxTokens > o.maxSpecTokens) maxTokens = o.maxSpecTokens;
    if (maxTokens < 0) maxTokens = 0;
    if (!o.useTree && pathBound(tree, node, idx, Math.min(maxTokens, D - m)) < best.score) continue;
    cur.size = 0; cur.score = 0;
    if (o.useTree) speculateBestFirst(tree, node, idx, maxTokens, o.minProb, cur);
    else speculatePath(tree, node, idx, maxTokens, o.minProb, cur);
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

// Where the part of a context that speculation reads begins: its last maxDepth tokens.
export function contextTailStart(context: { length: unknown }, maxDepth: number): number {
  return typeof context.length === 'number' && context.length > maxDepth ? context.length - maxDepth : 0;
}

// How many of the context's last tokens equal the last tokens of open sequence `slot` (at most the window's
// reach, and short of the whole context, since match lengths stop below it).
function sharedTail(tree: SuffixTree, ctx: TokenInput, slot: number): number {
  if (slot === NIL || !tree.seqs.open.has(slot)) return 0;
  const toks = tree.seqs.tokens[slot], L = tree.seqs.length[slot];
  const limit = Math.min(L, tree.maxDepth, ctx.length - 1);
  let k = 0;
  while (k < limit && toks[L - 1 - k] === ctx[ctx.length - 1 - k]) k++;
  return k;
}

// An upper bound on a path draft's score from (node, idx) with `budget` tokens: the rest of the edge at
// probability 1, everything after it at most count(head child) / count(node). Slightly inflated to cover
// float32 rounding in the running sum, so it never cuts a draft that could win or tie.
function pathBound(tree: SuffixTree, node: number, idx: number, budget: number): number {
  const N = tree.nodes;
  const rest = Math.min(N.len[node] - idx, budget);
  if (rest >= budget) return budget * (1 + 1e-5);
  const h = N.head[node];
  const r = h === NIL ? 0 : N.count[h] / N.count[node];
  return (rest + (budget - rest) * r) * (1 + 1e-5);
}

// Walk context[from, to) down from the root; returns the node the match ends in (NIL if it fails) and
// leaves the number of matched tokens of that node's edge in matchIdx.
function matchSuffix(tree: SuffixTree, ctx: TokenInput, from: number, to: number): number {
  const N = tree.nodes, seqTokens = tree.seqs.tokens;
  const len = N.len, refSeq = N.refSeq, refIdx = N.refIdx;
  let node = ROOT, i = from;
  for (;;) {
    // Enter the child for ctx[i]; an edge's first token is its key, so it matched already.
    node = tree.childOf(node, ctx[i]);
    if (node === NIL) return NIL;
    const edgeLen = len[node];
    let idx = 1;
    i++;
    if (edgeLen > 1 && i < to) {
      const label = seqTokens[refSeq[node]], base = refIdx[node];
      const stop = Math.min(edgeLen, idx + (to - i));
      while (idx < stop) {
        if (label[base + idx] !== ctx[i]) return NIL;
        idx++; i++;
      }
    }
    if (i === to) { matchIdx = idx; return node; }
  }
}

function speculatePath(tree: SuffixTree, node: number, idx: number, maxTokens: number, minProb: number, out: DraftBuf): void {
  const N = tree.nodes, seqTokens = tree.seqs.tokens;
  const len = N.len, count = N.count, head = N.head, refSeq = N.refSeq, refIdx = N.refIdx;
  const tokens = out.tokens, parents = out.parents, probs = out.probs;
  let k = out.size, score = out.score, prob = 1;
  while (k < maxTokens && prob >= minProb) {
    const edgeLen = len[node];
    if (idx < edgeLen) {
      // Emit the rest of this edge (as far as the budget allows) at the current probability.
      const label = seqTokens[refSeq[node]], base = refIdx[node];
      const stop = Math.min(edgeLen, idx + (maxTokens - k));
      for (; idx < stop; idx++, k++) {
        tokens[k] = label[base + idx]; parents[k] = k - 1; probs[k] = prob;
        score = f32(score + prob);
      }
    } else {
      const child = head[node];
      if (child === NIL) break;
      prob = f32(prob * f32(count[child] / count[node]));
      node = child; idx = 0;
    }
  }
  out.size = k; out.score = score;
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
