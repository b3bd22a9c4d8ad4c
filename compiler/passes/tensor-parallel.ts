// Tensor-parallel drafting (ArcticInference §3.6-3.7): rank r's program of a drafter. The LM head of
// every step (argmax over linear(x, W[V, D]) along the vocabulary) is split by vocabulary rows: V is
// padded to V_p (a multiple of 64, and of the rank count), rank r holds rows [r·V_p/N, (r+1)·V_p/N)
// (the rows past V are zero and never chosen). Per step the rank computes its local logits, its local
// top-1 (value, global index) packed as two f32 (8 bytes per row; indices < 2^24 are exact in f32), one
// all_gather of [N, B, 2], and every rank reduces the gathered rows to the same token: the first rank
// holding the largest value (NaN largest, as argmax), i.e. the lowest global index among ties. That
// token feeds the next step on the device, exactly as TP = 1's argmax. Projections and norms stay
// replicated; an embedding that reads the head's own table keeps a full (replicated) copy.
import type { Graph } from '../ir/graph.ts';
import { graphNodes, makeGraph, users } from '../ir/graph.ts';
import { Node } from '../ir/node.ts';
import type { HostTensor } from '../ir/tensor-data.ts';
import { hostTensor } from '../ir/tensor-data.ts';

/** ArcticInference pads the vocabulary to a multiple of this before splitting it. */
export const VOCAB_PAD = 64;
/** f32 holds every integer below 2^24 exactly: the packed global index. */
const MAX_PACKED_INDEX = 2 ** 24;

/** One sharded head table of one rank. */
export interface VocabShard {
  /** the checkpoint name of the full table W[V, D] */
  readonly param: string;
  /** the name of rank r's table [V_p/N, D] in the rank's program */
  readonly shardParam: string;
  readonly vocabSize: number;
  readonly paddedVocab: number;
  /** rows per rank (V_p / N) */
  readonly rows: number;
  /** the first global row of this rank */
  readonly start: number;
  /** rows of this rank below V (the rest is padding) */
  readonly real: number;
}

