import { describe, expect, it } from 'vitest';
import type { ExecutionPlan } from '../../../compiler/codegen/plan.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { bindInputs, bucketFor, checkWeights, copyBlock, paddingSize } from '../../../runtime/cuda/plan-layout.ts';
import { affinePlan } from './plans.ts';

describe('paddingSize (ArcticInference buckets)', () => {
  it('matches the documented examples', () => {
    const table: [number, number][] = [[1, 1], [2, 2], [3, 3], [4, 4], [5, 6], [6, 6], [7, 8], [8, 8], [9, 12], [12, 12], [13, 16],
      [16, 16], [17, 24], [24, 24], [25, 32], [33, 48], [48, 48], [49, 64], [64, 64], [65, 96], [97, 128]];
    for (const [b, want] of table) expect(paddingSize(b), `B=${b}`).toBe(want);
  });
  it('never shrinks, pads less than a third of the padded rows, and is idempotent', () => {
    for (let b = 1; b <= 4096; b++) {
      const p = paddingSize(b);
      expect(p).toBeGreaterThanOrEqual(b);
      if (b > 4) expect(p - b).toBeLessThan(p / 3);
      else expect(p).toBe(b);
      expect(paddingSize(p)).toBe(p);
    }
  });
  it('caps the bucket at the buffers capacity', () => {
    expect(bucketFor(33, 40)).toBe(40);
    expect(bucketFor(33, 64)).toBe(48);
    expect(bucketFor(3, 64)).toBe(3);
  });
  it('rejects non-positive batches', () => {
    expect(() => paddingSize(0)).toThrow(/positive integer/);
    expect(() => paddingSize(2.5)).toThrow(/positive integer/);
  });
});

describe('copyBlock', () => {
  const u8 = (xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);
  it('pads rows into a larger block and crops them back', () => {
    const src = u8([1, 2, 3, 4, 5, 6]); // [2,3]
    const dst = new Uint8Array(4 * 3 * 4); // [4,3] zeroed
    copyBlock(src, [2, 3], dst, [4, 3], 4);
    expect([...new Float32Array(dst.buffer)]).toEqual([1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0]);
    const back = new Uint8Array(6 * 4);
    copyBlock(dst, [4, 3], back, [2, 3], 4, true);
    expect([...new Float32Array(back.buffer)]).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it('handles the batch dim in the last axis ([n,B] outputs)', () => {
    const dst = new Float32Array(2 * 4); // [2,4] padded from [2,3]
    copyBlock(u8([1, 2, 3, 4, 5, 6]), [2, 3], new Uint8Array(dst.buffer), [2, 4], 4);
    expect([...dst]).toEqual([1, 2, 3, 0, 4, 5, 6, 0]);
    const out = new Float32Array(6);
    copyBlock(new Uint8Array(dst.buffer), [2, 4], new Uint8Array(out.buffer), [2, 3], 4, true);
    expect([...out]).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it('copies 1-d and scalar blocks', () => {
    const d = new Int32Array(4);
    copyBlock(new Uint8Array(new Int32Array([7, 8]).buffer), [2], new Uint8Array(d.buffer), [4], 4);
    expect([...d]).toEqual([7, 8, 0, 0]);
    const s = new Float32Array(1);
    copyBlock(u8([9]), [], new Uint8Array(s.buffer), [], 4);
    expect(s[0]).toBe(9);
  });
});

describe('checkWeights', () => {
  const plan: ExecutionPlan = affinePlan();
  const w = () => new Map([['w', hostTensor('f32', [4], new Float32Array(4))]]);
  it('accepts the right weights', () => { expect(() => checkWeights(plan, w())).not.toThrow(); });
  it('names a missing tensor with its dtype and shape', () => {
    expect(() => checkWeights(plan, new Map())).toThrow('plan affine: missing weight "w" (f32[4])');
  });
  it('names a tensor with the wrong dtype or shape', () => {
    expect(() => checkWeights(plan, new Map([['w', hostTensor('bf16', [4])]]))).toThrow('weight "w": plan affine expects f32[4], got dtype bf16');
    expect(() => checkWeights(plan, new Map([['w', hostTensor('f32', [2, 2])]]))).toThrow('weight "w": plan affine expects shape [4], got [2,2]');
  });
  it('catches data of the wrong byte size', () => {
    const t = { dtype: 'f32' as const, shape: [4], data: new Float32Array(3) };
    expect(() => checkWeights(plan, new Map([['w', t]]))).toThrow(/needs 16 bytes, its data holds 12/);
  });
});

describe('bindInputs', () => {
  const plan = affinePlan();
  it('binds B from the input shape', () => {
    expect(bindInputs(plan, { x: hostTensor('f32', [3, 4]) })).toEqual({ B: 3 });
  });
  it('rejects batches above maxDims, wrong static dims and dtypes', () => {
    expect(() => bindInputs(plan, { x: hostTensor('f32', [9, 4]) })).toThrow('dim B=9 exceeds the plan\'s maximum B=8');
    expect(() => bindInputs(plan, { x: hostTensor('f32', [3, 5]) })).toThrow('input "x": expected shape [B,4], got [3,5]');
    expect(() => bindInputs(plan, { x: hostTensor('i32', [3, 4]) })).toThrow('input "x": expected f32[B,4], got dtype i32');
    expect(() => bindInputs(plan, {})).toThrow('missing input "x"');
  });
});
