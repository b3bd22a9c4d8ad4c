// The textual IR parser: what it accepts beyond the printer's output, and the errors people will see.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Node } from '../../../compiler/ir/node.ts';
import { cstTypesSource } from '../../../compiler/ir/parse/gen-cst-types.ts';
import { IRParseError, parseGraph, parseModule } from '../../../compiler/ir/parse/index.ts';
import { printGraph } from '../../../compiler/ir/print.ts';
import { errorOf, parseIR } from '../../support/ir.ts';

const parseError = (text: string): IRParseError => {
  const e = errorOf(() => parseGraph(text, 'case.air'));
  expect(e).toBeInstanceOf(IRParseError);
  return e as IRParseError;
};

describe('parseGraph accepts', () => {
  it('hand-written IR with comments and named values, building interned nodes', () => {
    const g = parseIR(`
      // a gate: x·wᵀ then sigmoid
      graph gate(%x: f32[B,64]) {   // trailing comment
        %w = param "gate.weight" : bf16[16,64]
        %lin = linear %x, %w : f32[B,16]
        %g = sigmoid %lin : f32[B,16]
        return out = %g
      }`);
    const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', 64]);
    const w = Node.make('param', [], { name: 'gate.weight' }, 'bf16', [16, 64]);
    expect(g.inputs).toEqual([x]);
    expect(g.outputs[0].node).toBe(Node.make('sigmoid', [Node.make('linear', [x, w])]));
  });

  it('every number spelling the printer uses', () => {
    const vals = ['-0', 'nan', 'inf', '-inf', '1e+21', '1e-7', '-2.5', '5e-324'];
    const text = `graph g() {\n${vals.map((v, i) => `  %${i} = const ${v} : f32[]`).join('\n')}\n  return ${vals.map((_, i) => `o${i} = %${i}`).join(', ')}\n}\n`;
    const got = parseIR(text).outputs.map((o) => o.node.argOf<number>('value'));
    expect(got).toEqual([-0, NaN, Infinity, -Infinity, 1e21, 1e-7, -2.5, 5e-324]);
    expect(Object.is(got[0], -0)).toBe(true);
    expect(printGraph(parseIR(text))).toBe(text);
  });

  it('keywords as names, JSON escapes in param names, scalar types, and {} on attribute-less ops', () => {
    const g = parseIR(String.raw`graph graph(%inf: f32[inf,graph]) {
      %0 = param "a\"b\\c\n\u0001" : f32[]
      %1 = neg %0 {} : f32[]
      %2 = reshape %inf {shape = [graph, inf]} : f32[graph,inf]
      return return = %1, const = %2
    }`);
    expect(g.name).toBe('graph');
    expect(g.outputs.map((o) => o.name)).toEqual(['return', 'const']);
    expect(g.outputs[0].node.src[0].arg).toEqual({ name: 'a"b\\c\n\u0001' });
    expect(g.outputs[1].node.arg).toEqual({ shape: ['graph', 'inf'] });
  });

  it('words that start with a keyword as plain names (longer_alt)', () => {
    const g = parseIR('graph constants(%x: f32[graphs]) {\n  %0 = reshape %x {shape = [graphs]} : f32[graphs]\n  return params = %0, infinity = %x\n}');
    expect([g.name, ...g.outputs.map((o) => o.name), g.inputs[0].shape[0]]).toEqual(['constants', 'params', 'infinity', 'graphs']);
  });

  it('a return of nothing and a graph without inputs', () => {
    expect(parseIR('graph g() {\n  return \n}\n').outputs).toEqual([]);
  });

  it('several graphs split by // ----- in parseModule, but not in parseGraph', () => {
    const text = 'graph a() {\n  // ----- not a separator -----\n  return\n}\n// -----\n// -----\ngraph b() {\n  return\n}\n';
    expect(parseModule(text).map((g) => g.name)).toEqual(['a', 'b']);
    const e = parseError(text);
    expect([e.line, e.column]).toEqual([7, 1]);
    expect(e.reason).toMatch(/single graph.*parseModule/);
  });
});

