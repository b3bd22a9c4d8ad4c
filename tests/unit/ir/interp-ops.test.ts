// The reference interpreter against values computed by hand, one block per op of the op table.
// Every op computes in float64 from the stored values and rounds once on store: an f32 result is
// Math.fround of the exact value, which is what `f32(...)` below applies to the hand-computed literals.
import { describe, expect, it } from 'vitest';
import type { DType } from '../../../compiler/ir/dtype.ts';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { gatherRanks, interpret, interpretRanks } from '../../../compiler/ir/interp.ts';
import { Node } from '../../../compiler/ir/node.ts';
import type { Arg, Op } from '../../../compiler/ir/ops.ts';
import { OPS } from '../../../compiler/ir/ops.ts';
import type { Shape } from '../../../compiler/ir/shape.ts';
import type { HostTensor, TypedData } from '../../../compiler/ir/tensor-data.ts';
import { allocData, hostTensor, reader, writer } from '../../../compiler/ir/tensor-data.ts';

// ---------------------------------------------------------------------------------------------------
// helpers

const input = (name: string, dtype: DType, shape: Shape): Node => Node.make('input', [], { name }, dtype, shape);
const param = (name: string, dtype: DType, shape: Shape): Node => Node.make('param', [], { name }, dtype, shape);

/** A host tensor from values (rounded by the dtype's writer: bf16/f16/fp8 round to nearest even). */
function tensor(dtype: DType, shape: readonly number[], values: readonly number[]): HostTensor {
  const t = hostTensor(dtype, shape);
  const w = writer(t);
  values.forEach((v, i) => w(i, v));
  return t;
}
/** A host tensor from raw storage (bf16/f16 bit patterns, fp8 bytes). */
function raw(dtype: DType, shape: readonly number[], bits: readonly number[]): HostTensor {
  const d = allocData(dtype, bits.length) as unknown as { [i: number]: number };
  bits.forEach((b, i) => { d[i] = b; });
  return hostTensor(dtype, shape, d as unknown as TypedData);
}
const values = (t: HostTensor): number[] => Array.from({ length: t.data.length }, (_, i) => reader(t)(i));
const bits = (t: HostTensor): number[] => Array.from(t.data as Uint16Array);
const f32 = (xs: readonly number[]): number[] => xs.map(Math.fround);

/** Evaluate `build(x0, x1, ...)` where xi are inputs shaped and typed like the given tensors. */
function ev(build: (...xs: Node[]) => Node, ...ts: HostTensor[]): HostTensor {
  const nodes = ts.map((t, i) => input(`x${i}`, t.dtype, t.shape));
  const out = build(...nodes);
  const g = makeGraph('t', nodes, [{ name: 'y', node: out }]);
  return interpret(g, Object.fromEntries(ts.map((t, i) => [`x${i}`, t]))).y;
}
const un = (op: Op, t: HostTensor, arg: Arg = null): HostTensor => ev((x) => Node.make(op, [x], arg), t);
const bin = (op: Op, a: HostTensor, b: HostTensor): HostTensor => ev((x, y) => Node.make(op, [x, y]), a, b);
const cast = (to: DType, t: HostTensor): HostTensor => ev((x) => Node.make('cast', [x], null, to), t);
const v32 = (xs: readonly number[]): HostTensor => tensor('f32', [xs.length], xs);
const i32 = (xs: readonly number[]): HostTensor => tensor('i32', [xs.length], xs);

/** Signed zeros and NaN compared exactly (toEqual treats -0 and 0 as different already; this says so). */
const same = (actual: readonly number[], expected: readonly number[]): void => {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(Object.is(a, expected[i]), `element ${i}: got ${a}, expected ${expected[i]}`).toBe(true));
};

const covered = new Set<Op>();
const cover = (...ops: Op[]): void => { for (const o of ops) covered.add(o); };

// ---------------------------------------------------------------------------------------------------

