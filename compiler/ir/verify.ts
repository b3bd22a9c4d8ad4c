// The IR verifier: the invariants every graph keeps, plus per-stage rules (what a pass must have
// removed). Runs after every pass in tests; diagnostics name nodes the way printGraph numbers them.
import { IRError } from './errors.ts';
import type { Graph } from './graph.ts';
import { graphNodes } from './graph.ts';
import { inferNode } from './infer.ts';
import type { Node } from './node.ts';
import type { Op } from './ops.ts';
import { ARG_KEYS, OPTIONAL_ARG_KEYS } from './ops.ts';
import { fmtShape, isDimName, sameShape } from './shape.ts';

export interface Diagnostic {
  /** which check failed, e.g. "infer", "arg-keys", "no-identity-cast" */
  readonly rule: string;
  readonly message: string;
  readonly node?: Node;
}

/** One stage-specific rule: a message when `n` violates it, undefined when it holds. */
export interface StageRule {
  readonly name: string;
  readonly ops?: readonly Op[];
  readonly check: (n: Node) => string | undefined;
}

export class IRVerifyError extends IRError {
  override name = 'IRVerifyError';
  readonly diagnostics: readonly Diagnostic[];
  constructor(header: string, diagnostics: readonly Diagnostic[]) {
    super(`${header}\n${diagnostics.map((d) => `  [${d.rule}] ${d.message}`).join('\n')}`);
    this.diagnostics = diagnostics;
  }
}

const LEAVES = new Set<Op>(['input', 'param', 'const']);

/** Start offsets of a concat's operands along its axis. */
export function concatOffsets(n: Node): number[] {
  const ax = n.argOf<number>('axis');
  const offs: number[] = [];
  let acc = 0;
  for (const s of n.src) { offs.push(acc); acc += s.shape[ax] as number; }
  return offs;
}

/** The concat operand index whose range a slice lies in, or -1 (slice and concat along the same axis). */
export function sliceWithinOperand(slice: Node): number {
  const c = slice.src[0];
  if (c.op !== 'concat' || c.argOf<number>('axis') !== slice.argOf<number>('axis')) return -1;
  const start = slice.argOf<number>('start'), end = slice.argOf<number>('end');
  const ax = c.argOf<number>('axis');
  return concatOffsets(c).findIndex((o, i) => start >= o && end <= o + (c.src[i].shape[ax] as number));
}

const rule = (name: string, ops: readonly Op[], check: (n: Node) => string | undefined): StageRule => ({ name, ops, check });

const SIMPLIFIED: readonly StageRule[] = [
  rule('no-identity-cast', ['cast'], (n) => (n.src[0].dtype === n.dtype ? `cast to its operand's dtype ${n.dtype}` : undefined)),
  rule('no-identity-movement', ['reshape', 'broadcast', 'permute', 'slice'], (n) =>
    (sameShape(n.shape, n.src[0].shape) && (n.op !== 'permute' || n.argOf<number[]>('perm').every((p, i) => p === i))
      ? `${n.op} leaves its operand's shape ${fmtShape(n.shape)} unchanged` : undefined)),
  rule('no-movement-chain', ['reshape', 'broadcast', 'permute'], (n) => (n.src[0].op === n.op ? `${n.op} of ${n.op}` : undefined)),
  rule('no-const-movement', ['reshape', 'broadcast', 'permute', 'slice'], (n) => (n.src[0].op === 'const' ? `${n.op} of a const` : undefined)),
  rule('no-concat-operand-slice', ['slice'], (n) => {
    const i = sliceWithinOperand(n);
    return i >= 0 && sameShape(n.shape, n.src[0].src[i].shape) ? `slice selects exactly operand ${i} of a concat` : undefined;
  }),
];
const CONCAT_SLICE_FOLDED: readonly StageRule[] = [
  rule('no-slice-within-concat-operand', ['slice'], (n) => {
    const i = sliceWithinOperand(n);
    return i >= 0 ? `slice lies within operand ${i} of a concat` : undefined;
  }),
];

/** Stage → the extra rules a graph at that stage satisfies. 'graph' is any well-formed graph. */
export const STAGE_RULES: Readonly<Record<string, readonly StageRule[]>> = {
  graph: [],
  simplified: SIMPLIFIED,
  'concat-slice-folded': CONCAT_SLICE_FOLDED,
  canonical: [...SIMPLIFIED, ...CONCAT_SLICE_FOLDED],
};

/** Names as printGraph writes them (%input or %k), so diagnostics can be matched to a dump. */
function printedNames(g: Graph, nodes: readonly Node[]): Map<Node, string> {
  const names = new Map<Node, string>();
  for (const i of g.inputs) names.set(i, `%${String(i.arg?.name)}`);
  let k = 0;
  for (const n of nodes) if (!names.has(n)) names.set(n, n.op === 'input' ? `%${String(n.arg?.name)}` : `%${k++}`);
  return names;
}

