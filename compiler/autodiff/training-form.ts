// The teacher-forced training form of any drafter, with no drafter-specific code: the drafter's graph
// (hidden: f32[B, H], tokens: i32[B] → draft: i32[B, n], draft = stack of n argmax heads) is rebuilt with
// every head's argmax replaced by the true next token (input labels: i32[M, n], column k = the token head
// k must predict, which is also what step k+1 embeds), B bound to the M rows of a batch (batch ×
// positions: teacher forcing makes positions independent rows), weights as f32 master copies, and
// loss = Σ_k mean over rows of cross-entropy(logits_k, labels[:, k]) (ArcticTraining's loss). The output
// graph computes the loss, each head's loss and the gradient of every weight.
import type { Graph, GraphOutput } from '../ir/graph.ts';
import { makeGraph, toposort } from '../ir/graph.ts';
import { IRError } from '../ir/errors.ts';
import { isFloat } from '../ir/dtype.ts';
import { Node } from '../ir/node.ts';
import type { Arg, ArgValue } from '../ir/ops.ts';
import type { Shape } from '../ir/shape.ts';
import type { CustomVjp } from './grad.ts';
import { gradients } from './grad.ts';
import { expandAxis, f32, konst } from './vjp.ts';
import { GEMM_BM } from '../schedule/gemm-shape.ts';

export interface TrainingForm {
  /** inputs hidden f32[M, H], tokens i32[M], labels i32[M, n]; outputs loss f32[], loss_heads f32[n], g0… */
  readonly graph: Graph;
  /** the drafter's weights in order, with their f32 shapes; gradient i is output `g${i}` */
  readonly params: readonly { readonly name: string; readonly shape: readonly number[]; readonly output: string }[];
  readonly rows: number;
  readonly nPredict: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  /** vocabulary chunks of each head's cross entropy (1: the logits whole) */
  readonly ceChunks: number;
}

/** The argmax head behind each column of the draft output, in order. */
export function draftHeads(g: Graph): Node[] {
  const draft = g.outputs.find((o) => o.name === 'draft')?.node;
  if (!draft) throw new IRError(`training form of ${g.name}: the drafter has no "draft" output`);
  const strip = (n: Node): Node => { let x = n; while (x.op === 'reshape' || x.op === 'cast') x = x.src[0]; return x; };
  const cols = draft.op === 'concat' && draft.argOf<number>('axis') === draft.shape.length - 1 ? draft.src : [draft];
  const heads = cols.map(strip);
  heads.forEach((h, k) => {
    if (h.op !== 'argmax' || h.argOf<number>('axis') !== h.src[0].shape.length - 1) {
      throw new IRError(`training form of ${g.name}: draft column ${k} is ${h}, not the argmax of a head's logits over the vocabulary`);
    }
  });
  return heads;
}

const bindShape = (s: Shape, dim: string, size: number): Shape => s.map((d) => (d === dim ? size : d));
function bindArg(arg: Arg, dim: string, size: number): Arg {
  if (!arg) return arg;
  const out: Record<string, ArgValue> = {};
  for (const [k, v] of Object.entries(arg)) out[k] = k === 'shape' && Array.isArray(v) ? v.map((d) => (d === dim ? size : d)) : v;
  return out;
}

/** −log softmax(x)[label] per row of x[M, V]: logsumexp with a stop-gradient max, minus the label's logit. */
export function crossEntropyRows(x: Node, labels: Node): Node {
  const ax = x.shape.length - 1;
  const V = x.shape[ax] as number;
  const m = Node.make('stop_gradient', [Node.make('reduce_max', [x], { axis: ax })]);
  const e = Node.make('exp', [Node.make('sub', [x, expandAxis(m, x.shape, ax)])]);
  const lse = Node.make('add', [Node.make('log', [Node.make('sum', [e], { axis: ax })]), m]);
  const picked = Node.make('sum', [Node.make('mul', [x, Node.make('one_hot', [labels], { depth: V })])], { axis: ax });
  return Node.make('sub', [lse, picked]);
}

/**
 * Bytes of one vocabulary chunk's logits (rows × chunk f32) that linearCrossEntropy's automatic chunk stays
 * under: 128 MiB, 4096 columns at 8096 rows (32 chunks of a 128256 vocabulary; the backward holds a chunk's
 * logits and its gradient at once).
 */
export const CE_CHUNK_BYTES = 2 ** 27;

/**
 * The vocabulary chunk for `rows` rows: the largest multiple of the GEMM's 128-row tile (the weight
 * gradient's M; the logits' N tile is 64, dX's k step 16) whose rows × chunk f32 logits fit CE_CHUNK_BYTES,
 * at least one tile; `vocab` itself when that covers the vocabulary (one chunk: the unchunked form).
 */
export function crossEntropyChunk(rows: number, vocab: number, budget = CE_CHUNK_BYTES): number {
  const c = Math.max(GEMM_BM, Math.floor(budget / (4 * rows) / GEMM_BM) * GEMM_BM);
  return c >= vocab ? vocab : c;
}