describe('unary ops (f32)', () => {
  it('neg, abs: signed zeros; i32 wraps at -2^31', () => {
    cover('neg', 'abs');
    same(values(un('neg', v32([1.5, 0, -0, -2]))), [-1.5, -0, 0, 2]);
    same(values(un('abs', v32([-3, 2.5, -0, -Infinity]))), [3, 2.5, 0, Infinity]);
    // -(-2147483648) = 2147483648 does not fit: two's complement wraps back to -2147483648
    same(values(un('neg', i32([-2147483648, 5, -7]))), [-2147483648, -5, 7]);
    same(values(un('abs', i32([-7, 7, -2147483648]))), [7, 7, -2147483648]);
  });

  it('exp, log, sqrt, rsqrt, recip', () => {
    cover('exp', 'log', 'sqrt', 'rsqrt', 'recip');
    // e^0 = 1; e^1 = 2.718281828459045; e^-1 = 0.36787944117144233; e^-200 underflows f32 (1.4e-87 < 1.4e-45)
    same(values(un('exp', v32([0, 1, -1, -200, Infinity, -Infinity]))), f32([1, 2.718281828459045, 0.36787944117144233, 0, Infinity, 0]));
    // ln 1 = 0; ln 4 = 2·ln 2 = 1.3862943611198906; ln 0 = -inf; ln(-1) = NaN
    same(values(un('log', v32([1, 4, 0, -1]))), f32([0, 1.3862943611198906, -Infinity, NaN]));
    // √4 = 2; √2 = 1.4142135623730951; √-0 = -0 (IEEE); √-1 = NaN
    same(values(un('sqrt', v32([4, 2, -0, -1]))), f32([2, 1.4142135623730951, -0, NaN]));
    // 1/√4 = 0.5; 1/√0.25 = 2; 1/√0 = +inf; 1/√2 = 0.7071067811865475
    same(values(un('rsqrt', v32([4, 0.25, 0, 2]))), f32([0.5, 2, Infinity, 0.7071067811865475]));
    // 1/4, 1/-0.5, 1/0 = +inf, 1/-0 = -inf, 1/3 = 0.3333333333333333
    same(values(un('recip', v32([4, -0.5, 0, -0, 3]))), f32([0.25, -2, Infinity, -Infinity, 0.3333333333333333]));
  });

  it('tanh and sigmoid, including saturation', () => {
    cover('tanh', 'sigmoid');
    // tanh 0.5 = (e - 1)/(e + 1) with e = e^1 → 0.46211715726000974; tanh(-20) = -1 to f32
    same(values(un('tanh', v32([0, 0.5, -0.5, -20]))), f32([0, 0.46211715726000974, -0.46211715726000974, -1]));
    // σ(0) = 1/2; σ(2) = 1/(1 + e^-2) = 1/1.1353352832366128 = 0.8807970779778824; σ(-2) = 1 - σ(2)
    // σ(-1000) = 1/(1 + e^1000) = 1/inf = 0; σ(1000) = 1/(1 + 0) = 1
    same(values(un('sigmoid', v32([0, 2, -2, -1000, 1000]))), f32([0.5, 0.8807970779778824, 0.11920292202211756, 0, 1]));
  });

  it('erf at 0, ±0.5, ±3.5 and large |x|', () => {
    cover('erf');
    // erf(0.5) = 0.5204998778130465, erf(3.5) = 0.9999992569016276 (tabulated); odd: erf(-x) = -erf(x);
    // erf(10) = 1 - 2.1e-45 = 1; erf(±inf) = ±1; erf(-0) = -0
    same(values(un('erf', v32([0, -0, 0.5, -0.5, 3.5, -3.5, 10, -1e30, Infinity, NaN]))),
      f32([0, -0, 0.5204998778130465, -0.5204998778130465, 0.9999992569016276, -0.9999992569016276, 1, -1, 1, NaN]));
  });

  it('gelu: exact erf form and the tanh approximation', () => {
    cover('gelu');
    // erf form: x·Φ(x) = x/2·(1 + erf(x/√2))
    //   x = 1:  (1 + erf(0.7071067811865476))/2 = (1 + 0.6826894921370859)/2 = 0.8413447460685429
    //   x = -1: -1·(1 - 0.6826894921370859)/2 = -0.15865525393145705
    //   x = 3:  3·(1 + 0.9973002039367398)/2 = 2.99595030590511
    //   x = -3: -3·(1 - 0.9973002039367398)/2 = -0.0040496940948902835
    same(values(un('gelu', v32([0, 1, -1, 3, -3]), { approx: 'erf' })),
      f32([0, 0.8413447460685429, -0.15865525393145705, 2.99595030590511, -0.0040496940948902835]));
    // tanh form: x/2·(1 + tanh(√(2/π)·(x + 0.044715x³))), √(2/π) = 0.7978845608028654
    //   x = 1:  tanh(0.7978845608028654·1.044715) = tanh(0.8335625...) = 0.6823839812165535 → 0.8411919906082767
    //   x = -1: -0.1588080093917233;  x = 3: 2.996362607918227;  x = -3: -0.003637392081773019
    same(values(un('gelu', v32([0, 1, -1, 3, -3]), { approx: 'tanh' })),
      f32([0, 0.8411919906082767, -0.1588080093917233, 2.996362607918227, -0.003637392081773019]));
  });

  it('bf16 operands compute in f32 and round back to bf16 on store', () => {
    // exp(1) = 2.718281828459045; bf16 in [2, 4) steps by 2^-6: neighbours 2.703125 (2 + 45/64) and
    // 2.71875 (2 + 46/64 = 0x402e) and 2.734375; the nearest is 2.71875
    const y = un('exp', raw('bf16', [1], [0x3f80]));
    expect(y.dtype).toBe('bf16');
    expect(bits(y)).toEqual([0x402e]);
  });
});

describe('binary ops', () => {
  it('f32 add/sub/mul/div round once on store', () => {
    cover('add', 'sub', 'mul', 'div');
    // 0.1f + 0.2f = 0.100000001490116 + 0.200000002980232 = 0.300000004470348 → f32 0.30000001192092896
    same(values(bin('add', v32([0.1, 1.5, 3e38]), v32([0.2, -2, 3e38]))), [0.30000001192092896, -0.5, Infinity]);
    same(values(bin('sub', v32([5, 0, -0]), v32([7, 0, 0]))), [-2, 0, -0]);
    // 3e38·10 overflows f32 to inf on store; (-2)·0 = -0
    same(values(bin('mul', v32([1.5, 3e38, -2]), v32([-4, 10, 0]))), [-6, Infinity, -0]);
    // 1/3 rounds; x/0 = ±inf; 0/0 = NaN
    same(values(bin('div', v32([1, 1, -1, 0]), v32([3, 0, 0, 0]))), [Math.fround(1 / 3), Infinity, -Infinity, NaN]);
  });

  it('i32 add/sub/mul wrap to 32 bits; div truncates toward zero', () => {
    // 2^31 - 1 + 1 = 2^31 → -2^31; -2^31 - 1 → 2^31 - 1; 65536·65536 = 2^32 → 0;
    // 46341² = 2147488281 = 2^32 - 2147479015 → -2147479015
    same(values(bin('add', i32([2147483647, -5]), i32([1, 3]))), [-2147483648, -2]);
    same(values(bin('sub', i32([-2147483648, 3]), i32([1, 5]))), [2147483647, -2]);
    same(values(bin('mul', i32([65536, 46341, -3]), i32([65536, 46341, 7]))), [0, -2147479015, -21]);
    // 7/2 = 3.5 → 3; -7/2 → -3; 7/-2 → -3; -2^31 / -1 = 2^31 → wraps to -2^31
    same(values(bin('div', i32([7, -7, 7, -2147483648]), i32([2, 2, -2, -1]))), [3, -3, -3, -2147483648]);
    expect(() => bin('div', i32([1]), i32([0]))).toThrow(/integer division by zero/);
  });

  it('max/min propagate NaN from either side', () => {
    cover('max', 'min');
    same(values(bin('max', v32([NaN, 1, 2, -Infinity]), v32([1, NaN, -3, -5]))), [NaN, NaN, 2, -5]);
    same(values(bin('min', v32([NaN, 1, 2, Infinity]), v32([1, NaN, -3, 5]))), [NaN, NaN, -3, 5]);
    same(values(bin('max', i32([-4, 9]), i32([3, 2]))), [3, 9]);
  });

  it('cmplt/cmpeq give bool; NaN compares false; -0 == 0', () => {
    cover('cmplt', 'cmpeq');
    const lt = bin('cmplt', v32([1, 2, NaN, -0, -Infinity]), v32([2, 2, 1, 0, 0]));
    expect(lt.dtype).toBe('bool');
    expect(Array.from(lt.data as Uint8Array)).toEqual([1, 0, 0, 0, 1]);
    const eq = bin('cmpeq', v32([1, NaN, -0, 3]), v32([1, NaN, 0, 4]));
    expect(Array.from(eq.data as Uint8Array)).toEqual([1, 0, 1, 0]);
    expect(Array.from(bin('cmpeq', tensor('bool', [3], [1, 0, 1]), tensor('bool', [3], [1, 0, 0])).data as Uint8Array)).toEqual([1, 1, 0]);
    expect(Array.from(bin('cmplt', i32([-1, 5]), i32([0, 5])).data as Uint8Array)).toEqual([1, 0]);
  });

  it('where picks a where cond is true, b elsewhere', () => {
    cover('where');
    const y = ev((c, a, b) => Node.make('where', [c, a, b]), tensor('bool', [4], [1, 0, 1, 0]), v32([1, 2, 3, 4]), v32([10, 20, 30, NaN]));
    same(values(y), [1, 20, 3, NaN]);
    // bf16 branches keep their bits
    const z = ev((c, a, b) => Node.make('where', [c, a, b]), tensor('bool', [2], [0, 1]), raw('bf16', [2], [0x3f81, 0x4049]), raw('bf16', [2], [0xc000, 0x0001]));
    expect(bits(z)).toEqual([0xc000, 0x4049]);
  });
});

