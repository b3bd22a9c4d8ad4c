// Which nodes are computed at a kernel boundary ("anchors") and which are inlined as scalar code
// into every kernel that reads them. Anchors: graph outputs, reductions and row ops, contractions and
// contraction operands that are not already buffers, and elementwise/movement nodes that are either
// shared by several users and not cheap to recompute (the LSTM cell state), or so large an expression
// tree that inlining would duplicate too much work (concat of concat of ... grows exponentially).
import type { Graph } from '../ir/graph.ts';
import { graphNodes, users } from '../ir/graph.ts';
import type { Node } from '../ir/node.ts';
import { sameShape } from '../ir/shape.ts';
import { DECODER, ELEMENTWISE, MOVEMENT, REDUCE, ROW } from '../ir/ops.ts';
import { isContraction, isLeaf, viewBase } from './types.ts';
import { gemmShapeOf, gemmView } from './gemm-shape.ts';

/** A shared node cheaper than this (add/mul/cast/gather chains) is recomputed in each user. */
export const SHARE_COST = 16;
/**
 * Ops whose PTX is a subroutine call (div, sqrt, rcp at .rn) or a long recipe (erf, GELU, tanh): a linear's x
 * holding one is stored rather than computed in the x load (docs/fusion.md).
 */
const HEAVY_IN_X_LOAD = new Set(['div', 'sqrt', 'rsqrt', 'recip', 'erf', 'gelu', 'tanh', 'log']);
/** Nodes an x computed in the x load may have (besides buffers it reads). */
const X_LOAD_NODES = 24;

function lightX(x: Node, anchors: ReadonlySet<Node>): boolean {
  const seen = new Set<Node>();
  const ok = (n: Node): boolean => {
    if (isLeaf(n) || anchors.has(n) || n.op === 'const' || seen.has(n)) return true;
    seen.add(n);
    if (HEAVY_IN_X_LOAD.has(n.op) || seen.size > X_LOAD_NODES) return false;
    return n.src.every(ok);
  };
  return ok(x);
}
/** Past this, even a single-use expression is materialized. */
export const MAX_INLINE_COST = 400;

const TRANSCENDENTAL = new Set(['exp', 'log', 'tanh', 'erf', 'sigmoid', 'gelu', 'rsqrt']);

/** Rough instruction cost of one node, not counting its operands. */
function ownCost(n: Node): number {
  if (TRANSCENDENTAL.has(n.op)) return 12;
  if (n.op === 'div' || n.op === 'sqrt' || n.op === 'recip') return 4;
  if (n.op === 'gather') return 2;
  if (MOVEMENT.has(n.op) || n.op === 'const') return 0;
  return 1;
}

export interface AnchorChoice {
  /** mutable: the scheduler drops an epilogue it could not fuse, adds an x operand it could not inline */
  readonly anchors: Set<Node>;
  /** linear → the elementwise user it stores instead of itself (docs/fusion.md); anchored */
  readonly epilogues: ReadonlyMap<Node, Node>;
  /** linears whose x operand is left unanchored, to be computed in the linear's x load (docs/fusion.md) */
  readonly operandInline: ReadonlySet<Node>;
  /** per-element cost of every inlined node: one operand of a concat is read per element */
  readonly cost: ReadonlyMap<Node, number>;
}

/**
 * Weight elements (N·K) up to which a linear computes its x operand in the x load (docs/fusion.md). Every
 * warp of the GEMV (every block of the tensor-core kernel) evaluates x for its rows, so the x arithmetic
 * is repeated once per column group: next to a weight stream of N·K·2 bytes that is ~M·c/2 instructions
 * per weight byte (c per element: ~4 for norm·weight with the sum of squares, ~15 for SiLU·up), past the
 * ~6 an H200 SM issues per byte of its HBM share. Small linears are latency-bound and gain the launch;
 * large ones (the 8B projections, 25M–117M weights) keep x in memory. 2^22 is 8 MiB of bf16, ~2 µs of
 * HBM: the order of one launch.
 */
export const X_FUSE_MAX_WEIGHTS = 2 ** 22;

const smallLinear = (n: Node): boolean => {
  const K = n.src[0].shape[n.src[0].shape.length - 1], N = n.src[1].shape[0];
  return typeof K === 'number' && typeof N === 'number' && N * K <= X_FUSE_MAX_WEIGHTS;
};

/** A linear the GEMV / tensor-core kernels take (not the tiled GEMM), so operand and epilogue fusion apply. */
export const fusableLinear = (n: Node): boolean => n.op === 'linear' && n.src.length === 2 && gemmShapeOf(n) === null;

/** Loads an epilogue may add per output element, and the nodes of its expression (past these it stays where it was). */
const EPILOGUE_LOADS = 4, EPILOGUE_NODES = 16;

/**
 * Whether e's expression besides the linear l is cheap per element: no concat (whose operands are all
 * evaluated where the column range is unknown: an 8B LSTM projection's 4-way embedding select spilled
 * registers in the GEMV store), at most EPILOGUE_LOADS buffer reads. A residual add reads one buffer
 * (layer 0: the token id and the embedding row).
 */
