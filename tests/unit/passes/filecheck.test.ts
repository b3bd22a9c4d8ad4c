// The FileCheck clone itself: what passes, what must fail, and what the failure says.
import { describe, expect, it } from 'vitest';
import { fileCheck, FileCheckError, parseChecks } from '../../support/filecheck.ts';

const INPUT = `graph g(%x: f32[B,8]) {
  %0 = param "w" : bf16[16,8]
  %1 = linear %x, %0 : f32[B,16]
  %2 = slice %1 {axis = 1, end = 8, start = 0} : f32[B,8]
  %3 = sigmoid %2 : f32[B,8]
  return y = %3
}
graph h() {
  %0 = const 1 : f32[]
  return z = %0
}
`;

const ok = (checks: string): void => fileCheck(INPUT, checks);
const failure = (checks: string): string => {
  try {
    fileCheck(INPUT, checks, { checkFile: 't.air' });
  } catch (e) {
    expect(e).toBeInstanceOf(FileCheckError);
    return (e as Error).message;
  }
  return expect.fail('FileCheck passed but should have failed');
};

describe('fileCheck passes', () => {
  it('CHECK in order, anywhere on a line, with whitespace runs matching any run', () => {
    ok('// CHECK: param "w"\n// CHECK: linear   %x,  %0\n// CHECK: return y');
  });
  it('CHECK-NEXT and CHECK-SAME', () => {
    ok('// CHECK: %1 = linear\n// CHECK-NEXT: %2 = slice\n// CHECK-SAME: axis = 1\n// CHECK-SAME: : f32[B,8]\n// CHECK-NEXT: sigmoid');
  });
  it('CHECK-NOT between matches and at the end', () => {
    ok('// CHECK: linear\n// CHECK-NOT: concat\n// CHECK: sigmoid\n// CHECK-NOT: gelu');
  });
  it('{{regex}}, [[var:regex]] captures and [[var]] uses, including within one pattern', () => {
    ok('// CHECK: [[W:%[0-9]+]] = param\n// CHECK: linear %x, [[W]] : f32[B,{{[0-9]+}}]\n// CHECK: [[S:%[0-9]+]] = slice\n// CHECK: sigmoid [[S]]');
    ok('// CHECK: [[V:%[0-9]+]] = sigmoid %2 : f32[B,8]\n// CHECK: y = [[V]]');
    fileCheck('a1 b a1', '// CHECK: [[X:a[0-9]]] b [[X]]');
  });
  it('CHECK-LABEL confines the checks after it to its block', () => {
    ok('// CHECK-LABEL: graph g(\n// CHECK: sigmoid\n// CHECK-NOT: const\n// CHECK-LABEL: graph h(\n// CHECK-NEXT: const 1');
  });
  it('parseChecks reads prefixes anywhere on the line, and custom prefixes', () => {
    expect(parseChecks('x // CHECK-NOT: foo\n%0 = add // CHECK: bar\n// RUN: passes=x')).toEqual([
      { kind: 'CHECK-NOT', pattern: 'foo', line: 1 }, { kind: 'CHECK', pattern: 'bar', line: 2 },
    ]);
    fileCheck('a\nb', '// OUT: a\n// OUT-NEXT: b\n// CHECK: not used', { prefix: 'OUT' });
  });
});

describe('fileCheck fails', () => {
  it('when a pattern is missing, showing the check line and the region searched', () => {
    const msg = failure('// CHECK: linear\n// CHECK: concat');
    expect(msg).toMatch(/^t\.air:2: CHECK: expected string not found in input\n {2}CHECK: concat\nsearched <input> from line 3:/);
    expect(msg).toContain('*    3 |   %1 = linear %x, %0 : f32[B,16]');
    expect(msg).toContain('     4 |   %2 = slice');
  });
  it('when the order is wrong', () => {
    expect(failure('// CHECK: sigmoid\n// CHECK: linear')).toMatch(/t\.air:2: CHECK: expected string not found/);
  });
  it('when CHECK-NEXT matches too late or on the same line', () => {
    const msg = failure('// CHECK: param\n// CHECK-NEXT: slice');
    expect(msg).toMatch(/CHECK-NEXT: match is not on the line after the previous match/);
    expect(msg).toContain('>    4 |   %2 = slice');
    expect(failure('// CHECK: %1 =\n// CHECK-NEXT: linear')).toMatch(/match is on the same line as the previous match/);
  });
  it('when CHECK-SAME is on another line', () => {
    expect(failure('// CHECK: linear\n// CHECK-SAME: slice')).toMatch(/CHECK-SAME: match is not on the same line/);
  });
  it('when a CHECK-NOT pattern occurs in its region', () => {
    const msg = failure('// CHECK: param\n// CHECK-NOT: linear\n// CHECK: sigmoid');
    expect(msg).toMatch(/t\.air:2: CHECK-NOT: excluded string found in input/);
    expect(msg).toContain('>    3 |   %1 = linear');
    expect(failure('// CHECK: slice\n// CHECK-NOT: return')).toMatch(/excluded string found/);
  });
  it('when a check would have to leave its label block', () => {
    expect(failure('// CHECK-LABEL: graph g(\n// CHECK: const 1\n// CHECK-LABEL: graph h(')).toMatch(/t\.air:2: CHECK: expected string not found/);
    expect(failure('// CHECK-LABEL: graph nope')).toMatch(/CHECK-LABEL: label not found in input/);
  });
  it('when a variable is used before it is defined, or a capture does not repeat', () => {
    expect(failure('// CHECK: sigmoid [[S]]')).toMatch(/undefined variable \[\[S\]\]/);
    expect(() => fileCheck('a1 b a2', '// CHECK: [[X:a[0-9]]] b [[X]]')).toThrow(/expected string not found/);
  });
  it('on malformed checks', () => {
    expect(failure('// nothing to check')).toMatch(/no CHECK directives found/);
    expect(failure('// CHECK:   ')).toMatch(/t\.air:1: empty CHECK pattern/);
    expect(failure('// CHECK-DAG: x')).toMatch(/unsupported directive CHECK-DAG/);
    expect(failure('// CHECK-NEXT: graph')).toMatch(/CHECK-NEXT cannot be the first check/);
    expect(failure('// CHECK: {{[}}')).toMatch(/invalid regex/);
    expect(failure('// CHECK: [[x')).toMatch(/unterminated \[\[/);
  });
});