describe('cast', () => {
  it('f32 → bf16 rounds to nearest, ties to even', () => {
    cover('cast');
    const y = cast('bf16', v32([
      1.00390625, //        1 + 2^-8: halfway between 0x3f80 (1) and 0x3f81 (1 + 2^-7) → even 0x3f80
      1.01171875, //        1 + 3·2^-8: halfway between 0x3f81 and 0x3f82 → even 0x3f82
      1.0039063692092896, // 1 + 2^-8 + 2^-23: just above the tie → 0x3f81
      -1.00390625, //       sign kept → 0xbf80
      0.1, //               f32 0x3dcccccd: low half 0xcccd > 0x8000 → round up to 0x3dcd
      3.4028234663852886e38, // f32 max (0x7f7fffff) > bf16 max + half ulp → +inf 0x7f80
      NaN, //               quiet NaN 0x7fc0
      -0, //                0x8000
    ]));
    expect(bits(y)).toEqual([0x3f80, 0x3f82, 0x3f81, 0xbf80, 0x3dcd, 0x7f80, 0x7fc0, 0x8000]);
  });

  it('f32 → f16 rounds subnormals to nearest even and overflows to inf at 65520', () => {
    const y = cast('f16', v32([
      2 ** -24, //            smallest subnormal → 0x0001
      2 ** -25, //            halfway between 0 and 2^-24 → even 0x0000
      3 * 2 ** -25, //        halfway between 0x0001 and 0x0002 → even 0x0002
      2 ** -25 + 2 ** -40, // above the tie → 0x0001
      1023.5 * 2 ** -24, //   halfway between the largest subnormal 0x03ff and the smallest normal 0x0400 → 0x0400
      2 ** -14, //            smallest normal → 0x0400
      65504, //               f16 max → 0x7bff
      65519, //               below max + half ulp (65520) → 0x7bff
      65520, //               tie between 65504 (odd) and 65536 (even, = inf) → 0x7c00
      -(2 ** -26), //         rounds to -0 → 0x8000
    ]));
    expect(bits(y)).toEqual([0x0001, 0x0000, 0x0002, 0x0001, 0x0400, 0x0400, 0x7bff, 0x7bff, 0x7c00, 0x8000]);
  });

  it('f32 → fp8 e4m3: nearest even, saturating to ±448, NaN → 0x7f', () => {
    const y = cast('fp8e4m3', v32([
      1.5, //      1.100b·2^0: e = 7, m = 4 → 0x3c
      -0.3, //     between 0.28125 and 0.3125 (step 2^-5 in [0.25, 0.5)); 0.3 is nearer 0.3125 = 1.010b·2^-2 → 0xaa
      448, //      max finite 1.110b·2^8 → 0x7e
      464, //      448 + half a step: would round to 512, which e4m3 lacks → saturates to 0x7e
      1000, //     → 0x7e
      -1000, //    → 0xfe
      Infinity, // → 0x7e
      1.0625, //   1 + 1/16: halfway between 1 (0x38) and 1.125 (0x39) → even 0x38
      1.1875, //   halfway between 1.125 (0x39) and 1.25 (0x3a) → even 0x3a
      17, //       halfway between 16 (0x58) and 18 (0x59) → even 0x58
      2 ** -9, //  smallest subnormal → 0x01
      2 ** -10, // halfway between 0 and 2^-9 → 0x00
      3 * 2 ** -10, // halfway between 0x01 and 0x02 → 0x02
      NaN, //      → 0x7f
      -0, //       → 0x80
    ]));
    expect(Array.from(y.data as Uint8Array)).toEqual([0x3c, 0xaa, 0x7e, 0x7e, 0x7e, 0xfe, 0x7e, 0x38, 0x3a, 0x58, 0x01, 0x00, 0x02, 0x7f, 0x80]);
    same(values(y).slice(0, 2), [1.5, -0.3125]);
  });

  it('float → int truncates toward zero, saturates out of range, NaN → 0', () => {
    // 3e9 > 2^31 - 1 → 2147483647; -3e9 → -2147483648 (PTX cvt.rzi.s32.f32 clamps; it does not wrap)
    same(values(cast('i32', v32([2.7, -2.7, 0.5, -0.5, NaN, 3e9, -3e9, Infinity, -Infinity]))),
      [2, -2, 0, 0, 0, 2147483647, -2147483648, 2147483647, -2147483648]);
    const big = cast('i64', v32([2 ** 40 + 0.5, -1.5, 1e30, -1e30, NaN]));
    // 2^40 + 0.5 is not an f32 (24-bit significand): it is stored as 2^40; ±1e30 saturate to ±(2^63 - 1) / -2^63
    expect(Array.from(big.data as BigInt64Array)).toEqual([2n ** 40n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 0n]);
    // bf16 1.5 → 1
    same(values(cast('i32', raw('bf16', [1], [0x3fc0]))), [1]);
  });

  it('int → int wraps to the low bits; int → float is exact where representable', () => {
    const wide = hostTensor('i64', [3], BigInt64Array.from([2n ** 32n + 5n, -1n, 2n ** 31n]));
    same(values(cast('i32', wide)), [5, -1, -2147483648]);
    same(values(cast('f32', i32([16777217, -3]))), [16777216, -3]); // 2^24 + 1 rounds to even 2^24 in f32
  });

  it('→ bool is "not zero": int and float (-0 is zero; NaN is false)', () => {
    expect(Array.from(cast('bool', i32([0, 1, -1, 7])).data as Uint8Array)).toEqual([0, 1, 1, 1]);
    expect(Array.from(cast('bool', v32([0, -0, 0.5, NaN, -Infinity])).data as Uint8Array)).toEqual([0, 0, 1, 0, 1]);
    same(values(cast('f32', tensor('bool', [2], [0, 1]))), [0, 1]);
  });

  it('bf16/f16/fp8 → f32 is exact', () => {
    same(values(cast('f32', raw('bf16', [3], [0x3f81, 0xc049, 0x0001]))), [1.0078125, -3.140625, 2 ** -133]);
    same(values(cast('f32', raw('f16', [3], [0x3c01, 0x0001, 0xfc00]))), [1 + 2 ** -10, 2 ** -24, -Infinity]);
    same(values(cast('f32', raw('fp8e4m3', [3], [0x3c, 0xaa, 0x7e]))), [1.5, -0.3125, 448]);
  });
});

