// Type-level shape and dtype checking of the DSL. These assertions are checked by tsc (CI runs tsc over
// tests/): every `@ts-expect-error` line must stay an error, and every expectTypeOf must hold. The same
// programs also run under vitest, where the lines the checker rejects throw DslErrors at trace time.
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { DTypeError, ShapeError, ShapeT, Tensor } from '../../../dsl/index.ts';
import { concat, defineProgram, DslError, embedding, layerNorm, rmsNorm, stack, where } from '../../../dsl/index.ts';
import type {
  Broadcast, CheckAgree, CheckAxis, CheckBroadcast, CheckLastDim, CheckPromote, Init, Join, Last, NormAxis, Promote, RemoveAxis, Replace,
} from '../../../dsl/types.ts';

type T<S extends ShapeT, D extends Parameters<Tensor['cast']>[0]> = Tensor<S, D>;

describe('type-level shape rules', () => {
  it('Broadcast aligns right, expands 1s and keeps wide dims open', () => {
    expectTypeOf<Broadcast<readonly ['B', 'D'], readonly ['D']>>().toEqualTypeOf<readonly ['B', 'D']>();
    expectTypeOf<Broadcast<readonly ['B', 1], readonly [1, 'D']>>().toEqualTypeOf<readonly ['B', 'D']>();
    expectTypeOf<Broadcast<readonly ['D'], readonly ['B', 'S', 'D']>>().toEqualTypeOf<readonly ['B', 'S', 'D']>();
    expectTypeOf<Broadcast<readonly [], readonly ['D']>>().toEqualTypeOf<readonly ['D']>();
    // a wide `number` (or `string`) dim is unknown to the checker: it takes the other side's dim
    expectTypeOf<Broadcast<readonly ['B', number], readonly ['B', 'D']>>().toEqualTypeOf<readonly ['B', 'D']>();
    expectTypeOf<Broadcast<readonly [string, 4], readonly ['B', 4]>>().toEqualTypeOf<readonly ['B', 4]>();
    expectTypeOf<Broadcast<ShapeT, readonly ['D']>>().toEqualTypeOf<ShapeT>();
    // two known dims that differ
    expectTypeOf<Broadcast<readonly ['B', 'D'], readonly ['B', 'H']>>().toBeNever();
    expectTypeOf<Broadcast<readonly [4, 'D'], readonly [8, 'D']>>().toBeNever();
    expectTypeOf<Broadcast<readonly ['D'], readonly [4]>>().toBeNever(); // a name is not a size to the checker
  });

  it('CheckBroadcast says which shapes clash', () => {
    expectTypeOf<CheckBroadcast<readonly ['B', 'D'], readonly ['B', 'H']>>().toEqualTypeOf<ShapeError<'cannot broadcast [B, D] with [B, H]'>>();
    expectTypeOf<CheckBroadcast<readonly [2, 3], readonly [4]>>().toEqualTypeOf<ShapeError<'cannot broadcast [2, 3] with [4]'>>();
    expectTypeOf<CheckBroadcast<readonly ['B', 'D'], readonly ['D']>>().toBeUnknown();
    expectTypeOf<Join<readonly []>>().toEqualTypeOf<''>();
    expectTypeOf<Join<ShapeT>>().toEqualTypeOf<'...'>();
  });

  it('Promote: equal dtypes stay, two floats meet in f32, anything else is an error', () => {
    expectTypeOf<Promote<'bf16', 'f32'>>().toEqualTypeOf<'f32'>();
    expectTypeOf<Promote<'bf16', 'f16'>>().toEqualTypeOf<'f32'>();
    expectTypeOf<Promote<'bf16', 'bf16'>>().toEqualTypeOf<'bf16'>();
    expectTypeOf<Promote<'i32', 'i32'>>().toEqualTypeOf<'i32'>();
    expectTypeOf<Promote<'i32', 'f32'>>().toBeNever();
    expectTypeOf<Promote<'i32', 'i64'>>().toBeNever();
    expectTypeOf<CheckPromote<'i32', 'f32'>>().toEqualTypeOf<DTypeError<'dtype mismatch: i32 vs f32 (cast one explicitly)'>>();
    expectTypeOf<CheckPromote<'fp8e4m3', 'bf16'>>().toBeUnknown();
  });

  it('CheckLastDim compares the input last dim with the weight K', () => {
    expectTypeOf<CheckLastDim<readonly ['B', 'H'], 'H', 'linear'>>().toBeUnknown();
    expectTypeOf<CheckLastDim<readonly ['B', number], 'H', 'linear'>>().toBeUnknown();
    expectTypeOf<CheckLastDim<readonly ['B', 'D'], 'H', 'linear'>>()
      .toEqualTypeOf<ShapeError<'linear: input [B, D] has last dim D, weight expects H'>>();
    expectTypeOf<Last<readonly ['B', 'D']>>().toEqualTypeOf<'D'>();
    expectTypeOf<Init<readonly ['B', 'S', 'D']>>().toEqualTypeOf<readonly ['B', 'S']>();
  });

  it('axes: negative from the end, out of range is an error, unknown stays open', () => {
    type S3 = readonly ['B', 'S', 'D'];
    expectTypeOf<NormAxis<S3, -1>>().toEqualTypeOf<2>();
    expectTypeOf<NormAxis<S3, -3>>().toEqualTypeOf<0>();
    expectTypeOf<NormAxis<S3, 1>>().toEqualTypeOf<1>();
    expectTypeOf<NormAxis<S3, 3>>().toBeNever();
    expectTypeOf<NormAxis<S3, -4>>().toBeNever();
    expectTypeOf<NormAxis<S3, 0.5>>().toBeNever();
    expectTypeOf<NormAxis<S3, number>>().toEqualTypeOf<number>();
    expectTypeOf<NormAxis<ShapeT, 7>>().toEqualTypeOf<number>();
    expectTypeOf<CheckAxis<S3, 3>>().toEqualTypeOf<ShapeError<'axis 3 out of range for [B, S, D]'>>();
    expectTypeOf<CheckAxis<S3, -3>>().toBeUnknown();

    expectTypeOf<RemoveAxis<S3, 0>>().toEqualTypeOf<readonly ['S', 'D']>();
    expectTypeOf<RemoveAxis<S3, 1>>().toEqualTypeOf<readonly ['B', 'D']>();
    expectTypeOf<RemoveAxis<S3, -1>>().toEqualTypeOf<readonly ['B', 'S']>();
    expectTypeOf<RemoveAxis<S3, -2>>().toEqualTypeOf<readonly ['B', 'D']>();
    expectTypeOf<RemoveAxis<S3, number>>().toEqualTypeOf<ShapeT>();
    expectTypeOf<Replace<S3, 1, 'K'>>().toEqualTypeOf<readonly ['B', 'K', 'D']>();
    expectTypeOf<Replace<S3, -1, 5>>().toEqualTypeOf<readonly ['B', 'S', 5]>();
    expectTypeOf<Replace<readonly [...ShapeT, 'D'], -1, 'K'>>().toEqualTypeOf<readonly [...ShapeT, 'K']>();
  });

  it('CheckAgree: concat needs equal dims outside the axis and one dtype; stack needs equal shapes', () => {
    type X = { readonly __shape: readonly ['B', 'D']; readonly __dtype: 'f32' };
    type Y = { readonly __shape: readonly ['B', 'H']; readonly __dtype: 'f32' };
    type Xb = { readonly __shape: readonly ['B', 'D']; readonly __dtype: 'bf16' };
    type W = { readonly __shape: ShapeT; readonly __dtype: 'f32' };
    expectTypeOf<CheckAgree<[X, Y], -1, 'concat'>>().toBeUnknown();
    expectTypeOf<CheckAgree<[X, Y], 0, 'concat'>>().toEqualTypeOf<ShapeError<'concat: [B, D] and [B, H] differ outside axis 0'>>();
    expectTypeOf<CheckAgree<[X, Y], null, 'stack'>>().toEqualTypeOf<ShapeError<'stack: [B, D] and [B, H] differ'>>();
    expectTypeOf<CheckAgree<[X, Xb], 0, 'concat'>>().toEqualTypeOf<DTypeError<'concat: dtype f32 vs bf16 (cast one explicitly)'>>();
    expectTypeOf<CheckAgree<[X, W], 0, 'concat'>>().toBeUnknown(); // a shape the checker does not know agrees
    expectTypeOf<CheckAgree<X[], 1, 'concat'>>().toBeUnknown();
  });
});