describe('parse errors name the place and what was expected', () => {
  const cases: [string, string, [number, number], RegExp][] = [
    ['lexer', 'graph g(%x: f32[4]) {\n  %1 = neg %x : f32[4] @\n  return y = %1\n}', [2, 24], /unexpected character "@"/],
    ['bad string', 'graph g() {\n  %0 = param "tab\there" : f32[]\n  return y = %0\n}', [2, 14], /malformed string literal/],
    ['missing colon', 'graph g(%x: f32[4]) {\n  %1 = neg %x f32[4]\n  return y = %1\n}', [2, 15], /expected ':' in a node definition, found 'f32'/],
    ['no op', 'graph g(%x: f32[4]) {\n  %1 = = neg %x : f32[4]\n  return y = %1\n}', [2, 8], /expected 'param' or 'const' or an identifier .*found '='/],
    ['end of input', 'graph g(%x: f32[4]) {\n  %1 = neg %x : f32[4]\n  return y = %1\n', [3, 16], /expected '}' in a graph, found end of input/],
    ['empty file', '// nothing here\n', [1, 1], /expected 'graph', found end of input/],
    ['undefined value', 'graph g(%x: f32[4]) {\n  %1 = add %x, %2 : f32[4]\n  return y = %1\n}', [2, 16], /undefined value %2/],
    ['undefined output', 'graph g(%x: f32[4]) {\n  return y = %9\n}', [2, 14], /undefined value %9/],
    ['redefinition', 'graph g(%x: f32[4]) {\n  %x = neg %x : f32[4]\n  return y = %x\n}', [2, 3], /%x is already defined at 1:9/],
    ['duplicate input', 'graph g(%x: f32[4], %x: f32[4]) {\n  return\n}', [1, 21], /%x is already defined/],
    ['type mismatch', 'graph g(%x: f32[B,64]) {\n  %3 = add %x, %x : f32[B,32]\n  return y = %3\n}', [2, 21], /type annotation f32\[B,32\] disagrees with the inferred type f32\[B,64\]/],
    ['dtype mismatch', 'graph g(%x: bf16[4]) {\n  %1 = linear %x, %x : bf16[4]\n  return y = %1\n}', [2, 8], /linear: weight must be rank 2/],
    ['unknown op', 'graph g(%x: f32[4]) {\n  %1 = sigmod %x : f32[4]\n  return y = %1\n}', [2, 8], /unknown op 'sigmod' \(did you mean 'sigmoid'\?\)/],
    ['input in body', 'graph g() {\n  %1 = input : f32[4]\n  return y = %1\n}', [2, 8], /declared in the graph signature/],
    ['unknown dtype', 'graph g(%x: f33[4]) {\n  return\n}', [1, 13], /unknown dtype 'f33' \(expected one of f32, /],
    ['fractional dim', 'graph g(%x: f32[1.5]) {\n  return\n}', [1, 17], /dimension 1.5 is not a non-negative integer/],
    ['missing attribute', 'graph g(%x: f32[4]) {\n  %1 = sum %x : f32[]\n  return y = %1\n}', [2, 8], /sum needs attribute 'axis'/],
    ['missing in braces', 'graph g(%x: f32[4]) {\n  %1 = slice %x {axis = 0} : f32[2]\n  return y = %1\n}', [2, 26], /slice needs attributes 'start', 'end'/],
    ['extra attribute', 'graph g(%x: f32[4]) {\n  %1 = sum %x {axis = 0, keep = true} : f32[]\n  return y = %1\n}', [2, 26], /unexpected attribute 'keep' for sum \(expected 'axis'\)/],
    ['attribute on plain op', 'graph g(%x: f32[4]) {\n  %1 = neg %x {axis = 0} : f32[4]\n  return y = %1\n}', [2, 16], /unexpected attribute 'axis' for neg \(it takes no attributes\)/],
    ['duplicate attribute', 'graph g(%x: f32[4]) {\n  %1 = sum %x {axis = 0, axis = 0} : f32[]\n  return y = %1\n}', [2, 26], /attribute 'axis' is given twice/],
    ['bad attribute value', 'graph g(%x: f32[4]) {\n  %1 = sum %x {axis = "0"} : f32[]\n  return y = %1\n}', [2, 8], /sum: attribute "axis" must be a number/],
    ['inference', 'graph g(%x: f32[4]) {\n  %1 = slice %x {axis = 0, start = 2, end = 9} : f32[7]\n  return y = %1\n}', [2, 8], /range \[2, 9\) out of bounds for dim 4/],
    ['duplicate output', 'graph g(%x: f32[4]) {\n  return y = %x, y = %x\n}', [2, 18], /output 'y' is returned twice/],
  ];
  it.each(cases)('%s', (_, text, [line, column], reason) => {
    const e = parseError(text);
    expect(e.reason).toMatch(reason);
    expect([e.line, e.column]).toEqual([line, column]);
    expect(e.message.startsWith(`case.air:${line}:${column}: `)).toBe(true);
  });

  it('shows the source line with a caret under the column', () => {
    const e = parseError('graph g(%x: f32[4]) {\n  %1 = add %x, %2 : f32[4]\n  return y = %1\n}');
    expect(e.message).toBe('case.air:2:16: undefined value %2\n    %1 = add %x, %2 : f32[4]\n                 ^');
  });

  it('leaves the singleton parser usable after an error', () => {
    parseError('graph g( {');
    expect(parseIR('graph g() {\n  return\n}').name).toBe('g');
  });
});

describe('generated CST types', () => {
  it('match the grammar (regenerate with node compiler/ir/parse/gen-cst-types.ts --write)', () => {
    const committed = readFileSync(new URL('../../../compiler/ir/parse/cst-types.ts', import.meta.url), 'utf8');
    expect(committed).toBe(cstTypesSource());
  });
});