describe('reductions', () => {
  const m23 = tensor('f32', [2, 3], [1, 2, 3, 4, 5, 6]); // [[1, 2, 3], [4, 5, 6]]
  const cube = tensor('f32', [2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7]); // x[a][b][c] = 4a + 2b + c

  it('sum over axis 0, 1 and the last', () => {
    cover('sum');
    const s0 = un('sum', m23, { axis: 0 });
    expect(s0.shape).toEqual([3]);
    same(values(s0), [5, 7, 9]); // 1+4, 2+5, 3+6
    same(values(un('sum', m23, { axis: 1 })), [6, 15]); // 1+2+3, 4+5+6
    // middle axis of the cube: [[0+2, 1+3], [4+6, 5+7]]
    const s1 = un('sum', cube, { axis: 1 });
    expect(s1.shape).toEqual([2, 2]);
    same(values(s1), [2, 4, 10, 12]);
    same(values(un('sum', cube, { axis: 2 })), [1, 5, 9, 13]); // 0+1, 2+3, 4+5, 6+7
  });

  it('sum accumulates in float64 and rounds once on store', () => {
    // 1e8 + 1 - 1e8: in f32 steps 1e8 + 1 rounds back to 1e8 (ulp 8) and the result would be 0; float64 gives 1
    same(values(un('sum', v32([1e8, 1, -1e8]), { axis: 0 })), [1]);
    // bf16 sum: 1 + 2^-8 = 1.00390625 is a bf16 tie → even 1.0 (0x3f80)
    expect(bits(un('sum', raw('bf16', [2], [0x3f80, 0x3b80]), { axis: 0 }))).toEqual([0x3f80]);
    // i32 sum wraps on store: 2^31 - 1 + 1 → -2^31
    same(values(un('sum', i32([2147483647, 1]), { axis: 0 })), [-2147483648]);
  });

  it('reduce_max: NaN is the largest; -inf rows stay -inf', () => {
    cover('reduce_max');
    const x = tensor('f32', [3, 3], [1, 5, 3, 7, -2, NaN, -Infinity, -Infinity, -Infinity]);
    same(values(un('reduce_max', x, { axis: 1 })), [5, NaN, -Infinity]);
    same(values(un('reduce_max', x, { axis: 0 })), [7, 5, NaN]);
    same(values(un('reduce_max', cube, { axis: 1 })), [2, 3, 6, 7]); // max over b: 4a + 2 + c
  });

  it('argmax: ties go to the lowest index, NaN counts as the maximum (first NaN wins)', () => {
    cover('argmax');
    const x = tensor('f32', [3, 4], [3, 7, 7, 1, NaN, 2, NaN, 9, -Infinity, -Infinity, -Infinity, -Infinity]);
    const a = un('argmax', x, { axis: 1 });
    expect(a.dtype).toBe('i32');
    same(values(a), [1, 0, 0]);
    // along axis 0 of [[1, 9], [5, 9], [5, 0]]: column 0 max 5 first at row 1; column 1 max 9 first at row 0
    same(values(un('argmax', tensor('f32', [3, 2], [1, 9, 5, 9, 5, 0]), { axis: 0 })), [1, 0]);
    same(values(un('argmax', cube, { axis: 2 })), [1, 1, 1, 1]);
    same(values(un('argmax', i32([4, -1, 4]), { axis: 0 })), [0]);
    // 0 and -0 are equal: the first one wins
    same(values(un('argmax', v32([-0, 0]), { axis: 0 })), [0]);
  });

  it('topk: values descending, equal values in index order, NaN first', () => {
    cover('topk_values', 'topk_indices');
    const x = tensor('f32', [2, 5], [1, 9, 3, 9, 5, 2, NaN, 7, -1, NaN]);
    const v = un('topk_values', x, { k: 3 });
    const i = un('topk_indices', x, { k: 3 });
    expect(v.shape).toEqual([2, 3]);
    expect(i.dtype).toBe('i32');
    same(values(v), [9, 9, 5, NaN, NaN, 7]);
    same(values(i), [1, 3, 4, 1, 4, 2]);
    same(values(un('topk_indices', v32([4, 4, 4, 4]), { k: 4 })), [0, 1, 2, 3]);
    same(values(un('topk_values', raw('bf16', [3], [0x3f80, 0x4000, 0xbf80]), { k: 1 })), [2]);
  });
});

