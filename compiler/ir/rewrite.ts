// The rewrite driver (tinygrad's graph_rewrite, bottom up): a pass is a table of local rules, each
// returning a replacement node or undefined. Nodes are rebuilt operands-first with memoization, and a
// replacement is itself rewritten until no rule matches, so the result is a fixpoint of the table.
import { IRError } from './errors.ts';
import type { Graph } from './graph.ts';
import { makeGraph, toposort } from './graph.ts';
import type { Node } from './node.ts';
import type { Op } from './ops.ts';
import { fmtShape, sameShape } from './shape.ts';

export interface Rule {
  /** for error messages and tracing */
  readonly name?: string;
  /** only try the rule on these ops (all ops when absent) */
  readonly op?: Op | readonly Op[];
  /** a replacement with the same dtype and shape, or undefined for no match */
  readonly match: (n: Node) => Node | undefined;
}
export type RuleTable = readonly Rule[];

export interface RewriteOptions {
  /** the rule table's name, used in errors */
  readonly name: string;
  /** whole-graph sweeps before giving up (default 8; a sweep after the first only confirms the fixpoint) */
  readonly maxIterations?: number;
  /** replacements allowed per sweep (default 100k): a bound on runaway rule sets that grow the graph */
  readonly maxRewrites?: number;
  /** called for every applied rule, e.g. for tracing */
  readonly onRewrite?: (rule: string, from: Node, to: Node) => void;
}

export class RewriteError extends IRError {
  override name = 'RewriteError';
}

const ruleName = (r: Rule, i: number): string => r.name ?? `rule #${i}`;

/** Rules indexed by op, keeping table order (op-specific and wildcard rules interleaved as written). */
function indexRules(rules: RuleTable): (op: Op) => readonly [Rule, number][] {
  const cache = new Map<Op, [Rule, number][]>();
  return (op) => {
    let list = cache.get(op);
    if (!list) {
      list = [];
      rules.forEach((r, i) => {
        if (r.op === undefined || r.op === op || (Array.isArray(r.op) && r.op.includes(op))) list!.push([r, i]);
      });
      cache.set(op, list);
    }
    return list;
  };
}

class Rewriter {
  readonly memo = new Map<Node, Node>();
  readonly active = new Set<Node>();
  readonly rulesFor: (op: Op) => readonly [Rule, number][];
  readonly opts: RewriteOptions;
  rewrites = 0;

  constructor(rules: RuleTable, opts: RewriteOptions) {
    this.rulesFor = indexRules(rules);
    this.opts = opts;
  }

  /** The first matching rule's replacement for `n`, checked to keep n's type. */
  apply(n: Node): Node | undefined {
    if (n.op === 'input') return undefined; // inputs are the graph signature: never rewritten
    for (const [r, i] of this.rulesFor(n.op)) {
      const out = r.match(n);
      if (out === undefined || out === n) continue;
      if (out.dtype !== n.dtype || !sameShape(out.shape, n.shape)) {
        throw new RewriteError(`rewrite "${this.opts.name}": ${ruleName(r, i)} turned ${n} into ${out}, changing its type from ${n.dtype}${fmtShape(n.shape)} to ${out.dtype}${fmtShape(out.shape)}`);
      }
      if (++this.rewrites > (this.opts.maxRewrites ?? 100_000)) {
        throw new RewriteError(`rewrite "${this.opts.name}" did not converge: over ${this.opts.maxRewrites ?? 100_000} rewrites (last: ${ruleName(r, i)} on ${n})`);
      }
      this.opts.onRewrite?.(ruleName(r, i), n, out);
      return out;
    }
    return undefined;
  }

  cycle(n: Node): never {
    throw new RewriteError(`rewrite "${this.opts.name}" did not converge: rules cycle back to ${n}`);
  }

  /**
   * The fixpoint of `n`. A chain of replacements is followed in a loop (a runaway table hits
   * maxRewrites, not the stack); recursion only visits operands, which `run` memoizes in
   * topological order first, so it only walks the few new nodes a replacement introduces.
   */
  rewrite(n: Node): Node {
    const done = this.memo.get(n);
    if (done) return done;
    const chain: Node[] = [];
    const enter = (x: Node): void => {
      if (this.active.has(x)) this.cycle(x);
      this.active.add(x);
      chain.push(x);
    };
    let cur = n;
    for (;;) {
      enter(cur);
      const rebuilt = cur.withSrc(cur.src.map((s) => this.rewrite(s)));
      const hit = this.memo.get(rebuilt);
      if (hit) { cur = hit; break; }
      if (rebuilt !== cur) enter(rebuilt);
      const next = this.apply(rebuilt);
      if (next === undefined) { cur = rebuilt; break; }
      const known = this.memo.get(next);
      if (known) { cur = known; break; }
      cur = next;
    }
    for (const x of chain) { this.active.delete(x); this.memo.set(x, cur); }
    this.memo.set(cur, cur);
    return cur;
  }

  run(roots: readonly Node[]): Node[] {
    for (const n of toposort(roots)) this.rewrite(n);
    return roots.map((r) => this.memo.get(r)!);
  }
}

/** Rewrite nodes to a fixpoint of `rules`; returns the replacements of `roots`, in order. */
export function rewriteNodes(roots: readonly Node[], rules: RuleTable, opts: RewriteOptions): Node[] {
  const max = opts.maxIterations ?? 8;
  let cur = [...roots];
  for (let it = 0; it < max; it++) {
    const next = new Rewriter(rules, opts).run(cur);
    if (next.every((n, i) => n === cur[i])) return next;
    cur = next;
  }
  throw new RewriteError(`rewrite "${opts.name}" did not converge within ${max} sweeps`);
}

/** A new graph with every output rewritten to a fixpoint of `rules`; the inputs (signature) are kept. */
export function rewriteGraph(g: Graph, rules: RuleTable, opts: RewriteOptions): Graph {
  const outs = rewriteNodes(g.outputs.map((o) => o.node), rules, opts);
  return makeGraph(g.name, g.inputs, g.outputs.map((o, i) => ({ name: o.name, node: outs[i] })));
}
