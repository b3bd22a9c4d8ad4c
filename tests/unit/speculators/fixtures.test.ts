// Every bundled checkpoint reproduces its float64 reference drafts exactly on the CPU backend.
import { describe, expect, it } from 'vitest';
import { loadSpeculator } from '../../../index.ts';
import { loadCheckpoint, expectedParams } from '../../../runtime/checkpoint/index.ts';
import { graphParams } from '../../../compiler/ir/graph.ts';
import { programFor } from '../../../runtime/speculator-program.ts';
import { mixAlpha } from '../../../speculators/common.ts';
import { FIXTURES, fixtureBatch, fixtureCases, fixtureDir, rows } from '../../support/fixtures.ts';

describe.each(FIXTURES)('fixture %s', (name) => {
  it('proposes exactly the reference drafts for every case', async () => {
    const spec = await loadSpeculator({ model: fixtureDir(name), device: 'cpu' });
    try {
      const { hidden, tokens, expected } = fixtureBatch(name);
      expect(spec.device).toBe('cpu');
      const draft = await spec.propose({ hidden, tokens });
      expect(draft).toBeInstanceOf(Int32Array);
      expect(rows(draft, spec.numSpeculativeTokens)).toEqual(expected);
    } finally {
      spec.close();
    }
  });

  it('gives the same drafts one request at a time as in a batch', async () => {
    const spec = await loadSpeculator({ model: fixtureDir(name), device: 'cpu' });
    const { hidden, tokens, expected } = fixtureBatch(name, 4);
    const H = spec.hiddenSize;
    for (let r = 0; r < tokens.length; r++) {
      const d = await spec.propose({ hidden: hidden.slice(r * H, (r + 1) * H), tokens: tokens.slice(r, r + 1) });
      expect(Array.from(d)).toEqual(expected[r]);
    }
    spec.close();
  });

  it('uses the mixing constant α of the reference', () => {
    const { config } = loadCheckpoint(fixtureDir(name), { quiet: true });
    expect(mixAlpha(config.nPredict, config.width)).toBeCloseTo(fixtureCases(name).alpha, 12);
  });

  it('binds exactly the parameters the checkpoint loader provides', () => {
    const { config, weights } = loadCheckpoint(fixtureDir(name), { quiet: true });
    const program = programFor(config, weights);
    const bound = graphParams(program.graph).map((n) => [n.argOf<string>('name'), [...n.shape]]);
    const provided = expectedParams(config).map((p) => [p.name, p.shape]);
    expect(new Map(bound as [string, number[]][])).toEqual(new Map(provided as [string, number[]][]));
  });
});