describe('row ops', () => {
  it('softmax over the last axis, shifted by the row max', () => {
    cover('softmax');
    // [1, 2, 3]: e^(x - 3) = [e^-2, e^-1, 1] = [0.1353352832366127, 0.36787944117144233, 1], sum 1.5032147243080550
    // → [0.09003057317038046, 0.24472847105479764, 0.6652409557748219]
    // [1000, 1000] would overflow without the shift → [0.5, 0.5]; [-inf, 0] → [0, 1]
    const y = un('softmax', tensor('f32', [3, 3], [1, 2, 3, 1000, 1000, 1000, -Infinity, 0, -Infinity]));
    same(values(y), f32([0.09003057317038046, 0.24472847105479764, 0.6652409557748219, 1 / 3, 1 / 3, 1 / 3, 0, 1, 0]));
  });

  it('rms_norm: x · 1/√(mean(x²) + eps), no mean subtraction', () => {
    cover('rms_norm');
    // [3, 4], eps 0: mean(x²) = (9 + 16)/2 = 12.5 → [3, 4]/√12.5 = [0.848528137423857, 1.131370849898476]
    // [1, 1], eps 3: mean 1, + 3 = 4, 1/√4 = 0.5 → [0.5, 0.5]
    // [-2, 2], eps 0: mean 4 → [-1, 1]
    same(values(un('rms_norm', tensor('f32', [2, 2], [3, 4, -2, 2]), { eps: 0 })), f32([0.848528137423857, 1.131370849898476, -1, 1]));
    same(values(un('rms_norm', tensor('f32', [1, 2], [1, 1]), { eps: 3 })), [0.5, 0.5]);
    // zero row with eps 1e-6: 0 · 1/√1e-6 = 0 (eps keeps it finite)
    same(values(un('rms_norm', v32([0, 0]), { eps: 1e-6 })), [0, 0]);
  });

  it('layer_norm: (x - mean) · 1/√(var + eps), biased variance', () => {
    cover('layer_norm');
    // [1, 2, 3, 4]: mean 2.5, var = (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25
    //   eps 0:    [-1.5, -0.5, 0.5, 1.5]/√1.25 = [-1.3416407864998738, -0.4472135954999579, ...]
    //   eps 0.75: var + eps = 2 → [-1.5, -0.5, 0.5, 1.5]/√2 = [-1.0606601717798212, -0.35355339059327373, ...]
    same(values(un('layer_norm', v32([1, 2, 3, 4]), { eps: 0 })), f32([-1.3416407864998738, -0.4472135954999579, 0.4472135954999579, 1.3416407864998738]));
    same(values(un('layer_norm', v32([1, 2, 3, 4]), { eps: 0.75 })), f32([-1.0606601717798212, -0.35355339059327373, 0.35355339059327373, 1.0606601717798212]));
    // constant row: 0/√eps = 0 (no NaN)
    same(values(un('layer_norm', tensor('f32', [2, 2], [5, 5, -1, 1]), { eps: 1e-5 })), f32([0, 0, -1 / Math.sqrt(1 + 1e-5), 1 / Math.sqrt(1 + 1e-5)]));
  });
});