export interface LinearCrossEntropy {
  /** f32[M]: −log softmax(x·wᵀ)[label] per row */
  readonly loss: Node;
  /** the backward of `loss` (for gradients' custom map); absent for one chunk (the unchunked graph, ordinary rules) */
  readonly vjp?: CustomVjp;
  readonly chunks: number;
}

/**
 * The cross entropy of linear(x, w) (x f32[M, K], w [V, K]) against labels i32[M], with the logits never
 * whole: per chunk c of `chunk` vocabulary rows (the last one partial), logits_c = x·w_cᵀ gives its row max,
 * Σ exp(logits_c − max) and the label's logit if the chunk holds it; an online (max, sum) combine in
 * ascending c gives logsumexp. The backward recomputes logits_c per chunk (reading w through an identity
 * reshape, so the recompute is not the forward's interned node, whose buffer would stay live), g_c = (exp(logits_c − lse) −
 * onehot_c)·dloss, dx = Σ_c g_c·w_c in ascending c, dw = concat_c g_cᵀ·x. One chunk (chunk ≥ V) is
 * crossEntropyRows(linear(x, w)) differentiated by the ordinary rules.
 */
export function linearCrossEntropy(x: Node, w: Node, labels: Node, o: { chunk: number }): LinearCrossEntropy {
  const K = x.shape[1], V = w.shape[0];
  if (x.shape.length !== 2 || w.shape.length !== 2 || typeof V !== 'number' || typeof K !== 'number' || w.shape[1] !== K) {
    throw new IRError(`linearCrossEntropy: x ${x} and w ${w} must be [M, K] and [V, K] with static K and V`);
  }
  if (!Number.isInteger(o.chunk) || o.chunk < 1) throw new RangeError(`linearCrossEntropy: chunk must be a positive integer, got ${o.chunk}`);
  const chunk = Math.min(o.chunk, V);
  if (chunk === V) return { loss: crossEntropyRows(Node.make('linear', [x, w]), labels), chunks: 1 };
  const mk = Node.make;
  const wf = f32(w);
  const oh = mk('one_hot', [labels], { depth: V });
  const ranges: [number, number][] = [];
  for (let s = 0; s < V; s += chunk) ranges.push([s, Math.min(V, s + chunk)]);
  const wc = ranges.map(([s, e]) => mk('slice', [wf], { axis: 0, start: s, end: e }));
  const ohc = ranges.map(([s, e]) => mk('slice', [oh], { axis: 1, start: s, end: e }));
  const row = (n: Node, like: Node): Node => expandAxis(n, like.shape, 1);
  let mx: Node | undefined, se: Node | undefined, picked: Node | undefined;
  ranges.forEach((_, c) => {
    const l = mk('linear', [x, wc[c]]);
    const m = mk('reduce_max', [l], { axis: 1 });
    const s = mk('sum', [mk('exp', [mk('sub', [l, row(m, l)])])], { axis: 1 });
    const p = mk('sum', [mk('mul', [l, ohc[c]])], { axis: 1 });
    if (!mx || !se || !picked) { mx = m; se = s; picked = p; return; }
    const m2 = mk('max', [mx, m]);
    se = mk('add', [mk('mul', [se, mk('exp', [mk('sub', [mx, m2])])]), mk('mul', [s, mk('exp', [mk('sub', [m, m2])])])]);
    mx = m2;
    picked = mk('add', [picked, p]);
  });
  const lse = mk('add', [mk('log', [se!]), mx!]);
  const loss = mk('sub', [lse, picked!]);
  const vjp: CustomVjp = (g) => {
    // w_c read through an identity reshape of w (a view: the GEMM still reads w in place), so the
    // recomputed logits are not the forward's (interned) node, whose buffer would stay live until here
    const wv = mk('reshape', [wf], { shape: [...wf.shape] });
    let dx: Node | undefined;
    const dw = ranges.map(([s, e], c) => {
      const l = mk('linear', [x, mk('slice', [wv], { axis: 0, start: s, end: e })]);
      const gc = mk('mul', [mk('sub', [mk('exp', [mk('sub', [l, row(lse, l)])]), ohc[c]]), row(g, l)]);
      const d = mk('matmul', [gc, wc[c]]);
      dx = dx ? mk('add', [dx, d]) : d;
      return mk('matmul', [mk('permute', [gc], { perm: [1, 0] }), x]);
    });
    return [[x, dx!], [w, mk('concat', dw, { axis: 0 })]];
  };
  return { loss, vjp, chunks: ranges.length };
}

/**
 * `hiddenDtype: 'bf16'`: the hidden input is bf16 (as the training data caches it) and is cast to the
 * drafter's f32 inside the graph (exact), so the trainer copies cached rows as they are.
 */
/**
 * `ceChunk`: the vocabulary chunk of every head's cross entropy (linearCrossEntropy; default
 * crossEntropyChunk(rows, V): one chunk, the unchunked form, up to CE_CHUNK_BYTES of logits per head).
 */
