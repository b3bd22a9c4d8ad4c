// The verifier: graph invariants, attribute keys, re-inference, and per-stage rules.
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { Node } from '../../../compiler/ir/node.ts';
import { IRVerifyError, STAGE_RULES, verifyGraph } from '../../../compiler/ir/verify.ts';
import { runPipeline } from '../../../compiler/pipeline.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { errorOf, expectDiagnostics, parseIR } from '../../support/ir.ts';

const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', 8]);
const graph = (outs: Record<string, Node>, inputs: Node[] = [x], name = 'g'): Graph =>
  makeGraph(name, inputs, Object.entries(outs).map(([n, node]) => ({ name: n, node })));
const lstm = lstmSpeculator({ hiddenSize: 16, width: 8, vocabSize: 32, nPredict: 3, scaleInput: true }).graph;

describe('verifyGraph', () => {
  it('accepts the speculator graphs and returns no diagnostics', () => {
    expect(verifyGraph(lstm)).toEqual([]);
  });

  it('throws IRVerifyError listing every diagnostic, or returns them on request', () => {
    const other = Node.make('input', [], { name: 'x' }, 'f32', ['B', 4]);
    const g = graph({ a: x, 'b-c': other }, [x, other]);
    const e = errorOf(() => verifyGraph(g, 'graph', { context: 'after pass demo' }));
    expect(e).toBeInstanceOf(IRVerifyError);
    expect(e.message).toMatch(/^graph g after pass demo fails verification \(stage graph\):/);
    expect((e as IRVerifyError).diagnostics.map((d) => d.rule)).toEqual(['inputs', 'outputs']);
    expect(e.message).toContain('[inputs] %x = input: input name "x" appears twice in the signature');
    expect(e.message).toContain('[outputs] output name "b-c" is not an identifier');
  });

  it('flags inputs used but missing from the signature, and non-identifier names', () => {
    const y = Node.make('input', [], { name: 'y' }, 'f32', ['B', 8]);
    const msgs = expectDiagnostics(graph({ o: Node.make('add', [x, y]) }, [x], 'not a name'), 'graph', ['inputs', 'names']);
    expect(msgs).toContain('%y = input: input "y" is used but not in the graph signature');
    const bad = Node.make('input', [], { name: '0' }, 'f32', [1]);
    expectDiagnostics(graph({ o: bad }, [bad]), 'graph', ['inputs']);
  });

  it('flags params of one name with different types', () => {
    const a = Node.make('param', [], { name: 'w' }, 'bf16', [8]);
    const b = Node.make('param', [], { name: 'w' }, 'f32', [8]);
    const msgs = expectDiagnostics(graph({ o: Node.make('add', [Node.make('cast', [a], null, 'f32'), b]) }), 'graph', ['params']);
    expect(msgs[0]).toMatch(/param "w" is f32\[8\] here but bf16\[8\] at %0/);
  });

  it('flags attributes outside ARG_KEYS and dims that cannot be printed', () => {
    const extra = Node.make('sum', [x], { axis: 1, keepdim: true });
    const plain = Node.make('neg', [x], { hint: 'fast' });
    const oddDim = Node.make('param', [], { name: 'p' }, 'f32', ['two words']);
    const msgs = expectDiagnostics(graph({ a: extra, b: plain, c: oddDim }), 'graph', ['arg-keys', 'dims']);
    expect(msgs).toEqual([
      '%0 = sum: unexpected attribute "keepdim" (sum takes axis)',
      '%1 = neg: unexpected attribute "hint" (neg takes none)',
      '%2 = param: bad dim "two words" in [two words]',
    ]);
  });

  it('re-infers every node (a node whose recorded type disagrees is reported)', () => {
    const real = Node.make('neg', [x]);
    // Nodes cannot be built with a wrong type; forge one to prove the check looks.
    const forged = Object.assign(Object.create(Node.prototype), { ...real, shape: ['B', 9], arg: null }) as Node;
    const msgs = expectDiagnostics(graph({ o: forged }), 'graph', ['infer']);
    expect(msgs).toEqual(['%0 = neg: recorded f32[B,9] but inference gives f32[B,8]']);
  });

  it('applies stage rules: a slice inside a concat operand is not canonical until canonicalize runs', () => {
    const g = parseIR(`graph g(%x: f32[B,8], %y: f32[B,4]) {
      %0 = concat %x, %y {axis = 1} : f32[B,12]
      %1 = slice %0 {axis = 1, start = 2, end = 6} : f32[B,4]
      return z = %1
    }`);
    const msgs = expectDiagnostics(g, 'canonical', ['no-slice-within-concat-operand']);
    expect(msgs).toEqual(['%1 = slice: slice lies within operand 0 of a concat']);
    expect(verifyGraph(g, 'simplified')).toEqual([]);
    expect(verifyGraph(runPipeline(g, 'canonicalize'), 'canonical')).toEqual([]);
    expect(verifyGraph(runPipeline(lstm, 'canonicalize'), 'canonical')).toEqual([]);
  });

  it('stage "simplified" rejects what simplify removes', () => {
    const g = parseIR(`graph g(%x: f32[4,2]) {
      %0 = cast %x : f32[4,2]
      %1 = reshape %0 {shape = [8]} : f32[8]
      %2 = reshape %1 {shape = [2, 4]} : f32[2,4]
      %3 = permute %2 {perm = [0, 1]} : f32[2,4]
      %4 = const 1 : f32[4]
      %5 = broadcast %4 {shape = [2, 4]} : f32[2,4]
      %6 = concat %3, %5 {axis = 0} : f32[4,4]
      %7 = slice %6 {axis = 0, start = 2, end = 4} : f32[2,4]
      return y = %7
    }`);
    expectDiagnostics(g, 'simplified', ['no-identity-cast', 'no-movement-chain', 'no-identity-movement', 'no-const-movement', 'no-concat-operand-slice']);
  });

  it('names the known stages for an unknown one', () => {
    expect(() => verifyGraph(lstm, 'fused')).toThrow(`unknown verifier stage "fused" (known: ${Object.keys(STAGE_RULES).join(', ')})`);
  });
});