describe('contractions', () => {
  it('matmul a[..., M, K] · b[K, N]', () => {
    cover('matmul');
    // [[1, 2, 3], [4, 5, 6]] · [[7, 8], [9, 10], [11, 12]]
    //   = [[1·7 + 2·9 + 3·11, 1·8 + 2·10 + 3·12], [4·7 + 5·9 + 6·11, 4·8 + 5·10 + 6·12]] = [[58, 64], [139, 154]]
    const a = tensor('f32', [2, 3], [1, 2, 3, 4, 5, 6]);
    const b = tensor('f32', [3, 2], [7, 8, 9, 10, 11, 12]);
    const y = bin('matmul', a, b);
    expect(y.shape).toEqual([2, 2]);
    same(values(y), [58, 64, 139, 154]);
    // batched left operand [2, 1, 3]: the same rows
    same(values(bin('matmul', tensor('f32', [2, 1, 3], [1, 2, 3, 4, 5, 6]), b)), [58, 64, 139, 154]);
    // bf16 right operand: [[1], [0.5], [-1]] (0x3f80, 0x3f00, 0xbf80) → [1 + 1 - 3, 4 + 2.5 - 6] = [-1, 0.5]
    same(values(bin('matmul', a, raw('bf16', [3, 1], [0x3f80, 0x3f00, 0xbf80]))), [-1, 0.5]);
  });

  it('linear x[..., K] · w[N, K]ᵀ with bf16, f16, fp8 and f32 weights; f32 result', () => {
    cover('linear');
    const x = tensor('f32', [2, 3], [1, 2, 3, -1, 0, 2]);
    // w = [[1, 0.5, -1], [1.0078125, 2, 0.25]] as bf16 bits
    const w = raw('bf16', [2, 3], [0x3f80, 0x3f00, 0xbf80, 0x3f81, 0x4000, 0x3e80]);
    // row 0: [1·1 + 2·0.5 + 3·(-1), 1·1.0078125 + 2·2 + 3·0.25] = [-1, 5.7578125]
    // row 1: [-1·1 + 0 + 2·(-1), -1.0078125 + 0 + 0.5] = [-3, -0.5078125]
    const y = bin('linear', x, w);
    expect(y.dtype).toBe('f32');
    expect(y.shape).toEqual([2, 2]);
    same(values(y), [-1, 5.7578125, -3, -0.5078125]);
    // f16 w = [[1 + 2^-10, -2]] (0x3c01, 0xc000, 0x0000): 1·(1 + 2^-10) + 2·(-2) + 0 = -2.9990234375
    same(values(bin('linear', tensor('f32', [1, 3], [1, 2, 3]), raw('f16', [1, 3], [0x3c01, 0xc000, 0x0000]))), [-2.9990234375]);
    // fp8 w = [[1.5, -0.3125, 448]] (0x3c, 0xaa, 0x7e): 1.5 - 0.625 + 1344 = 1344.875
    same(values(bin('linear', tensor('f32', [1, 3], [1, 2, 3]), raw('fp8e4m3', [1, 3], [0x3c, 0xaa, 0x7e]))), [1344.875]);
    // rank-3 input [2, 1, 3] with f32 w [1, 3] = [[1, 1, 1]]: row sums 6 and 1
    const y3 = bin('linear', tensor('f32', [2, 1, 3], [1, 2, 3, -1, 0, 2]), tensor('f32', [1, 3], [1, 1, 1]));
    expect(y3.shape).toEqual([2, 1, 1]);
    same(values(y3), [6, 1]);
    // bf16 input and weight: 1.0078125 · 1.0078125 = 1.01568603515625 (exact in f32)
    same(values(bin('linear', raw('bf16', [1, 1], [0x3f81]), raw('bf16', [1, 1], [0x3f81]))), [1.01568603515625]);
  });

  it('gather rows of a table by i32/i64 ids, keeping the storage bits', () => {
    cover('gather');
    const table = tensor('f32', [3, 2], [0, 1, 10, 11, 20, 21]);
    const y = bin('gather', table, tensor('i32', [2, 2], [2, 0, 1, 2]));
    expect(y.shape).toEqual([2, 2, 2]);
    same(values(y), [20, 21, 0, 1, 10, 11, 20, 21]);
    const ids64 = hostTensor('i64', [1], BigInt64Array.from([1n]));
    same(values(bin('gather', table, ids64)), [10, 11]);
    const b = bin('gather', raw('bf16', [2, 1], [0x3f81, 0x7fc1]), tensor('i32', [2], [1, 0]));
    expect(b.dtype).toBe('bf16');
    expect(bits(b)).toEqual([0x7fc1, 0x3f81]); // NaN payload included: a copy, not a re-rounding
  });

  it('gather: an out-of-range id names the id, its position and the table size', () => {
    const table = tensor('f32', [3, 2], [0, 1, 10, 11, 20, 21]);
    expect(() => bin('gather', table, tensor('i32', [3], [0, 2, 3]))).toThrow('gather: index 3 at position 2 is outside [0, 3)');
    expect(() => bin('gather', table, tensor('i32', [2], [-1, 0]))).toThrow('gather: index -1 at position 0 is outside [0, 3)');
  });
});

describe('movement', () => {
  const m23 = tensor('f32', [2, 3], [1, 2, 3, 4, 5, 6]);

  it('reshape keeps the row-major order', () => {
    cover('reshape');
    const y = un('reshape', m23, { shape: [3, 2] });
    expect(y.shape).toEqual([3, 2]);
    same(values(y), [1, 2, 3, 4, 5, 6]);
    expect(un('reshape', m23, { shape: [6, 1, 1] }).shape).toEqual([6, 1, 1]);
  });

  it('broadcast expands size-1 and missing leading dims (right-aligned)', () => {
    cover('broadcast');
    same(values(un('broadcast', v32([1, 2, 3]), { shape: [2, 3] })), [1, 2, 3, 1, 2, 3]);
    same(values(un('broadcast', tensor('f32', [2, 1], [7, 8]), { shape: [2, 3] })), [7, 7, 7, 8, 8, 8]);
    same(values(un('broadcast', tensor('f32', [], [5]), { shape: [2, 2] })), [5, 5, 5, 5]);
    same(values(un('broadcast', tensor('f32', [2, 1], [7, 8]), { shape: [2, 2, 2] })), [7, 7, 8, 8, 7, 7, 8, 8]);
  });

  it('permute moves axes: out[i, j, ...] = x[...] at the permuted coordinate', () => {
    cover('permute');
    // transpose of [[1, 2, 3], [4, 5, 6]]
    same(values(un('permute', m23, { perm: [1, 0] })), [1, 4, 2, 5, 3, 6]);
    // x[a][b][c] = 12a + 4b + c, shape [2, 3, 4]; perm [2, 0, 1] → out[i][j][k] = x[j][k][i] = 12j + 4k + i
    const x = tensor('f32', [2, 3, 4], Array.from({ length: 24 }, (_, i) => i));
    const y = un('permute', x, { perm: [2, 0, 1] });
    expect(y.shape).toEqual([4, 2, 3]);
    same(values(y), [
      0, 4, 8, 12, 16, 20, //  i = 0
      1, 5, 9, 13, 17, 21, //  i = 1
      2, 6, 10, 14, 18, 22, // i = 2
      3, 7, 11, 15, 19, 23, // i = 3
    ]);
  });

  it('slice takes [start, end) of one axis', () => {
    cover('slice');
    same(values(un('slice', m23, { axis: 1, start: 1, end: 3 })), [2, 3, 5, 6]);
    same(values(un('slice', m23, { axis: 0, start: 1, end: 2 })), [4, 5, 6]);
    expect(bits(un('slice', raw('bf16', [3], [1, 2, 3]), { axis: 0, start: 2, end: 3 }))).toEqual([3]);
  });

  it('concat joins along any axis, copying storage', () => {
    cover('concat');
    const b = tensor('f32', [2, 1], [7, 8]);
    const y = ev((p, q, r) => Node.make('concat', [p, q, r], { axis: 1 }), m23, b, b);
    expect(y.shape).toEqual([2, 5]);
    same(values(y), [1, 2, 3, 7, 7, 4, 5, 6, 8, 8]);
    const z = ev((p, q) => Node.make('concat', [p, q], { axis: 0 }), m23, tensor('f32', [1, 3], [9, 9, 9]));
    same(values(z), [1, 2, 3, 4, 5, 6, 9, 9, 9]);
    expect(bits(ev((p, q) => Node.make('concat', [p, q], { axis: 0 }), raw('bf16', [1], [0x7fc1]), raw('bf16', [2], [1, 2])))).toEqual([0x7fc1, 1, 2]);
  });
});

