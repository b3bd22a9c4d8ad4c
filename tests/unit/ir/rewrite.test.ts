// The rewrite driver: bottom-up fixpoints, memoization, op filters, and errors that name the table.
import { describe, expect, it } from 'vitest';
import { graphNodes, makeGraph } from '../../../compiler/ir/graph.ts';
import { Node } from '../../../compiler/ir/node.ts';
import type { Rule } from '../../../compiler/ir/rewrite.ts';
import { RewriteError, rewriteGraph, rewriteNodes } from '../../../compiler/ir/rewrite.ts';

const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', 4]);
const unused = Node.make('input', [], { name: 'unused' }, 'i32', []);
const neg = (n: Node): Node => Node.make('neg', [n]);
const exp = (n: Node): Node => Node.make('exp', [n]);
const negNeg: Rule = { name: 'neg-neg', op: 'neg', match: (n) => (n.src[0].op === 'neg' ? n.src[0].src[0] : undefined) };

describe('rewriteGraph', () => {
  it('rewrites bottom up to a fixpoint, keeping the signature and output names', () => {
    const five = neg(neg(neg(neg(neg(x)))));
    const g = makeGraph('g', [x, unused], [{ name: 'a', node: exp(five) }, { name: 'b', node: neg(neg(x)) }]);
    const out = rewriteGraph(g, [negNeg], { name: 'cancel' });
    expect(out.inputs).toEqual([x, unused]);
    expect(out.outputs).toEqual([{ name: 'a', node: exp(neg(x)) }, { name: 'b', node: x }]);
  });

  it('rewrites what a replacement introduces, with later rules of the table', () => {
    const toNegNeg: Rule = { name: 'abs-to-negneg', op: 'abs', match: (n) => neg(neg(n.src[0])) };
    expect(rewriteNodes([Node.make('abs', [x])], [toNegNeg, negNeg], { name: 't' })).toEqual([x]);
  });

  it('tries each rule only on its ops, and each distinct node once', () => {
    const seen: string[] = [];
    const spy: Rule = { op: ['exp', 'sqrt'], match: (n) => { seen.push(n.op); return undefined; } };
    const shared = exp(x);
    rewriteNodes([Node.make('add', [shared, shared]), Node.make('sqrt', [shared])], [spy], { name: 'spy' });
    // nothing changed, so the first sweep is already the fixpoint: no second sweep
    expect(seen.sort()).toEqual(['exp', 'sqrt']);
  });

  it('never rewrites inputs', () => {
    const rename: Rule = { match: (n) => (n.op === 'input' ? Node.make('input', [], { name: 'z' }, n.dtype, n.shape) : undefined) };
    expect(rewriteNodes([neg(x)], [rename], { name: 'r' })).toEqual([neg(x)]);
  });

  it('reports rules that change a node type, naming the table and rule', () => {
    const bad: Rule = { name: 'to-int', op: 'neg', match: (n) => Node.make('cast', [n.src[0]], null, 'i32') };
    expect(() => rewriteNodes([neg(x)], [bad], { name: 'broken' }))
      .toThrow(/rewrite "broken": to-int turned neg:f32\[B,4\] into cast:i32\[B,4\], changing its type from f32\[B,4\] to i32\[B,4\]/);
  });

  it('detects rules that cycle', () => {
    const there: Rule = { op: 'sqrt', match: (n) => Node.make('rsqrt', n.src) };
    const back: Rule = { op: 'rsqrt', match: (n) => Node.make('sqrt', n.src) };
    const e = (() => { try { rewriteNodes([Node.make('sqrt', [x])], [there, back], { name: 'ping-pong' }); } catch (err) { return err; } })();
    expect(e).toBeInstanceOf(RewriteError);
    expect(String(e)).toMatch(/rewrite "ping-pong" did not converge: rules cycle back to sqrt/);
    const grow: Rule = { name: 'grow', op: 'exp', match: (n) => exp(n) };
    expect(() => rewriteNodes([exp(x)], [grow], { name: 'growing' })).toThrow(/rewrite "growing" did not converge: rules cycle back to exp/);
  });

  it('bounds runaway tables without recursion', () => {
    const bump: Rule = { name: 'bump', op: 'const', match: (n) => Node.make('const', [], { value: n.argOf<number>('value') + 1 }, n.dtype, n.shape) };
    const c = Node.make('const', [], { value: 0 }, 'f32', []);
    expect(() => rewriteNodes([c], [bump], { name: 'counter', maxRewrites: 50_000 }))
      .toThrow(/rewrite "counter" did not converge: over 50000 rewrites \(last: bump on const/);
  });

  it('shares rewritten subgraphs (interning gives CSE for free)', () => {
    const a = exp(neg(neg(x))), b = exp(x);
    const out = rewriteGraph(makeGraph('g', [x], [{ name: 'a', node: Node.make('add', [a, b]) }]), [negNeg], { name: 'cse' });
    expect(graphNodes(out).map((n) => n.op)).toEqual(['input', 'exp', 'add']);
  });
});