function cheapEpilogue(e: Node, l: Node, anchors: ReadonlySet<Node>): boolean {
  let loads = 0, nodes = 0;
  const ok = (n: Node): boolean => {
    if (n === l) return true;
    if (isLeaf(n) || anchors.has(n)) return ++loads <= EPILOGUE_LOADS;
    if (n.op === 'const') return true;
    if (n.op === 'concat' || ++nodes > EPILOGUE_NODES) return false;
    return n.src.every(ok);
  };
  return e.src.every(ok);
}

export function chooseAnchors(g: Graph): AnchorChoice {
  const order = graphNodes(g);
  const use = users(g);
  const anchors = new Set<Node>();
  const outputs = new Set(g.outputs.map((o) => o.node));
  for (const o of g.outputs) if (!isLeaf(o.node)) anchors.add(o.node);
  const operandInline = new Set<Node>();
  const epilogues = new Map<Node, Node>();
  for (const n of order) {
    if (REDUCE.has(n.op) || ROW.has(n.op) || isContraction(n)) anchors.add(n);
    // a linear's x that is an elementwise node used only by it is computed in the linear's x load
    // (docs/fusion.md); the scheduler anchors it after all when that fails
    const x = n.src[0];
    const inlineX = fusableLinear(n) && ELEMENTWISE.has(x.op) && !outputs.has(x) && (use.get(x) ?? []).length === 1 &&
      x.dtype === 'f32' && smallLinear(n);
    if (inlineX) operandInline.add(n);
    // a contraction streams its operands from memory: they must be buffers
    // (an aT GEMM reads its first operand's transpose source in place: gemm-shape.ts)
    if (isContraction(n)) for (const s of n.src) { if (inlineX && s === x) continue; const base = gemmView(n, s).node; if (!isLeaf(base)) anchors.add(base); }
    // the one elementwise user of a linear, reading it at its own coordinates, is stored by the linear instead
    const u = use.get(n) ?? [];
    if (fusableLinear(n) && !outputs.has(n) && u.length === 1 && ELEMENTWISE.has(u[0].op) && u[0].src.includes(n) && sameShape(u[0].shape, n.shape) &&
      cheapEpilogue(u[0], n, anchors)) {
      epilogues.set(n, u[0]);
      anchors.add(u[0]); // now, so that a later epilogue reading this one counts it as one load
    }
    // decoder ops are kernels of their own; attention streams the caches from memory (the kv_writes' buffers)
    if (DECODER.has(n.op)) anchors.add(n);
    if (n.op === 'attention') for (const s of [n.src[1], n.src[2]]) if (!isLeaf(s)) anchors.add(s);
    // scatter_add is a kernel of its own that reads its updates and ids from memory
    if (n.op === 'scatter_add') { anchors.add(n); for (const s of n.src) { const base = viewBase(s); if (!isLeaf(base)) anchors.add(base); } }
  }
  // a running sum of matmul results (the chunked cross entropy's dx = Σ_c g_c·w_c, linearCrossEntropy):
  // each partial sum is stored, so one partial sum and one term are live at a time rather than every term
  const readsMatmul = (n: Node): boolean => n.src.some((s) => s.op === 'matmul');
  for (const n of order) {
    if (n.op !== 'add' || !readsMatmul(n)) continue;
    for (const s of n.src) if (s.op === 'add' && readsMatmul(s)) anchors.add(s);
  }
  // cost: per element when concat selects one operand; work: every operand evaluated (selection
  // without a known coordinate range), which bounds the code size of the inlined tree
  const cost = new Map<Node, number>();
  const work = new Map<Node, number>();
  for (const n of order) {
    if (isLeaf(n) || anchors.has(n)) continue;
    const of = (s: Node, m: Map<Node, number>): number => (isLeaf(s) || anchors.has(s) ? 1 : m.get(s)!);
    const parts = n.src.map((s) => of(s, cost));
    const c = ownCost(n) + (n.op === 'concat' ? n.src.length + Math.max(...parts) : parts.reduce((a, x) => a + x, 0));
    const w = ownCost(n) + n.src.length + n.src.reduce((a, s) => a + of(s, work), 0);
    const shared = (use.get(n)?.length ?? 0) >= 2;
    if (w > MAX_INLINE_COST || (shared && c > SHARE_COST)) anchors.add(n);
    else { cost.set(n, c); work.set(n, w); }
  }
  // an x computed in the x load is evaluated per element per warp inside the k loop: only light ones (a
  // norm times its weight, SiLU(gate)·up); a GELU(erf) of a norm spilled registers in a GEMV (TP heads),
  // as did ln0(h)/√2 (div.rn.f32 is a call) next to a fused norm's sums of squares
  for (const l of [...operandInline]) {
    const x = l.src[0];
    if (!anchors.has(x) && lightX(x, anchors)) continue;
    operandInline.delete(l);
    anchors.add(x);
  }
  return { anchors, cost, epilogues, operandInline };
}