export function trainingForm(drafter: Graph, o: { rows: number; hiddenDtype?: 'f32' | 'bf16'; ceChunk?: number }): TrainingForm {
  const M = o.rows;
  if (!Number.isInteger(M) || M < 1) throw new RangeError(`training form: rows must be a positive integer, got ${M}`);
  const heads = draftHeads(drafter);
  const n = heads.length;
  const hidden = drafter.inputs.find((i) => i.argOf<string>('name') === 'hidden');
  const tokens = drafter.inputs.find((i) => i.argOf<string>('name') === 'tokens');
  if (!hidden || !tokens) throw new IRError(`training form of ${drafter.name}: a drafter takes hidden: f32[B, H] and tokens: i32[B]`);
  const bdim = tokens.shape[0];
  if (typeof bdim !== 'string') throw new IRError(`training form of ${drafter.name}: tokens must be i32[B] with a symbolic batch dim`);
  const labels = Node.make('input', [], { name: 'labels' }, 'i32', [M, n]);
  const labelCol = (k: number): Node => Node.make('reshape', [Node.make('slice', [labels], { axis: 1, start: k, end: k + 1 })], { shape: [M] });
  const memo = new Map<Node, Node>();
  heads.forEach((h, k) => memo.set(h, labelCol(k)));
  const inputs: Node[] = [];
  const params: Node[] = [];
  const rebuild = (root: Node): Node => {
    for (const x of toposort([root])) {
      if (memo.has(x)) continue;
      let y: Node;
      if (x.op === 'input') {
        const bf16 = x === hidden && o.hiddenDtype === 'bf16';
        const inp = Node.make('input', [], x.arg, bf16 ? 'bf16' : x.dtype, bindShape(x.shape, bdim, M));
        inputs.push(inp);
        y = bf16 ? Node.make('cast', [inp], null, x.dtype) : inp;
      } else if (x.op === 'param') {
        y = Node.make('param', [], x.arg, isFloat(x.dtype) ? 'f32' : x.dtype, x.shape);
        params.push(y);
      } else if (x.op === 'const') y = Node.make('const', [], x.arg, x.dtype, bindShape(x.shape, bdim, M));
      else {
        const src = x.src.map((s) => memo.get(s)!);
        if (x.op === 'cast') y = src[0].dtype === x.dtype ? src[0] : Node.make('cast', src, null, x.dtype);
        else y = Node.make(x.op, src, bindArg(x.arg, bdim, M));
      }
      memo.set(x, y);
    }
    return memo.get(root)!;
  };
  const logits = heads.map((h) => rebuild(h.src[0]));
  const V = logits[0].shape[1];
  logits.forEach((l, k) => {
    if (l.shape.length !== 2 || l.shape[0] !== M || !isFloat(l.dtype)) throw new IRError(`training form of ${drafter.name}: head ${k}'s logits are ${l}, expected [rows, V]`);
  });
  const chunk = o.ceChunk ?? crossEntropyChunk(M, V as number);
  const custom = new Map<Node, CustomVjp>();
  const headLoss = logits.map((l, k) => {
    // a head that is linear(x, w) (every Arctic drafter's): the chunked cross entropy; any other, the logits whole
    let ce: Node;
    if (l.op === 'linear' && l.src.length === 2 && l.src[0].shape.length === 2 && l.src[0].dtype === 'f32') {
      const f = linearCrossEntropy(l.src[0], l.src[1], labelCol(k), { chunk });
      if (f.vjp) custom.set(f.loss, f.vjp);
      ce = f.loss;
    } else ce = crossEntropyRows(l.dtype === 'f32' ? l : Node.make('cast', [l], null, 'f32'), labelCol(k));
    return Node.make('mul', [Node.make('sum', [ce], { axis: 0 }), konst(1 / M, [])]);
  });
  const loss = headLoss.reduce((a, b) => Node.make('add', [a, b]));
  const uniq = [...new Set(params)].sort((a, b) => a.argOf<string>('name').localeCompare(b.argOf<string>('name')));
  const grads = gradients(loss, uniq, undefined, custom);
  const hIn = inputs.find((i) => i.argOf<string>('name') === 'hidden') ?? Node.make('input', [], { name: 'hidden' }, o.hiddenDtype ?? 'f32', bindShape(hidden.shape, bdim, M));
  const tIn = inputs.find((i) => i.argOf<string>('name') === 'tokens') ?? Node.make('input', [], { name: 'tokens' }, 'i32', [M]);
  const stacked = Node.make('concat', headLoss.map((l) => Node.make('reshape', [l], { shape: [1] })), { axis: 0 });
  const outputs: GraphOutput[] = [
    { name: 'loss', node: loss }, { name: 'loss_heads', node: stacked },
    ...uniq.map((p, i) => ({ name: `g${i}`, node: grads.get(p)! })),
  ];
  const graph = makeGraph(`${drafter.name}_train`, [hIn, tIn, labels], outputs);
  return {
    graph,
    params: uniq.map((p, i) => ({ name: p.argOf<string>('name'), shape: p.shape as number[], output: `g${i}` })),
    rows: M, nPredict: n, hiddenSize: hIn.shape[1] as number, vocabSize: V as number,
    ceChunks: Math.ceil((V as number) / Math.min(chunk, V as number)),
  };
}
