// The reference interpreter: the executable meaning of the IR, and the oracle for every backend.
// Numerics: every op computes in float64 from the stored values, then stores to the node's dtype:
// f32 results round once; bf16/f16/fp8 results round to f32 and then to the narrow type (ties to even),
// as a GPU that computes in f32 and converts on store does. Float→int casts truncate and saturate.
// argmax/topk ties go to the lowest index; NaN counts as the largest value (as in PyTorch).
import type { Graph } from './graph.ts';
import { graphNodes, users } from './graph.ts';
import type { Node } from './node.ts';
import type { HostTensor } from './tensor-data.ts';
import { hostTensor, numel, reader, writer } from './tensor-data.ts';
import { evalElementwise } from './interp-elementwise.ts';
import { evalContraction } from './interp-contract.ts';
import { evalMovement } from './interp-movement.ts';
import { evalReduce } from './interp-reduce.ts';
import { fmtShape, resolveShape } from './shape.ts';
import { evalAttention, evalKvWrite } from './interp-decoder.ts';
import { COLLECTIVE, ELEMENTWISE, MOVEMENT, REDUCE, ROW, TRAINING } from './ops.ts';
import { evalTraining } from './interp-train.ts';

export type Params = ReadonlyMap<string, HostTensor>;
export type Env = ReadonlyMap<string, number>;

/** Bind symbolic dims from the actual input shapes; throws naming the input and both shapes. */
export function bindDims(g: Graph, inputs: Readonly<Record<string, HostTensor>>): Map<string, number> {
  const env = new Map<string, number>();
  for (const node of g.inputs) {
    const name = node.argOf<string>('name');
    const t = inputs[name];
    if (!t) throw new Error(`graph ${g.name}: missing input "${name}" (${node.dtype}${fmtShape(node.shape)})`);
    if (t.dtype !== node.dtype) throw new TypeError(`input "${name}": expected dtype ${node.dtype}, got ${t.dtype}`);
    if (t.shape.length !== node.shape.length) throw new RangeError(`input "${name}": expected shape ${fmtShape(node.shape)}, got ${fmtShape(t.shape)}`);
    if (t.data.length !== numel(t.shape)) throw new RangeError(`input "${name}": shape ${fmtShape(t.shape)} needs ${numel(t.shape)} elements, data has ${t.data.length}`);
    node.shape.forEach((d, i) => {
      const actual = t.shape[i];
      const want = typeof d === 'number' ? d : env.get(d);
      if (want === undefined) env.set(d as string, actual);
      else if (want !== actual) {
        throw new RangeError(`input "${name}": expected shape ${fmtShape(node.shape)}${typeof d === 'string' ? ` with ${d}=${want}` : ''}, got ${fmtShape(t.shape)}`);
      }
    });
  }
  return env;
}

export function checkParam(node: Node, t: HostTensor | undefined): HostTensor {
  const name = node.argOf<string>('name');
  if (!t) throw new Error(`missing parameter "${name}" (${node.dtype}${fmtShape(node.shape)})`);
  if (t.dtype !== node.dtype) throw new TypeError(`parameter "${name}": expected dtype ${node.dtype}, got ${t.dtype}`);
  if (t.shape.length !== node.shape.length || t.shape.some((d, i) => d !== node.shape[i])) {
    throw new RangeError(`parameter "${name}": expected shape ${fmtShape(node.shape)}, got ${fmtShape(t.shape)}`);
  }
  if (t.data.length !== numel(t.shape)) throw new RangeError(`parameter "${name}": shape ${fmtShape(t.shape)} needs ${numel(t.shape)} elements, data has ${t.data.length}`);
  return t;
}

/** Evaluate one non-leaf node from its operand values. */
export function evalNode(n: Node, src: readonly HostTensor[], env: Env): HostTensor {
  const shape = resolveShape(n.shape, env);
  if (ELEMENTWISE.has(n.op)) return evalElementwise(n, src, shape);
  if (REDUCE.has(n.op) || ROW.has(n.op)) return evalReduce(n, src[0], shape);
  if (MOVEMENT.has(n.op)) return evalMovement(n, src, shape);
  if (n.op === 'kv_write') return evalKvWrite(src, false);
  if (n.op === 'attention') return evalAttention(n, src, shape);
  if (TRAINING.has(n.op)) return evalTraining(n, src, shape);
  if (COLLECTIVE.has(n.op)) throw new Error(`${n}: a collective is answered by the caller of interpretSteps, not evaluated`);
  return evalContraction(n, src, shape);
}

function evalLeaf(n: Node, env: Env, inputs: Readonly<Record<string, HostTensor>>, params: Params): HostTensor {
  if (n.op === 'input') return inputs[n.argOf<string>('name')];
  if (n.op === 'param') return checkParam(n, params.get(n.argOf<string>('name')));
  const t = hostTensor(n.dtype, resolveShape(n.shape, env));
  const w = writer(t);
  const v = n.argOf<number>('value');
  for (let i = 0, len = numel(t.shape); i < len; i++) w(i, v);
  return t;
}

export interface InterpretOptions {
  /**
   * Buffer donation (docs/targets.md): a kv_write of a graph input updates that input tensor in place
   * instead of copying it. The caller gives the input up: it holds the updated state afterwards.
   */
  readonly inPlace?: boolean;
}

/** Run a graph on the CPU. Returns every output by name. A graph with collectives needs `o.collective`. */
export function interpret(g: Graph, inputs: Readonly<Record<string, HostTensor>>, params: Params = new Map(), o: InterpretOptions & { readonly collective?: CollectiveHook } = {}): Record<string, HostTensor> {
  const run = interpretSteps(g, inputs, params, o);
  let r = run.next();
  while (!r.done) {
    if (!o.collective) throw new Error(`graph ${g.name}: ${r.value.node} exchanges data between ranks; run it with a collective (interpretRanks, or a tensor-parallel speculator)`);
    r = run.next(o.collective(r.value));
  }
  return r.value;
}