/** Rank r of N of a drafter: its graph (with one all_gather per drafted token) and its head shards. */
export interface RankProgram {
  readonly graph: Graph;
  readonly rank: number;
  readonly ranks: number;
  readonly shards: readonly VocabShard[];
  /** all_gather nodes per call (one per drafted token) */
  readonly collectives: number;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
/** V padded to a multiple of 64 and of N (= 64 for N a power of two up to 64). */
export function paddedVocab(vocab: number, ranks: number): number {
  const m = (VOCAB_PAD * ranks) / gcd(VOCAB_PAD, ranks);
  return Math.ceil(vocab / m) * m;
}

const isHead = (n: Node): boolean => n.op === 'argmax' && n.src[0].op === 'linear' && n.src[0].src[1].op === 'param'
  && n.argOf<number>('axis') === n.src[0].shape.length - 1;

/** Rank `rank` of `ranks` of a drafter graph (see the file comment). Throws when there is no head to shard. */
export function shardVocabParallel(g: Graph, ranks: number, rank: number): RankProgram {
  if (!Number.isInteger(ranks) || ranks < 1) throw new RangeError(`tensorParallel must be a positive integer, got ${ranks}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= ranks) throw new RangeError(`rank must lie in [0, ${ranks}), got ${rank}`);
  const order = graphNodes(g);
  const use = users(g);
  const heads = order.filter(isHead);
  if (heads.length === 0) throw new Error(`tensor parallel: graph ${g.name} has no LM head to shard (an argmax over the vocabulary of linear(x, W[V, D]) with W a weight)`);
  const shards = new Map<string, VocabShard>();
  const shardNodes = new Map<string, Node>();
  for (const a of heads) {
    const lin = a.src[0];
    if ((use.get(lin) ?? []).length !== 1) throw new Error(`tensor parallel: the logits ${lin} of graph ${g.name} are used besides their argmax; only the argmax is sharded`);
    const w = lin.src[1];
    const name = w.argOf<string>('name');
    if (shards.has(name)) continue;
    const [v, d] = w.shape as number[];
    const vp = paddedVocab(v, ranks);
    if (vp > MAX_PACKED_INDEX) throw new RangeError(`tensor parallel: vocabulary ${v} is too large for an f32-packed index (< 2^24)`);
    const rows = vp / ranks, start = rank * rows;
    const real = Math.max(0, Math.min(rows, v - start));
    const exclusive = (use.get(w) ?? []).every((u) => u.op === 'linear' && heads.some((h) => h.src[0] === u));
    const shardParam = exclusive ? name : `${name}@vocab${rank}of${ranks}`;
    shards.set(name, { param: name, shardParam, vocabSize: v, paddedVocab: vp, rows, start, real });
    shardNodes.set(name, Node.make('param', [], { name: shardParam }, w.dtype, [rows, d]));
  }
  const map = new Map<Node, Node>();
  let collectives = 0;
  for (const n of order) {
    if (!isHead(n)) { map.set(n, n.withSrc(n.src.map((s) => map.get(s)!))); continue; }
    const lin = n.src[0];
    const s = shards.get(lin.src[1].argOf<string>('name'))!;
    const x = map.get(lin.src[0])!;
    const prefix = lin.shape.slice(0, -1);
    const last = lin.shape.length - 1;
    let val: Node, idx: Node;
    if (s.real === s.rows) {
      // a shard of real rows only: the local top-1 as top-k with k = 1 (values and indices), which the
      // lm-head-topk pass computes inside the head's linear (the shard's logits never reach memory)
      const logits = Node.make('linear', [x, shardNodes.get(s.param)!]);
      const flat = (t: Node) => Node.make('reshape', [t], { shape: prefix });
      val = flat(Node.make('topk_values', [logits], { k: 1 }));
      const local = flat(Node.make('topk_indices', [logits], { k: 1 }));
      const offset = Node.make('const', [], { value: s.start }, 'i32', prefix);
      idx = Node.make('cast', [s.start ? Node.make('add', [local, offset]) : local], null, 'f32');
    } else if (s.real > 0) {
      // padding rows are sliced off before the top-1 (that slice keeps the top-1 out of the head's kernel)
      const logits = Node.make('slice', [Node.make('linear', [x, shardNodes.get(s.param)!])], { axis: last, start: 0, end: s.real });
      val = Node.make('reduce_max', [logits], { axis: last });
      const local = Node.make('argmax', [logits], { axis: last });
      const offset = Node.make('const', [], { value: s.start }, 'i32', prefix);
      idx = Node.make('cast', [s.start ? Node.make('add', [local, offset]) : local], null, 'f32');
    } else {
      // a rank of padding only: −∞ never beats a real row of an earlier rank (ties go to the earlier rank)
      val = Node.make('const', [], { value: -Infinity }, 'f32', prefix);
      idx = Node.make('const', [], { value: 0 }, 'f32', prefix);
    }
    const col = (t: Node) => Node.make('reshape', [t], { shape: [...prefix, 1] });
    const packed = Node.make('concat', [col(val), col(idx)], { axis: last });
    const gathered = Node.make('all_gather', [packed], { ranks, seq: collectives++ });
    const part = (k: number) => Node.make('reshape', [Node.make('slice', [gathered], { axis: last + 1, start: k, end: k + 1 })], { shape: [ranks, ...prefix] });
    const best = Node.make('argmax', [part(0)], { axis: 0 });
    const perm = [...prefix.map((_, i) => i + 1), 0];
    const idxs = Node.make('permute', [part(1)], { perm });
    const pick = Node.make('sum', [Node.make('mul', [Node.make('one_hot', [best], { depth: ranks }), idxs])], { axis: last });
    map.set(n, Node.make('cast', [pick], null, 'i32'));
  }
  const graph = makeGraph(`${g.name}_tp${rank}of${ranks}`, g.inputs.map((i) => map.get(i)!), g.outputs.map((o) => ({ name: o.name, node: map.get(o.node)! })));
  return { graph, rank, ranks, shards: [...shards.values()], collectives };
}

/** Rank r's weights: the checkpoint's, with each sharded table replaced by its rows (zero past V). */
export function shardWeights(weights: ReadonlyMap<string, HostTensor>, shards: readonly VocabShard[]): Map<string, HostTensor> {
  const out = new Map(weights);
  for (const s of shards) {
    const full = weights.get(s.param);
    if (!full) throw new Error(`tensor parallel: missing weight "${s.param}"`);
    const d = full.shape[1];
    const t = hostTensor(full.dtype, [s.rows, d]);
    const data = t.data as unknown as { set(a: ArrayLike<number>, o?: number): void };
    data.set((full.data as Float32Array).subarray(s.start * d, (s.start + s.real) * d), 0);
    if (s.shardParam === s.param) out.set(s.param, t);
    else out.set(s.shardParam, t);
  }
  return out;
}

/** The input that stands for collective `seq`'s result in {@link cutAtCollectives}. */
export const gatheredInputName = (seq: number): string => `all_gather.${seq}`;
/** The output that carries collective `seq`'s operand (this rank's send buffer). */
export const sendOutputName = (seq: number): string => `all_gather.${seq}.send`;

/**
 * The kernels of a rank program without its collectives: each all_gather becomes an input
 * (`all_gather.k`, its result) and its operand an extra output (`all_gather.k.send`), so the graph
 * compiles through the ordinary scheduler and codegen. Every kernel the rank runs is in it: the sharded
 * head with its local top-1, the 8-byte pack, and the reduction of the gathered rows.
 */
export function cutAtCollectives(g: Graph): Graph {
  const order = graphNodes(g);
  const map = new Map<Node, Node>();
  const extraIn: Node[] = [];
  const sends: { name: string; node: Node }[] = [];
  for (const n of order) {
    if (n.op === 'all_gather') {
      const seq = n.argOf<number>('seq');
      const input = Node.make('input', [], { name: gatheredInputName(seq) }, n.dtype, n.shape);
      extraIn.push(input);
      sends.push({ name: sendOutputName(seq), node: map.get(n.src[0])! });
      map.set(n, input);
    } else map.set(n, n.withSrc(n.src.map((s) => map.get(s)!)));
  }
  return makeGraph(`${g.name}_kernels`, [...g.inputs, ...extraIn], [...g.outputs.map((o) => ({ name: o.name, node: map.get(o.node)! })), ...sends]);
}

/** One stage of a rank program: the kernels between two collectives. */
export interface RankStage {
  readonly graph: Graph;
  /** the collective (seq) issued after this stage, reading its output `all_gather.k.send`; null after the last */
  readonly then: number | null;
}

/** The name of the input/output that carries `n` (of an earlier stage) into a later stage. */
const carryName = (i: number): string => `carry.${i}`;

/**
 * A rank program as stages an executor runs in order: stage k computes what collective k sends (output
 * `all_gather.k.send`), then collective k runs (on CUDA, ncclAllGather on the same stream, inside the
 * one captured graph), then stage k+1 reads its result (input `all_gather.k`). Values an earlier stage
 * computed and a later one reads travel as `carry.i` outputs/inputs (the same buffer on a device); the
 * graph inputs (first in every stage's signature) and the weights are visible to every stage. Unlike {@link cutAtCollectives}, no kernel
 * can be scheduled before the collective it depends on.
 */
export function stageAtCollectives(g: Graph): RankStage[] {
  const order = graphNodes(g);
  const leaf = (n: Node): boolean => n.src.length === 0;
  const stage = new Map<Node, number>();
  const gathers = order.filter((n) => n.op === 'all_gather').sort((a, b) => a.argOf<number>('seq') - b.argOf<number>('seq'));
  gathers.forEach((n, i) => { if (n.argOf<number>('seq') !== i) throw new Error(`stageAtCollectives: graph ${g.name}: collectives must be numbered 0…${gathers.length - 1}, found seq ${n.argOf<number>('seq')}`); });
  for (const n of order) {
    if (leaf(n)) continue;
    const from = Math.max(0, ...n.src.map((s) => stage.get(s) ?? 0));
    if (n.op === 'all_gather') {
      const k = n.argOf<number>('seq');
      if (leaf(n.src[0])) throw new Error(`stageAtCollectives: collective ${k} sends a leaf`);
      if (from > k) throw new Error(`stageAtCollectives: collective ${k} sends a value that needs collective ${from - 1}`);
      stage.set(n, k + 1);
    } else stage.set(n, from);
  }
  const index = new Map(order.map((n, i) => [n, i]));
  // values read by a later stage than their own (all_gather results are inputs of their stage, not carries)
  const carried = new Set<Node>();
  for (const n of order) {
    if (leaf(n)) continue;
    // collective k's operand is an output of stage k: carried there when an earlier stage computed it
    if (n.op === 'all_gather') { if (stage.get(n.src[0])! < n.argOf<number>('seq')) carried.add(n.src[0]); continue; }
    for (const s of n.src) if (!leaf(s) && s.op !== 'all_gather' && stage.get(s)! < stage.get(n)!) carried.add(s);
  }
  for (const o of g.outputs) if (leaf(o.node)) throw new Error(`stageAtCollectives: output ${o.name} is a leaf`);
  const stages: RankStage[] = [];
  for (let s = 0; s <= gathers.length; s++) {
    const map = new Map<Node, Node>();
    const extraIn: Node[] = [];
    const get = (x: Node): Node => {
      if (leaf(x)) return x;
      const hit = map.get(x);
      if (hit) return hit;
      const st = stage.get(x)!;
      let y: Node;
      if (x.op === 'all_gather' && st === s) y = Node.make('input', [], { name: gatheredInputName(x.argOf<number>('seq')) }, x.dtype, x.shape);
      else if (st < s) y = Node.make('input', [], { name: carryName(index.get(x)!) }, x.dtype, x.shape);
      else if (st > s) throw new Error(`stageAtCollectives: stage ${s} reads a value of stage ${st}`);
      else { y = x.withSrc(x.src.map(get)); map.set(x, y); return y; }
      extraIn.push(y);
      map.set(x, y);
      return y;
    };
    const outputs: { name: string; node: Node }[] = [];
    for (const o of g.outputs) if (stage.get(o.node) === s) outputs.push({ name: o.name, node: get(o.node) });
    if (s < gathers.length) outputs.push({ name: sendOutputName(s), node: get(gathers[s].src[0]) });
    for (const c of [...carried].filter((c) => stage.get(c) === s)) outputs.push({ name: carryName(index.get(c)!), node: get(c) });
    const reached = new Set(graphNodes(makeGraph('probe', [], outputs)).filter((n) => n.op === 'input'));
    // every stage takes the graph's inputs (they bind the batch dims even where a stage reads none of them)
    const inputs = [...g.inputs, ...extraIn.filter((i) => reached.has(i))];
    stages.push({ graph: makeGraph(`${g.name}_stage${s}`, inputs, outputs), then: s < gathers.length ? s : null });
  }
  return stages;
}
