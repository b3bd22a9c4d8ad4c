// A fixture loaded with the same options on the CPU interpreter and on CUDA: the CUDA drafts equal the
// CPU's in one batch (every case: the tensor-core linears) and one request at a time (the GEMVs).
import { expect } from 'vitest';
import type { LoadSpeculatorOptions } from '../../index.ts';
import { loadSpeculator } from '../../index.ts';
import type { FixtureName } from '../support/fixtures.ts';
import { fixtureBatch, fixtureDir, rows } from '../support/fixtures.ts';

/** Fixture `name` with options `o` on both backends: equal drafts, and a CUDA description matching `description`. */
export async function expectCudaDraftsEqualCpu(name: FixtureName, o: Pick<LoadSpeculatorOptions, 'quantize' | 'activations'>, description: RegExp): Promise<void> {
  const cpu = await loadSpeculator({ model: fixtureDir(name), device: 'cpu', ...o });
  const gpu = await loadSpeculator({ model: fixtureDir(name), device: 'cuda', ...o });
  try {
    expect(gpu.deviceDescription).toMatch(description);
    const { hidden, tokens } = fixtureBatch(name);
    const k = cpu.numSpeculativeTokens;
    const want = rows(await cpu.propose({ hidden, tokens }), k);
    expect(rows(await gpu.propose({ hidden, tokens }), k)).toEqual(want);
    const H = gpu.hiddenSize;
    for (let r = 0; r < 3; r++) {
      const one = await gpu.propose({ hidden: hidden.slice(r * H, (r + 1) * H), tokens: tokens.slice(r, r + 1) });
      expect(Array.from(one)).toEqual(want[r]);
    }
  } finally {
    cpu.close();
    gpu.close();
  }
}
