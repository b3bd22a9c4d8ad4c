// MathOps over PTX registers: each call emits one f32 instruction. Explicit .rn on add/sub/mul keeps
// ptxas from contracting a·b + c into an fma, so elementwise chains round exactly like the interpreter
// (which rounds every node's float64 result to f32).
import type { PtxBuilder } from './builder.ts';
import { f32Hex } from './legalize.ts';
import type { MathOps } from './math-recipes.ts';

export function ptxMathOps(b: PtxBuilder): MathOps<string, string> {
  const f1 = (op: string, a: string): string => { const d = b.reg('f32'); b.ins(op, d, a); return d; };
  const f2 = (op: string, a: string, c: string): string => { const d = b.reg('f32'); b.ins(op, d, a, c); return d; };
  const p2 = (cmp: string, a: string, c: string): string => { const p = b.reg('pred'); b.ins(`setp.${cmp}.f32`, p, a, c); return p; };
  return {
    c: (x) => f32Hex(x),
    add: (a, c) => f2('add.rn.f32', a, c),
    sub: (a, c) => f2('sub.rn.f32', a, c),
    mul: (a, c) => f2('mul.rn.f32', a, c),
    fma: (a, c, d) => { const r = b.reg('f32'); b.ins('fma.rn.f32', r, a, c, d); return r; },
    div: (a, c) => f2('div.rn.f32', a, c),
    rcp: (a) => f1('rcp.rn.f32', a),
    sqrt: (a) => f1('sqrt.rn.f32', a),
    abs: (a) => f1('abs.f32', a),
    neg: (a) => f1('neg.f32', a),
    min: (a, c) => f2('min.f32', a, c),
    // ex2.approx.f32 / lg2.approx.f32 keep subnormals (no .ftz); ~2 ulp relative / ~2^-22 absolute
    ex2: (a) => f1('ex2.approx.f32', a),
    lg2: (a) => f1('lg2.approx.f32', a),
    lt: (a, c) => p2('lt', a, c),
    ge: (a, c) => p2('ge', a, c),
    sel: (p, a, c) => { const d = b.reg('f32'); b.ins('selp.f32', d, a, c, p); return d; },
    // PTX copysign takes the sign from its first source
    copysign: (mag, sgn) => f2('copysign.f32', sgn, mag),
  };
}