describe('inferred shapes and dtypes through the ops', () => {
  it('elementwise, reductions, contractions, movement', () => {
    defineProgram('types', { D: 4, H: 8, G: 3, V: 10, S: 5 }, (p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      const h = p.input('h', ['B', 'H'], 'bf16');
      const hf = p.input('hf', ['B', 'H'], 'f32');
      const seq = p.input('seq', ['B', 'S', 'D'], 'f32');
      const tok = p.input('tok', ['B'], 'i32');
      const bias = p.param('bias', ['D'], 'f32');
      const w = p.param('w', ['G', 'H'], 'bf16');
      const wt = p.param('wt', ['H', 'G'], 'f16');
      const emb = p.param('emb', ['V', 'D'], 'bf16');
      expectTypeOf(x).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();

      // broadcasting and promotion
      expectTypeOf(x.add(bias)).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();
      expectTypeOf(bias.mul(x)).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();
      expectTypeOf(x.add(1)).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();
      expectTypeOf(h.add(hf)).toEqualTypeOf<Tensor<readonly ['B', 'H'], 'f32'>>(); // bf16 + f32 → f32
      expectTypeOf(h.add(h)).toEqualTypeOf<Tensor<readonly ['B', 'H'], 'bf16'>>();
      expectTypeOf(seq.sub(x.reshape(['B', 1, 'D']))).toEqualTypeOf<Tensor<readonly ['B', 'S', 'D'], 'f32'>>();
      expectTypeOf(x.lt(0)).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'bool'>>();
      expectTypeOf(x.eq(bias)).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'bool'>>();
      expectTypeOf(h.gelu()).toEqualTypeOf<Tensor<readonly ['B', 'H'], 'bf16'>>();
      expectTypeOf(x.silu()).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();
      expectTypeOf(where(x.lt(0), x, bias)).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();
      // the condition's shape broadcasts too: [B, D] ? [D] : [D] is [B, D] (it was typed [D])
      const wb = where(x.lt(0), bias, bias);
      expectTypeOf(wb).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();
      expect(wb.shape).toEqual(['B', 4]);

      // contractions: f32 out, leading dims kept
      expectTypeOf(h.linear(w)).toEqualTypeOf<Tensor<readonly ['B', 'G'], 'f32'>>();
      expectTypeOf(hf.matmul(wt)).toEqualTypeOf<Tensor<readonly ['B', 'G'], 'f32'>>();
      expectTypeOf(embedding(emb, tok)).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();

      // reductions
      expectTypeOf(x.argmax(-1)).toEqualTypeOf<Tensor<readonly ['B'], 'i32'>>();
      expectTypeOf(x.sum(0)).toEqualTypeOf<Tensor<readonly ['D'], 'f32'>>();
      expectTypeOf(seq.sum(1)).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();
      expectTypeOf(seq.max(-2)).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();
      expectTypeOf(seq.mean(-1)).toEqualTypeOf<Tensor<readonly ['B', 'S'], 'f32'>>();
      const top = h.topk(2);
      expectTypeOf(top.values).toEqualTypeOf<Tensor<readonly ['B', 2], 'bf16'>>();
      expectTypeOf(top.indices).toEqualTypeOf<Tensor<readonly ['B', 2], 'i32'>>();
      expectTypeOf(x.softmax()).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();
      expectTypeOf(rmsNorm(h)).toEqualTypeOf<Tensor<readonly ['B', 'H'], 'f32'>>();
      expectTypeOf(layerNorm(x, { weight: bias, bias })).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();

      // movement
      expectTypeOf(stack([tok, tok, tok])).toEqualTypeOf<Tensor<readonly ['B', number], 'i32'>>();
      expectTypeOf(concat([x, hf], -1, 'DH')).toEqualTypeOf<Tensor<readonly ['B', 'DH'], 'f32'>>();
      expectTypeOf(concat([emb, emb], 0, 'VV')).toEqualTypeOf<Tensor<readonly ['VV', 'D'], 'bf16'>>();
      const g = h.linear(w).reshape(['B', 3]);
      expectTypeOf(x.chunk(-1, 2, 2)).toEqualTypeOf<Tensor<readonly ['B', 2], 'f32'>[]>();
      expectTypeOf(hf.chunk(1, 2, 'D')).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>[]>();
      expectTypeOf(x.permute([1, 0])).toEqualTypeOf<Tensor<readonly ['D', 'B'], 'f32'>>();
      expectTypeOf(seq.permute([2, 0, 1])).toEqualTypeOf<Tensor<readonly ['D', 'B', 'S'], 'f32'>>();
      expectTypeOf(x.reshape(['B', 2, 2])).toEqualTypeOf<Tensor<readonly ['B', 2, 2], 'f32'>>();
      expectTypeOf(x.slice(1, 0, 2, 'K')).toEqualTypeOf<Tensor<readonly ['B', 'K'], 'f32'>>();
      expectTypeOf(x.slice(-1, 0, 2)).toEqualTypeOf<Tensor<readonly ['B', number], 'f32'>>();
      expectTypeOf(bias.broadcastTo(['B', 'D'])).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();
      expectTypeOf(h.cast('f32')).toEqualTypeOf<Tensor<readonly ['B', 'H'], 'f32'>>();
      expectTypeOf(x.argmax(1).cast('i64')).toEqualTypeOf<Tensor<readonly ['B'], 'i64'>>();
      expectTypeOf(g).toEqualTypeOf<Tensor<readonly ['B', 3], 'f32'>>();
      p.output('y', x);
    });
  });

  it('wide dims (a `number` from a config) are left to the runtime check', () => {
    const width: number = 4;
    defineProgram('wide', { D: 4 }, (p) => {
      const x = p.input('x', ['B', width], 'f32');
      const y = p.input('y', ['B', 'D'], 'f32');
      expectTypeOf(x).toEqualTypeOf<Tensor<readonly ['B', number], 'f32'>>();
      expectTypeOf(x.add(y)).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();
      expectTypeOf(x.sum(-1)).toEqualTypeOf<Tensor<readonly ['B'], 'f32'>>();
      p.output('z', x.add(y));
    });
  });
});