describe('leaves, symbolic dims and bad inputs', () => {
  it('const fills its shape, rounded to its dtype', () => {
    cover('input', 'param', 'const');
    const x = input('x', 'f32', ['B']);
    const c = Node.make('const', [], { value: 0.1 }, 'bf16', ['B', 2]);
    const g = makeGraph('g', [x], [{ name: 'c', node: c }, { name: 'x', node: x }]);
    const out = interpret(g, { x: v32([1, 2, 3]) });
    expect(out.c.shape).toEqual([3, 2]); // B bound to 3 by x
    expect(bits(out.c)).toEqual(Array(6).fill(0x3dcd)); // 0.1 → bf16 0x3dcd
  });

  it('binds symbolic dims from the inputs and uses them downstream', () => {
    const x = input('x', 'f32', ['B', 3]);
    const bias = param('bias', 'f32', [3]);
    const y = Node.make('add', [x, Node.make('broadcast', [bias], { shape: ['B', 3] })]);
    const s = Node.make('sum', [y], { axis: 1 });
    const g = makeGraph('g', [x], [{ name: 's', node: s }]);
    const params = new Map([['bias', v32([1, 2, 3])]]);
    const out = interpret(g, { x: tensor('f32', [2, 3], [0, 0, 0, 1, 1, 1]) }, params);
    expect(out.s.shape).toEqual([2]);
    same(values(out.s), [6, 9]); // (0+1) + (0+2) + (0+3), (1+1) + (1+2) + (1+3)
    // a different binding on the next call
    same(values(interpret(g, { x: tensor('f32', [1, 3], [1, 1, 1]) }, params).s), [9]);
  });

  it('inputs that disagree on a bound dim name both shapes and the binding', () => {
    const x = input('x', 'f32', ['B', 3]);
    const y = input('y', 'f32', ['B']);
    const g = makeGraph('g', [x, y], [{ name: 'x', node: x }, { name: 'y', node: y }]);
    expect(() => interpret(g, { x: tensor('f32', [2, 3], [0, 0, 0, 0, 0, 0]), y: v32([1, 2, 3, 4]) }))
      .toThrow('input "y": expected shape [B] with B=2, got [4]');
    expect(() => interpret(g, { x: tensor('f32', [2, 4], Array(8).fill(0)), y: v32([1, 2]) }))
      .toThrow('input "x": expected shape [B,3], got [2,4]');
  });

  it('missing inputs, wrong dtype and wrong rank say what was expected', () => {
    const x = input('x', 'f32', ['B', 3]);
    const g = makeGraph('net', [x], [{ name: 'x', node: x }]);
    expect(() => interpret(g, {})).toThrow('graph net: missing input "x" (f32[B,3])');
    expect(() => interpret(g, { x: tensor('bf16', [2, 3], Array(6).fill(0)) })).toThrow('input "x": expected dtype f32, got bf16');
    expect(() => interpret(g, { x: v32([1, 2, 3]) })).toThrow('input "x": expected shape [B,3], got [3]');
  });

  it('an input whose data does not fill its shape is rejected', () => {
    const x = input('x', 'f32', [2]);
    const g = makeGraph('g', [x], [{ name: 'y', node: Node.make('neg', [x]) }]);
    const bad = { dtype: 'f32', shape: [2], data: new Float32Array(1) } as const;
    expect(() => interpret(g, { x: bad })).toThrow('input "x": shape [2] needs 2 elements, data has 1');
  });

  it('missing and ill-shaped params name the parameter and both shapes', () => {
    const x = input('x', 'f32', ['B', 3]);
    const w = param('proj.weight', 'bf16', [2, 3]);
    const g = makeGraph('g', [x], [{ name: 'y', node: Node.make('linear', [x, w]) }]);
    const xs = { x: tensor('f32', [1, 3], [1, 2, 3]) };
    expect(() => interpret(g, xs)).toThrow('missing parameter "proj.weight" (bf16[2,3])');
    expect(() => interpret(g, xs, new Map([['proj.weight', tensor('f32', [2, 3], Array(6).fill(0))]])))
      .toThrow('parameter "proj.weight": expected dtype bf16, got f32');
    expect(() => interpret(g, xs, new Map([['proj.weight', raw('bf16', [3, 2], Array(6).fill(0))]])))
      .toThrow('parameter "proj.weight": expected shape [2,3], got [3,2]');
    expect(() => interpret(g, xs, new Map([['proj.weight', { dtype: 'bf16', shape: [2, 3], data: new Uint16Array(5) } as HostTensor]])))
      .toThrow('parameter "proj.weight": shape [2,3] needs 6 elements, data has 5');
  });

  it('a dim no input binds is named', () => {
    const x = input('x', 'f32', ['B']);
    const c = Node.make('const', [], { value: 1 }, 'f32', ['K']);
    const g = makeGraph('g', [x], [{ name: 'c', node: c }]);
    expect(() => interpret(g, { x: v32([1]) })).toThrow('dimension "K" is not bound');
  });
});

