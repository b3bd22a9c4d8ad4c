// The op table: the table of contents of the IR. Every node has one of these ops.
// Order groups them: leaves, elementwise, reductions and row ops, contractions, movement.
export const OPS = [
  // leaves: arg {name} for input/param, {value} for const; dtype and shape are given
  'input', 'param', 'const',
  // elementwise unary (computed in f32, stored in the operand's dtype); gelu: {approx: "erf"|"tanh"}
  'neg', 'exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'erf', 'sigmoid', 'gelu', 'abs', 'recip',
  // elementwise binary: operands of identical shape and dtype; cmp* give bool
  'add', 'sub', 'mul', 'div', 'max', 'min', 'cmplt', 'cmpeq',
  // where(cond, a, b); cast to the node's dtype
  'where', 'cast',
  // reductions over {axis} (removed from the shape); topk over the last axis {k}
  'sum', 'reduce_max', 'argmax', 'topk_values', 'topk_indices',
  // row ops over the last axis; norms carry {eps} and no affine (the DSL adds it)
  'softmax', 'rms_norm', 'layer_norm',
  // contractions: matmul a[...,M,K]·b[K,N]; linear x[...,K]·w[N,K]ᵀ (f32 out); gather table[V,...] by int ids
  'matmul', 'linear', 'gather',
  // movement: {shape}, {shape} (right-aligned expand), {perm}, {axis,start,end}, {axis}
  'reshape', 'broadcast', 'permute', 'slice', 'concat',
  // decoder state and attention (docs/targets.md): kv_write(cache, new, slots, positions) returns the cache
  // with new rows at [slot, position]; attention(q, k, v, slots, positions) {scale}: row n sees positions 0…p
  'kv_write', 'attention',
  // training (compiler/autodiff/): stop_gradient(x) is x with no gradient; one_hot(ids) {depth} is f32[...ids, depth];
  // scatter_add(updates[M, R], ids[M]) {rows} sums update row m into output row ids[m] of an f32[rows, R] zero table
  'stop_gradient', 'one_hot', 'scatter_add',
  // collectives (tensor parallelism, docs/tensor-parallel.md): all_gather(x) {ranks} is x of every rank
  // stacked along a new leading axis [ranks, ...x] (rank-major, as ncclAllGather writes it); {seq} numbers the
  // collectives of a program (every rank issues the same ones in the same order, and a constant operand of
  // a rank that holds only padding must not merge two of them)
  'all_gather',
] as const;
export type Op = (typeof OPS)[number];

export const UNARY: ReadonlySet<Op> = new Set<Op>(['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'erf', 'sigmoid', 'gelu', 'abs', 'recip']);
export const BINARY: ReadonlySet<Op> = new Set<Op>(['add', 'sub', 'mul', 'div', 'max', 'min', 'cmplt', 'cmpeq']);
export const ELEMENTWISE: ReadonlySet<Op> = new Set<Op>([...UNARY, ...BINARY, 'where', 'cast']);
export const LEAVES: ReadonlySet<Op> = new Set<Op>(['input', 'param', 'const']);
export const MOVEMENT: ReadonlySet<Op> = new Set<Op>(['reshape', 'broadcast', 'permute', 'slice', 'concat']);
export const REDUCE: ReadonlySet<Op> = new Set<Op>(['sum', 'reduce_max', 'argmax', 'topk_values', 'topk_indices']);
export const ROW: ReadonlySet<Op> = new Set<Op>(['softmax', 'rms_norm', 'layer_norm']);
export const DECODER: ReadonlySet<Op> = new Set<Op>(['kv_write', 'attention']);
export const TRAINING: ReadonlySet<Op> = new Set<Op>(['stop_gradient', 'one_hot', 'scatter_add']);
/** Ops that exchange data between ranks: not kernels; the interpreter runs them through a hook. */
export const COLLECTIVE: ReadonlySet<Op> = new Set<Op>(['all_gather']);

export const isOp = (s: string): s is Op => (OPS as readonly string[]).includes(s);

export type ArgValue = number | string | boolean | readonly (number | string)[];
/** Node arguments: a flat record of attributes, or null. */
export type Arg = { readonly [k: string]: ArgValue } | null;

/** Attributes an op may carry besides ARG_KEYS (epilogue: set by the lm-head-argmax and lm-head-topk passes). */
export const OPTIONAL_ARG_KEYS: Partial<Record<Op, readonly string[]>> = { argmax: ['epilogue'], topk_values: ['epilogue'], topk_indices: ['epilogue'] };

/** The attributes each op requires (and, with OPTIONAL_ARG_KEYS, no others), for the verifier and the parser. */
export const ARG_KEYS: Partial<Record<Op, readonly string[]>> = {
  input: ['name'], param: ['name'], const: ['value'], gelu: ['approx'],
  sum: ['axis'], reduce_max: ['axis'], argmax: ['axis'], topk_values: ['k'], topk_indices: ['k'],
  rms_norm: ['eps'], layer_norm: ['eps'],
  reshape: ['shape'], broadcast: ['shape'], permute: ['perm'], slice: ['axis', 'start', 'end'], concat: ['axis'],
  attention: ['scale'], one_hot: ['depth'], scatter_add: ['rows'], all_gather: ['ranks', 'seq'],
};