describe('what the checker rejects (and the tracer throws for)', () => {
  it('adding [B, D] to [B, H]', () => {
    defineProgram('e1', { D: 4, H: 8 }, (p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      const h = p.input('h', ['B', 'H'], 'f32');
      expect(() =>
        // @ts-expect-error -- cannot broadcast [B, D] with [B, H]
        x.add(h)).toThrow(DslError);
      expect(() =>
        // @ts-expect-error -- the same through mul, sub, maximum
        x.mul(h).sub(h).maximum(h)).toThrow(DslError);
      p.output('x', x);
    });
  });

  it('linear / matmul with a mismatched K', () => {
    defineProgram('e2', { D: 4, H: 8, G: 3 }, (p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      const w = p.param('w', ['G', 'H'], 'bf16');
      expect(() =>
        // @ts-expect-error -- linear: input [B, D] has last dim D, weight expects H
        x.linear(w)).toThrow(DslError);
      expect(() =>
        // @ts-expect-error -- matmul: input [B, D] has last dim D, weight expects G
        x.matmul(w)).toThrow(DslError);
      p.output('x', x);
    });
  });

  it('i32 + f32 without a cast', () => {
    defineProgram('e3', { D: 4 }, (p) => {
      const i = p.input('i', ['B', 'D'], 'i32');
      const x = p.input('x', ['B', 'D'], 'f32');
      expect(() =>
        // @ts-expect-error -- dtype mismatch: i32 vs f32 (cast one explicitly)
        i.add(x)).toThrow(DslError);
      expect(() =>
        // @ts-expect-error -- and the other way round
        x.lt(i)).toThrow(DslError);
      expectTypeOf(i.cast('f32').add(x)).toEqualTypeOf<Tensor<readonly ['B', 'D'], 'f32'>>();
      p.output('x', x);
    });
  });

  it('a Tensor<[B, H]> where the type demands [B, D], or the wrong dtype', () => {
    const step = (t: Tensor<readonly ['B', 'D'], 'f32'>): Tensor<readonly ['B', 'D'], 'f32'> => t.sigmoid();
    const stepBf16 = (t: Tensor<readonly ['B', 'D'], 'bf16'>): Tensor<readonly ['B', 'D'], 'bf16'> => t;
    defineProgram('e4', { D: 4, H: 8 }, (p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      const h = p.input('h', ['B', 'H'], 'f32');
      // @ts-expect-error -- '"H"' is not assignable to '"D"'
      step(h);
      // @ts-expect-error -- 'f32' is not assignable to 'bf16'
      stepBf16(x);
      // @ts-expect-error -- a rank-1 tensor is not a rank-2 one
      step(x.sum(1));
      p.output('y', step(x));
    });
  });

  it('axes out of range, concat of tensors that disagree, bad dtypes', () => {
    defineProgram('e5', { D: 4, H: 8 }, (p) => {
      const x = p.input('x', ['B', 'D'], 'f32');
      const h = p.input('h', ['B', 'H'], 'f32');
      const hb = p.input('hb', ['B', 'H'], 'bf16');
      const idsF = p.input('idsF', ['B'], 'f32');
      const emb = p.param('emb', [10, 'D'], 'bf16');
      expect(() =>
        // @ts-expect-error -- axis 2 out of range for [B, D]
        x.sum(2)).toThrow(DslError);
      expect(() =>
        // @ts-expect-error -- axis -3 out of range for [B, D]
        x.argmax(-3)).toThrow(DslError);
      expect(() =>
        // @ts-expect-error -- concat: [B, D] and [B, H] differ outside axis 0
        concat([x, h], 0, 'B2')).toThrow(DslError);
      expect(() =>
        // @ts-expect-error -- concat: dtype f32 vs bf16
        concat([h, hb], -1, 16)).toThrow(DslError);
      expect(() =>
        // @ts-expect-error -- ids must be integers
        embedding(emb, idsF)).toThrow(DslError);
      // @ts-expect-error -- not a dtype
      expect(() => x.cast('f64')).toThrow('cast: unknown dtype f64');
      p.output('x', x);
    });
  });
});
