// arcticc propose --tp N and arcticc compile --tp N --rank R.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { fixtureCases, fixtureDir } from '../../support/fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'arcticc-tp-cli-'));

describe('the --tp option', () => {
  it('propose --tp 2 drafts the reference tokens through two worker processes', async () => {
    const { cases } = fixtureCases('lstm-wide-input');
    const input = join(tmp, 'req.json');
    writeFileSync(input, JSON.stringify({ hidden: cases.map((c) => c.hidden), tokens: cases.map((c) => c.token) }));
    const r = await runCli(['propose', '--model', fixtureDir('lstm-wide-input'), '--input', input, '--device', 'cpu', '--tp', '2', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.draft).toEqual(cases.map((c) => c.expected));
    expect(j.deviceDescription).toMatch(/tensor parallel over 2 worker processes/);
  }, 20_000);

  it('compile --tp 8 --rank 7 writes the rank\'s kernels with the all-gather as an input and a send output', async () => {
    const out = join(tmp, 'rank7');
    const r = await runCli(['compile', 'lstm', '--model', fixtureDir('lstm-wide-input'), '--tp', '8', '--rank', '7', '--out', out, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).name).toBe('arctic_lstm_tp7of8_kernels');
    const air = readFileSync(join(out, 'graph.air'), 'utf8');
    // V = 1000 pads to 1024: rank 7 holds rows 896…1023, 104 of them real
    expect(air).toContain('param "head.0.weight" : bf16[128,64]');
    for (const k of [0, 1, 2]) { expect(air).toContain(`all_gather.${k}.send`); expect(air).toContain(`%all_gather.${k}: f32[8,B,2]`); }
    expect((await runCli(['compile', 'lstm', '--model', fixtureDir('lstm-tiny'), '--rank', '1', '--out', out])).code).toBe(2);
    expect((await runCli(['compile', 'lstm', '--model', fixtureDir('lstm-tiny'), '--tp', '2', '--rank', '2', '--out', out])).code).toBe(2);
  });
});