/** A collective the interpreter reached: its node (op and args) and this rank's operand. */
export interface CollectiveRequest { readonly node: Node; readonly value: HostTensor }
/** Answers a collective with its result (for all_gather: every rank's operand, stacked rank-major). */
export type CollectiveHook = (req: CollectiveRequest) => HostTensor;

/**
 * The interpreter as a generator: it yields at every collective (all_gather) with this rank's operand
 * and resumes with the result the caller passes to next(), so one rank can run in a worker that
 * exchanges over IPC, or N ranks in one process in lockstep ({@link interpretRanks}).
 */
export function* interpretSteps(g: Graph, inputs: Readonly<Record<string, HostTensor>>, params: Params = new Map(), o: InterpretOptions = {}): Generator<CollectiveRequest, Record<string, HostTensor>, HostTensor> {
  const donated = o.inPlace ? donations(g) : new Set<Node>();
  const env = bindDims(g, inputs);
  const values = new Map<Node, HostTensor>();
  const remaining = new Map<Node, number>();
  const order = graphNodes(g);
  for (const n of order) for (const s of n.src) remaining.set(s, (remaining.get(s) ?? 0) + 1);
  const keep = new Set(g.outputs.map((o) => o.node));
  for (const n of order) {
    let v: HostTensor;
    if (COLLECTIVE.has(n.op)) {
      const got = yield { node: n, value: values.get(n.src[0])! };
      const want = resolveShape(n.shape, env);
      if (!got || got.dtype !== n.dtype || got.shape.length !== want.length || got.shape.some((d, i) => d !== want[i])) {
        throw new Error(`${n}: the collective answered ${got ? `${got.dtype}${fmtShape(got.shape)}` : 'nothing'}, expected ${n.dtype}${fmtShape(want)}`);
      }
      v = got;
    } else {
      v = n.src.length === 0 ? evalLeaf(n, env, inputs, params)
        : donated.has(n) ? evalKvWrite(n.src.map((s) => values.get(s)!), true)
        : evalNode(n, n.src.map((s) => values.get(s)!), env);
    }
    values.set(n, v);
    // drop intermediates once their last user has run: big-vocab logits should not pile up
    for (const s of n.src) {
      const left = remaining.get(s)! - 1;
      remaining.set(s, left);
      if (left === 0 && !keep.has(s)) values.delete(s);
    }
  }
  const out: Record<string, HostTensor> = {};
  for (const o of g.outputs) out[o.name] = values.get(o.node)!;
  return out;
}

/** all_gather of one operand per rank: [ranks, ...shape], rank-major. */
export function gatherRanks(parts: readonly HostTensor[]): HostTensor {
  const first = parts[0];
  for (const [r, p] of parts.entries()) {
    if (p.dtype !== first.dtype || p.shape.length !== first.shape.length || p.shape.some((d, i) => d !== first.shape[i])) {
      throw new Error(`all_gather: rank ${r} sent ${p.dtype}${fmtShape(p.shape)}, rank 0 sent ${first.dtype}${fmtShape(first.shape)}`);
    }
  }
  const out = hostTensor(first.dtype, [parts.length, ...first.shape]);
  const n = first.data.length;
  parts.forEach((p, r) => (out.data as { set(a: ArrayLike<number | bigint>, o: number): void }).set(p.data as ArrayLike<number>, r * n));
  return out;
}

/**
 * N rank programs in one process, in lockstep: each runs to its next collective, then every rank gets
 * the gathered result. The emulation of the tensor-parallel step that the CPU tests check exactness with.
 */
export function interpretRanks(graphs: readonly Graph[], inputs: Readonly<Record<string, HostTensor>>, params: readonly Params[]): Record<string, HostTensor>[] {
  const runs = graphs.map((g, r) => interpretSteps(g, inputs, params[r]));
  let steps = runs.map((run) => run.next());
  for (;;) {
    const done = steps.filter((s) => s.done).length;
    if (done === steps.length) return steps.map((s) => s.value as Record<string, HostTensor>);
    if (done > 0) throw new Error(`interpretRanks: ${done} of ${steps.length} ranks finished while the others wait in a collective`);
    const reqs = steps.map((s) => s.value as CollectiveRequest);
    const ranks = reqs.map((q) => q.node.argOf<number>('ranks'));
    const seqs = new Set(reqs.map((q) => q.node.argOf<number>('seq')));
    if (seqs.size !== 1) throw new Error(`interpretRanks: the ranks wait in different collectives (seq ${[...seqs].join(', ')})`);
    if (ranks.some((k) => k !== graphs.length)) throw new Error(`interpretRanks: ${graphs.length} ranks, but a collective gathers over ${ranks.join('/')}`);
    const gathered = gatherRanks(reqs.map((q) => q.value));
    steps = runs.map((run) => run.next(gathered));
  }
}

/**
 * The kv_write nodes that may update their cache operand in place: the operand is a graph input whose
 * only user is that write (nothing reads the old state afterwards). See docs/targets.md.
 */
export function donations(g: Graph): Set<Node> {
  const use = users(g);
  const out = new Set<Node>();
  for (const n of graphNodes(g)) {
    if (n.op !== 'kv_write' || n.src[0].op !== 'input') continue;
    const u = use.get(n.src[0]) ?? [];
    if (u.length === 1 && u[0] === n) out.add(n);
  }
  return out;
}

export { reader, writer };
