// Bad requests to propose fail with errors that name the row, the column or the value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Speculator } from '../../../index.ts';
import { loadSpeculator } from '../../../index.ts';
import { fixtureBatch, fixtureDir } from '../../support/fixtures.ts';

let spec: Speculator;
beforeAll(async () => { spec = await loadSpeculator({ model: fixtureDir('lstm-tiny'), device: 'cpu' }); });
afterAll(() => spec.close());

describe('propose input validation', () => {
  const { hidden, tokens } = fixtureBatch('lstm-tiny', 3);

  it('rejects hidden of the wrong length, naming B×H', async () => {
    await expect(spec.propose({ hidden: hidden.subarray(1), tokens })).rejects.toThrow(/hidden has 191 values, expected B×H = 3×64 = 192/);
  });
  it('rejects NaN and Inf in hidden, naming row and column', async () => {
    const h = hidden.slice(); h[64 + 5] = NaN;
    await expect(spec.propose({ hidden: h, tokens })).rejects.toThrow(/hidden\[1\]\[5\] is NaN/);
    h[64 + 5] = 0; h[2 * 64] = -Infinity;
    await expect(spec.propose({ hidden: h, tokens })).rejects.toThrow(/hidden\[2\]\[0\] is -Infinity/);
  });
  it('rejects token ids outside [0, V) with a RangeError naming the row and value', async () => {
    const t = tokens.slice(); t[2] = 512;
    await expect(spec.propose({ hidden, tokens: t })).rejects.toThrow(RangeError);
    await expect(spec.propose({ hidden, tokens: t })).rejects.toThrow(/token 512 in row 2 is outside \[0, 512\)/);
    t[2] = -1;
    await expect(spec.propose({ hidden, tokens: t })).rejects.toThrow(/token -1 in row 2/);
  });
  it('clamps out-of-range tokens when asked, like ArcticInference', async () => {
    const clamping = await loadSpeculator({ model: fixtureDir('lstm-tiny'), device: 'cpu', clampTokens: true });
    const t = tokens.slice(); t[0] = -1; t[1] = 9999;
    const got = await clamping.propose({ hidden, tokens: t });
    const want = await spec.propose({ hidden, tokens: Int32Array.from([0, 511, tokens[2]]) });
    expect(Array.from(got)).toEqual(Array.from(want));
    expect(t[0]).toBe(-1); // the caller's array is not modified
    clamping.close();
  });
  it('rejects an empty batch and wrong array types', async () => {
    await expect(spec.propose({ hidden: new Float32Array(0), tokens: new Int32Array(0) })).rejects.toThrow(/empty batch/);
    await expect(spec.propose({ hidden: Array.from(hidden) as never, tokens })).rejects.toThrow(/Float32Array/);
  });
  it('refuses to propose after close, and close is idempotent', async () => {
    const s = await loadSpeculator({ model: fixtureDir('mlp-tied'), device: 'cpu' });
    s.close(); s.close();
    await expect(s.propose({ hidden: new Float32Array(64), tokens: Int32Array.from([1]) })).rejects.toThrow(/closed/);
  });
  it('rejects an unknown device name', async () => {
    await expect(loadSpeculator({ model: fixtureDir('mlp-tied'), device: 'tpu' as never })).rejects.toThrow(/device must be "cpu", "cuda" or "auto"/);
  });
});