describe('training ops', () => {
  it('stop_gradient is its operand; one_hot marks ids (out of range: a zero row); scatter_add sums rows by id', () => {
    cover('stop_gradient', 'one_hot', 'scatter_add');
    same(values(un('stop_gradient', v32([1.5, -2]))), [1.5, -2]);
    const oh = un('one_hot', i32([2, 0, 5, -1]), { depth: 3 });
    expect(oh.shape).toEqual([4, 3]);
    same(values(oh), [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    const u = tensor('f32', [3, 2], [1, 2, 10, 20, 100, 200]);
    const y = ev((a, b) => Node.make('scatter_add', [a, b], { rows: 4 }), u, i32([3, 0, 3]));
    expect(y.shape).toEqual([4, 2]);
    same(values(y), [10, 20, 0, 0, 0, 0, 101, 202]);
    expect(() => ev((a, b) => Node.make('scatter_add', [a, b], { rows: 2 }), u, i32([0, 2, 1]))).toThrow('scatter_add: index 2 at position 1 is outside [0, 2)');
  });
});

describe('decoder ops', () => {
  const slots = (xs: number[]) => i32(xs), pos = (xs: number[]) => i32(xs);
  it('kv_write puts row n at [slot, position], skips negative positions, copies otherwise; bad rows are named', () => {
    cover('kv_write');
    // cache [S=2, L=3, Hk=1, D=2], rows [N=3, 1, 2]
    const cache = tensor('f32', [2, 3, 1, 2], Array.from({ length: 12 }, (_, i) => i));
    const rows = tensor('f32', [3, 1, 2], [-1, -2, -3, -4, -5, -6]);
    const kv = (c: HostTensor, r: HostTensor, s: HostTensor, p: HostTensor) => interpret(makeGraph('g', [], [{ name: 'y', node: Node.make('kv_write', [
      Node.make('param', [], { name: 'c' }, c.dtype, c.shape), Node.make('param', [], { name: 'r' }, r.dtype, r.shape),
      Node.make('param', [], { name: 's' }, 'i32', s.shape), Node.make('param', [], { name: 'p' }, 'i32', p.shape)]) }]),
    {}, new Map([['c', c], ['r', r], ['s', s], ['p', p]])).y;
    const y = kv(cache, rows, slots([1, 0, 1]), pos([2, -1, 0]));
    same(values(y), [0, 1, 2, 3, 4, 5, -5, -6, 8, 9, -1, -2]);
    same(values(cache), Array.from({ length: 12 }, (_, i) => i)); // functional: the input is unchanged
    expect(() => kv(cache, rows, slots([2, 0, 0]), pos([0, 0, 0]))).toThrow('kv_write: row 0 names slot 2, outside [0, 2)');
    expect(() => kv(cache, rows, slots([0, 0, 0]), pos([0, 3, 0]))).toThrow('kv_write: row 1 is at position 3, past the cache length 3');
  });
  it('attention: row n sees positions 0…p of its slot, GQA head mapping, padding rows are zero', () => {
    cover('attention');
    // S=1, L=3, Hk=1, D=1: k = [0, ln 2, ln 3]/scale-free, v = [10, 20, 30]; Hq = 2 (both read KV head 0)
    const k = tensor('f32', [1, 3, 1, 1], [0, 1, 2]);
    const v = tensor('f32', [1, 3, 1, 1], [10, 20, 30]);
    const q = tensor('f32', [3, 2, 1], [0, 1, Math.log(2), 0, 5, 5]);
    const leaf = (n: string, t: HostTensor) => Node.make('param', [], { name: n }, t.dtype, t.shape);
    const s = i32([0, 0, 0]), p = i32([2, 1, -1]);
    const g = makeGraph('g', [], [{ name: 'y', node: Node.make('attention', [leaf('q', q), leaf('k', k), leaf('v', v), leaf('s', s), leaf('p', p)], { scale: 1 }) }]);
    const y = values(interpret(g, {}, new Map([['q', q], ['k', k], ['v', v], ['s', s], ['p', p]])).y);
    // row 0 head 0: q=0 → uniform over 3 positions → 20; head 1: q=1 → weights e^0, e^1, e^2
    const e = [1, Math.E, Math.E ** 2], z = e[0] + e[1] + e[2];
    expect(y[0]).toBeCloseTo(20, 5);
    expect(y[1]).toBeCloseTo((10 * e[0] + 20 * e[1] + 30 * e[2]) / z, 5);
    // row 1 (position 1) head 0: q = ln 2 → weights 1, 2 over positions 0, 1 → (10 + 40) / 3
    expect(y[2]).toBeCloseTo(50 / 3, 5);
    expect(y[3]).toBeCloseTo(15, 5);
    expect([y[4], y[5]]).toEqual([0, 0]);
  });
});

describe('collectives', () => {
  it('all_gather stacks every rank\'s operand rank-major; interpretRanks runs ranks in lockstep; alone it needs a hook', () => {
    cover('all_gather');
    const x = Node.make('param', [], { name: 'x' }, 'f32', [2]);
    const g = makeGraph('g', [], [{ name: 'y', node: Node.make('all_gather', [x], { ranks: 3, seq: 0 }) }]);
    const outs = interpretRanks([g, g, g], {}, [0, 1, 2].map((r) => new Map([['x', tensor('f32', [2], [r, 10 + r])]])));
    for (const o of outs) {
      expect(o.y.shape).toEqual([3, 2]);
      same(values(o.y), [0, 10, 1, 11, 2, 12]);
    }
    expect(() => interpret(g, {}, new Map([['x', tensor('f32', [2], [1, 2])]]))).toThrow(/exchanges data between ranks/);
    const y = interpret(g, {}, new Map([['x', tensor('f32', [2], [1, 2])]]), { collective: ({ value }) => gatherRanks([value, value, value]) });
    same(values(y.y), [1, 2, 1, 2, 1, 2]);
    expect(() => interpretRanks([g, g], {}, [0, 1].map(() => new Map([['x', tensor('f32', [2], [0, 0])]])))).toThrow(/2 ranks, but a collective gathers over 3/);
  });
});

it('every op of the op table has a hand-computed case above', () => {
  expect(OPS.filter((o) => !covered.has(o))).toEqual([]);
});