function checkNode(n: Node): [rule: string, message: string][] {
  const errs: [string, string][] = [];
  const want = ARG_KEYS[n.op] ?? [];
  const have = n.arg ? Object.keys(n.arg) : [];
  for (const k of want) if (!have.includes(k)) errs.push(['arg-keys', `missing attribute "${k}"`]);
  const may = OPTIONAL_ARG_KEYS[n.op] ?? [];
  if (n.arg?.epilogue !== undefined && may.includes('epilogue') && n.arg.epilogue !== 'linear' && !(n.op === 'argmax' && n.arg.epilogue === 'certified')) errs.push(['arg-keys', `epilogue must be "linear"${n.op === 'argmax' ? ' or "certified"' : ''}, got ${JSON.stringify(n.arg.epilogue)}`]);
  for (const k of have) if (!want.includes(k) && !may.includes(k)) errs.push(['arg-keys', `unexpected attribute "${k}" (${n.op} takes ${want.length ? want.join(', ') : 'none'})`]);
  for (const d of n.shape) {
    if (typeof d === 'number' ? !(Number.isInteger(d) && d >= 0) : !isDimName(d)) errs.push(['dims', `bad dim ${JSON.stringify(d)} in ${fmtShape(n.shape)}`]);
  }
  try {
    const given = LEAVES.has(n.op) || n.op === 'cast';
    const t = inferNode(n.op, n.src, n.arg, given ? n.dtype : undefined, LEAVES.has(n.op) ? n.shape : undefined);
    if (t.dtype !== n.dtype || !sameShape(t.shape, n.shape)) errs.push(['infer', `recorded ${n.dtype}${fmtShape(n.shape)} but inference gives ${t.dtype}${fmtShape(t.shape)}`]);
  } catch (e) {
    if (!(e instanceof IRError)) throw e;
    errs.push(['infer', `inference fails: ${e.message}`]);
  }
  return errs;
}

export interface VerifyOptions {
  /** false: return the diagnostics instead of throwing (default true) */
  readonly throwOnError?: boolean;
  /** added to the error header, e.g. 'after pass "simplify"' */
  readonly context?: string;
}

/**
 * Check a graph's invariants and the rules of `stage`. Returns the diagnostics (empty when valid);
 * unless throwOnError is false, throws IRVerifyError listing them instead of returning a non-empty list.
 */
export function verifyGraph(g: Graph, stage = 'graph', opts: VerifyOptions = {}): Diagnostic[] {
  const stageRules = STAGE_RULES[stage];
  if (!stageRules) throw new Error(`unknown verifier stage "${stage}" (known: ${Object.keys(STAGE_RULES).join(', ')})`);
  const nodes = graphNodes(g);
  const names = printedNames(g, nodes);
  const out: Diagnostic[] = [];
  const report = (ruleName: string, message: string, node?: Node): void => {
    out.push({ rule: ruleName, message: node ? `${names.get(node)} = ${node.op}: ${message}` : message, node });
  };

  if (!isDimName(g.name)) report('names', `graph name ${JSON.stringify(g.name)} is not an identifier`);
  const inputNames = new Set<string>();
  for (const i of g.inputs) {
    const name = String(i.arg?.name);
    if (inputNames.has(name)) report('inputs', `input name "${name}" appears twice in the signature`, i);
    inputNames.add(name);
    if (!isDimName(name)) report('inputs', `input name ${JSON.stringify(name)} is not an identifier (printed as %name)`, i);
  }
  const signature = new Set(g.inputs);
  const params = new Map<string, Node>();
  for (const n of nodes) {
    for (const [r, msg] of checkNode(n)) report(r, msg, n);
    if (n.op === 'input' && !signature.has(n)) report('inputs', `input "${String(n.arg?.name)}" is used but not in the graph signature`, n);
    if (n.op === 'param') {
      const name = String(n.arg?.name);
      const prev = params.get(name);
      if (prev && prev !== n) report('params', `param "${name}" is ${n.dtype}${fmtShape(n.shape)} here but ${prev.dtype}${fmtShape(prev.shape)} at ${names.get(prev)}`, n);
      else params.set(name, n);
    }
    for (const r of stageRules) {
      if (r.ops && !r.ops.includes(n.op)) continue;
      const msg = r.check(n);
      if (msg) report(r.name, msg, n);
    }
  }
  const outNames = new Set<string>();
  for (const o of g.outputs) {
    if (outNames.has(o.name)) report('outputs', `output name "${o.name}" appears twice`);
    if (!isDimName(o.name)) report('outputs', `output name ${JSON.stringify(o.name)} is not an identifier`);
    outNames.add(o.name);
  }
  if (out.length && opts.throwOnError !== false) {
    throw new IRVerifyError(`graph ${g.name}${opts.context ? ` ${opts.context}` : ''} fails verification (stage ${stage}):`, out);
  }
  return out;
}
