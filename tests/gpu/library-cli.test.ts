// The user-facing paths on the GPU: loadSpeculator({ device: 'cuda' | 'auto' }) and
// `arcticc propose --device cuda` reproduce every fixture exactly.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { main } from '../../bin/commands/main.ts';
import { loadSpeculator } from '../../index.ts';
import { FIXTURES, fixtureBatch, fixtureCases, fixtureDir, rows } from '../support/fixtures.ts';
import { describeGpuCompiled } from './gpu-env.ts';

describeGpuCompiled('library and CLI on CUDA', () => {
  for (const name of FIXTURES) {
    it(`loadSpeculator(${name}, cuda) reproduces every case`, async () => {
      const spec = await loadSpeculator({ model: fixtureDir(name), device: 'cuda' });
      try {
        expect(spec.device).toBe('cuda');
        expect(spec.deviceDescription).toMatch(/H200|NVIDIA/);
        const { hidden, tokens, expected } = fixtureBatch(name);
        expect(rows(await spec.propose({ hidden, tokens }), spec.numSpeculativeTokens)).toEqual(expected);
      } finally {
        spec.close();
      }
    });

    it(`arcticc propose --device cuda reproduces ${name}`, async () => {
      const { cases } = fixtureCases(name);
      const input = join(mkdtempSync(join(tmpdir(), 'arcticc-gpu-cli-')), 'req.json');
      writeFileSync(input, JSON.stringify({ hidden: cases.map((c) => c.hidden), tokens: cases.map((c) => c.token) }));
      let out = '';
      const code = await main(['propose', '--model', fixtureDir(name), '--input', input, '--device', 'cuda', '--json'], { out: (s) => { out += s; }, err: () => {} });
      expect(code).toBe(0);
      const j = JSON.parse(out);
      expect(j.device).toBe('cuda');
      expect(j.draft).toEqual(cases.map((c) => c.expected));
    });
  }

  it("device 'auto' picks CUDA here and says why", async () => {
    const spec = await loadSpeculator({ model: fixtureDir('lstm-tiny'), device: 'auto' });
    expect(spec.device).toBe('cuda');
    expect(spec.deviceDescription).toMatch(/auto/);
    spec.close();
  });
});
