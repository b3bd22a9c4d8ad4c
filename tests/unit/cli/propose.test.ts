// The CLI: propose on every fixture reproduces the reference; inspect; errors and exit codes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { FIXTURES, fixtureCases, fixtureDir } from '../../support/fixtures.ts';

const run = runCli;

const tmp = mkdtempSync(join(tmpdir(), 'arcticc-cli-'));
function requestFile(name: string, body: unknown): string {
  const f = join(tmp, name);
  writeFileSync(f, JSON.stringify(body));
  return f;
}

describe('arcticc propose', () => {
  it.each(FIXTURES)('reproduces %s on the CPU with --json', async (name) => {
    const { cases } = fixtureCases(name);
    const input = requestFile(`${name}.json`, { hidden: cases.map((c) => c.hidden), tokens: cases.map((c) => c.token) });
    const r = await run(['propose', '--model', fixtureDir(name), '--input', input, '--device', 'cpu', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.draft).toEqual(cases.map((c) => c.expected));
    expect(j.device).toBe('cpu');
  });

  it('prints a readable table without --json', async () => {
    const { cases } = fixtureCases('mlp-untied');
    const input = requestFile('t.json', { hidden: [cases[0].hidden], tokens: [cases[0].token] });
    const r = await run(['propose', '--model', fixtureDir('mlp-untied'), '--input', input, '--device', 'cpu']);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`draft ${cases[0].expected.join(' ')}`);
  });

  it('names the row when a hidden vector has the wrong length', async () => {
    const input = requestFile('bad.json', { hidden: [[1, 2, 3]], tokens: [1] });
    const r = await run(['propose', '--model', fixtureDir('lstm-tiny'), '--input', input, '--device', 'cpu']);
    expect(r.code).toBe(1); // bad request data is input, not usage
    expect(r.err).toMatch(/hidden\[0\] has 3 values, the speculator's hidden size is 64/);
  });

  it('reports errors as JSON with --json, and a missing option as a usage error', async () => {
    const ok = requestFile('ok.json', { hidden: [fixtureCases('lstm-tiny').cases[0].hidden], tokens: [1] });
    const r = await run(['propose', '--model', join(tmp, 'nope'), '--input', ok, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).error.message).toMatch(/nope/);
    const u = await run(['propose', '--input', 'x.json']);
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/--model/);
  });

  it('rejects an unknown device', async () => {
    const r = await run(['propose', '--model', fixtureDir('lstm-tiny'), '--input', 'x.json', '--device', 'gpu']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--device/);
  });
});

describe('arcticc inspect and help', () => {
  it('describes the tied LSTM checkpoint', async () => {
    const r = await run(['inspect', fixtureDir('lstm-tiny'), '--json']);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.out);
    expect(d.config.kind).toBe('lstm');
    expect(d.params.map((p: { name: string }) => p.name)).toContain('projs.0.weight');
    const text = await run(['inspect', fixtureDir('lstm-tiny')]);
    expect(text.out).toMatch(/projs\.0\.weight bf16 \[256, 64\] <- forget_proj\.0\.weight \+ input_proj\.0\.weight \+ output_proj\.0\.weight \+ cell_proj\.0\.weight/);
  });
  it('prints help and version, and rejects unknown commands', async () => {
    expect((await run(['--help'])).out).toMatch(/usage: arcticc/);
    expect((await run(['--version'])).out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const u = await run(['frobnicate']);
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/unknown command "frobnicate"/);
  });
});
