// Every command: --help prints its usage and exits 0 without running; and the one exit-code rule
// (0 ok, 1 bad input or a failure, 2 usage) for every command and every class of error.
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../bin/commands/main.ts';
import { runCli } from '../../support/cli.ts';
import { fixtureCases, fixtureDir } from '../../support/fixtures.ts';

const run = runCli;
const tmp = mkdtempSync(join(tmpdir(), 'arcticc-codes-'));
const file = (name: string, body: unknown): string => {
  const f = join(tmp, name);
  writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body));
  return f;
};
const lstm = fixtureDir('lstm-tiny');
const target = fileURLToPath(new URL('../../fixtures/target/pycode-small', import.meta.url));
const brokenTarget = (() => { // a target whose config asks for what the model cannot run
  const d = join(tmp, 'broken-target');
  cpSync(target, d, { recursive: true });
  const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
  writeFileSync(join(d, 'config.json'), JSON.stringify({ ...c, attention_bias: true }));
  return d;
})();
const cases = fixtureCases('lstm-tiny').cases;
const good = { hidden: [cases[0].hidden, cases[1].hidden], tokens: [cases[0].token, cases[1].token] };
const goodFile = file('good.json', good);
const ir = 'graph g(%x: f32[B,4]) {\n  %0 = exp %x : f32[B,4]\n  return y = %0\n}\n';
const air = file('g.air', ir);
const broken = (() => { // a checkpoint whose config stops a load
  const d = join(tmp, 'broken-ckpt');
  cpSync(lstm, d, { recursive: true });
  const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
  writeFileSync(join(d, 'config.json'), JSON.stringify({ ...c, method: 'sum_rnn' }));
  return d;
})();

describe('--help on every command', () => {
  it.each(Object.keys(COMMANDS))('%s --help prints its usage and exits 0', async (name) => {
    for (const flag of ['--help', '-h']) {
      const r = await run([name, flag]);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^usage: arcticc ${name}\\b`));
      expect(r.out).toMatch(/exit codes: 0 /);
      expect(r.err).toBe('');
    }
    expect((await run(['help', name])).out).toMatch(new RegExp(`^usage: arcticc ${name}\\b`));
  });
  it('does not run the command, whatever else is on the line', async () => {
    const dir = join(tmp, 'help-new');
    expect((await run(['new', 'x', '--dir', dir, '--help'])).code).toBe(0);
    expect(existsSync(join(dir, 'x.ts'))).toBe(false);
    expect((await run(['propose', '--model', '/nonexistent', '--bogus', '--help'])).code).toBe(0);
    expect((await run(['compile', 'lstm', '-h'])).code).toBe(0);
  });
  it('the top-level usage lists every command and the exit-code rule', async () => {
    const r = await run(['--help']);
    for (const name of Object.keys(COMMANDS)) expect(r.out).toContain(`  ${name} `);
    expect(r.out).toContain('exit codes: 0 success, 1 bad input or a failure while running, 2 a usage error');
  });
});

type Case = [string, string[], 0 | 1 | 2, RegExp?];

const table: Record<string, Case[]> = {
  propose: [
    ['ok', ['--model', lstm, '--input', goodFile, '--device', 'cpu', '--json'], 0],
    ['usage: unknown option', ['--model', lstm, '--input', goodFile, '--frobnicate'], 2, /Unknown option '--frobnicate'/],
    ['usage: missing --model', ['--input', goodFile], 2, /--model: is required/],
    ['usage: missing --input', ['--model', lstm], 2, /--input: is required/],
    ['usage: bad --device', ['--model', lstm, '--input', goodFile, '--device', 'gpu'], 2, /--device/],
    ['usage: bad --max-batch', ['--model', lstm, '--input', goodFile, '--max-batch', '0'], 2, /--max-batch/],
    ['input: missing request file', ['--model', lstm, '--input', join(tmp, 'nope.json')], 1, /nope\.json: no such file/],
    ['input: request is not JSON', ['--model', lstm, '--input', file('bad.json', '{"hidden": [')], 1, /not valid JSON/],
    ['input: unknown request field', ['--model', lstm, '--input', file('extra.json', { ...good, token: [1] })], 1, /unknown field "token"/],
    ['input: field of the wrong type', ['--model', lstm, '--input', file('type.json', { hidden: good.hidden, tokens: ['a', 'b'] })], 1, /field "tokens\.0"/],
    ['input: rows and tokens disagree', ['--model', lstm, '--input', file('rows.json', { hidden: good.hidden, tokens: [1] })], 1, /"hidden" has 2 rows but "tokens" has 1/],
    ['input: wrong hidden size', ['--model', lstm, '--input', file('h.json', { hidden: [[1, 2]], tokens: [1] })], 1, /hidden\[0\] has 2 values/],
    ['input: token out of range', ['--model', lstm, '--input', file('tok.json', { hidden: [cases[0].hidden], tokens: [1 << 20] })], 1, /outside \[0, \d+\)/],
    ['input: batch above --max-batch', ['--model', lstm, '--input', goodFile, '--max-batch', '1', '--device', 'cpu'], 1, /batch 2 exceeds maxBatch 1/],
    ['input: missing checkpoint', ['--model', join(tmp, 'no-ckpt'), '--input', goodFile], 1, /checkpoint folder does not exist/],
    ['input: checkpoint that does not load', ['--model', broken, '--input', goodFile], 1, /sum_rnn/],
    ['input: --program that does not fit the weights', ['--model', lstm, '--input', goodFile, '--program', 'examples/drafters/gru-drafter.ts', '--device', 'cpu'], 1, /does not fit program gru_drafter/],
  ],
  inspect: [
    ['ok', [lstm], 0],
    ['ok: a target model', [target], 0, /target model \(LlamaForCausalLM\)\n  hidden 256, 6 layers, 4 heads \/ 2 KV heads/],
    ['problems that stop a target load', [brokenTarget], 1, /problems:\n.*attention_bias/],
    ['problems that stop a load', [broken], 1, /problems:\n.*sum_rnn/],
    ['usage: no folder', [], 2, /expected one checkpoint folder/],
    ['usage: unknown option', [lstm, '--all'], 2, /Unknown option '--all'/],
    ['input: missing folder', [join(tmp, 'nothing')], 1, /does not exist/],
  ],
  compile: [
    ['ok', ['lstm', '--model', lstm, '--out', join(tmp, 'c-ok'), '--emit', 'ir'], 0],
    ['usage: no target', ['--out', join(tmp, 'c')], 2, /expected one target/],
    ['usage: unknown target', ['nonsense', '--out', join(tmp, 'c')], 2, /neither lstm, mlp nor a \.ts DSL file/],
    ['usage: missing --out', ['lstm', '--model', lstm], 2, /--out: is required/],
    ['usage: --model with --config', ['lstm', '--model', lstm, '--config', join(lstm, 'config.json'), '--out', join(tmp, 'c')], 2, /either --model or --config/],
    ['usage: built-in without a config', ['mlp', '--out', join(tmp, 'c')], 2, /--model DIR or --config/],
    ['usage: --dump-after an unknown stage', ['lstm', '--model', lstm, '--out', join(tmp, 'c'), '--dump-after', 'frob'], 2, /--dump-after frob: not a stage/],
    ['usage: --stop-after an unknown pass', ['lstm', '--model', lstm, '--out', join(tmp, 'c'), '--stop-after', 'frob'], 2, /--stop-after frob/],
    ['usage: bad --emit', ['lstm', '--model', lstm, '--out', join(tmp, 'c'), '--emit', 'asm'], 2, /--emit/],
    ['input: config of the other kind', ['mlp', '--model', lstm, '--out', join(tmp, 'c')], 1, /describes an LSTM speculator/],
    ['input: missing config file', ['mlp', '--config', join(tmp, 'none.json'), '--out', join(tmp, 'c')], 1, /no such file/],
    ['input: config is not JSON', ['mlp', '--config', file('cfg.json', '{'), '--out', join(tmp, 'c')], 1, /not valid JSON/],
    ['input: missing DSL file', [join(tmp, 'missing.ts'), '--out', join(tmp, 'c')], 1, /no such file/],
    ['input: DSL file that does not type-check', [file('bad.ts', "import { defineProgram } from 'arcticc/dsl';\nexport const p = defineProgram('p', {}, (b) => { b.output('y', b.input('x', ['B'], 'f32').add('no')); });\n"), '--out', join(tmp, 'c')], 1, /bad\.ts:2: /],
  ],
  opt: [
    ['ok', [air, '--passes', 'simplify'], 0],
    ['usage: no file', [], 2, /expected one textual IR file/],
    ['usage: unknown pass', [air, '--passes', 'frob'], 2, /unknown pass "frob"/],
    ['usage: unparsable pipeline', [air, '--passes', 'simplify{x}'], 2, /--passes/],
    ['usage: --dump-after not in the pipeline', [air, '--passes', 'simplify', '--dump-after', 'canonicalize'], 2, /not in the pipeline/],
    ['input: missing file', [join(tmp, 'none.air')], 1, /no such file/],
    ['input: IR that does not parse', [file('bad.air', 'graph g(%x: f32[4]) {\n  %0 = add %x, %nope : f32[4]\n  return y = %0\n}\n')], 1, /bad\.air:2:\d+: undefined value %nope/],
  ],
  new: [
    ['ok', ['fresh', '--dir', join(tmp, 'new-ok')], 0],
    ['usage: no name', ['--dir', tmp], 2, /expected one architecture name/],
    ['usage: bad name', ['9lives', '--dir', tmp], 2, /expected one architecture name/],
    ['usage: unknown option', ['x', '--force'], 2, /Unknown option '--force'/],
    ['input: files exist', ['fresh', '--dir', join(tmp, 'new-ok')], 1, /already exists/],
  ],
  generate: [
    ['ok', ['--model', target, '--prompt', 'def f(x):', '--max-new-tokens', '2', '--device', 'cpu', '--max-model-len', '32'], 0],
    ['ok: prompt ids with speculation', ['--model', target, '--prompt-ids', file('p.json', { prompts: [[5, 6, 7], [8]] }), '--max-new-tokens', '3', '--device', 'cpu', '--max-model-len', '32', '--speculative-config', '{"method": "ngram", "num_speculative_tokens": 2}'], 0],
    ['usage: neither prompt', ['--model', target], 2, /exactly one of --prompt TEXT or --prompt-ids/],
    ['usage: both prompts', ['--model', target, '--prompt', 'x', '--prompt-ids', 'p.json'], 2, /exactly one of/],
    ['usage: missing --model', ['--prompt', 'x'], 2, /--model: is required/],
    ['usage: bad --temperature', ['--model', target, '--prompt', 'x', '--temperature', '-1'], 2, /--temperature/],
    ['input: missing model', ['--model', join(tmp, 'no-model'), '--prompt', 'x'], 1, /no-model/],
    ['input: prompt file with an unknown field', ['--model', target, '--prompt-ids', file('pf.json', { prompts: [[1]], prompt: 'x' })], 1, /unknown field "prompt"/],
    ['input: token outside the vocabulary', ['--model', target, '--prompt-ids', file('pv.json', { prompts: [[1, 5000]] }), '--device', 'cpu', '--max-model-len', '32'], 1, /prompt 0: token 1 is 5000, outside the vocabulary \[0, 4096\)/],
    ['input: prompt over max-model-len', ['--model', target, '--prompt-ids', file('pl.json', { prompts: [new Array(40).fill(3)] }), '--device', 'cpu', '--max-model-len', '32'], 1, /40 tokens leave no room for output within max-model-len 32/],
    ['input: speculative config with an unknown key', ['--model', target, '--prompt', 'x', '--device', 'cpu', '--max-model-len', '32', '--speculative-config', '{"method": "suffix", "suffix_depth": 3}'], 1, /"suffix_depth": unknown key/],
  ],
  serve: [
    ['usage: missing --model', ['--port', '0'], 2, /--model: is required/],
    ['usage: bad --port', ['--model', target, '--port', 'eighty'], 2, /--port/],
    ['usage: bad --max-num-seqs', ['--model', target, '--max-num-seqs', '0'], 2, /--max-num-seqs/],
    ['input: missing model', ['--model', join(tmp, 'no-model'), '--port', '0'], 1, /no-model/],
    ['input: speculative config with an unknown key', ['--model', target, '--port', '0', '--device', 'cpu', '--max-model-len', '32', '--speculative-config', '{"method": "suffix", "suffix_depth": 3}'], 1, /"suffix_depth": unknown key/],
  ],
  bench: [
    ['ok', ['--model', lstm, '--device', 'cpu', '--iters', '1'], 0],
    ['usage: missing --model', [], 2, /--model: is required/],
    ['usage: bad --batch', ['--model', lstm, '--batch', '1,x'], 2, /not a list of positive batch sizes/],
    ['usage: bad --iters', ['--model', lstm, '--iters', '-1'], 2, /--iters/],
    ['input: missing checkpoint', ['--model', join(tmp, 'none'), '--device', 'cpu'], 1, /does not exist/],
  ],
  train: [
    ['usage: neither --prompts nor --data', ['--target', target, '--arch', 'lstm', '--out', join(tmp, 'tr')], 2, /exactly one of --prompts FILE.u16 or --data/],
    ['usage: missing --arch', ['--target', target, '--prompts', 'p.u16', '--out', join(tmp, 'tr')], 2, /--arch: is required/],
    ['input: empty prompts file', ['--target', target, '--arch', 'lstm', '--prompts', file('e.u16', ''), '--out', join(tmp, 'tr')], 1, /empty \(expected rows of 64/],
  ],
  'eval-acceptance': [
    ['usage: missing --speculator', ['--target', target, '--prompts', 'p.json'], 2, /--speculator: is required/],
    ['input: prompts file without prompts', ['--target', target, '--speculator', lstm, '--prompts', file('ea.json', { x: 1 })], 1, /expected \{"prompts": number\[\]\[\]\}/],
  ],
};

describe('exit codes', () => {
  it('the table covers every command', () => {
    expect(Object.keys(table).sort()).toEqual(Object.keys(COMMANDS).sort());
  });
  for (const [name, rows] of Object.entries(table)) {
    describe(name, () => {
      it.each(rows)('%s', async (_what, args, code, message) => {
        const r = await run([name, ...args]);
        expect(r.code, r.err).toBe(code);
        if (message) expect(r.err + r.out).toMatch(message);
        if (code === 2) expect(r.err).toContain(`arcticc ${name} --help`);
        // with --json the error is an object on stdout, with the same exit code
        if (code !== 0) {
          const j = await run([name, ...args, '--json']);
          expect(j.code).toBe(code);
          const body = JSON.parse(j.out);
          // inspect reports load-stopping problems in its description, not as an error
          if (body.problems) expect(body.problems.length).toBeGreaterThan(0);
          else expect(body.error.exitCode).toBe(code);
        }
      });
    });
  }
  it('unknown commands are usage errors; --version exits 0', async () => {
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['--version'])).code).toBe(0);
  });
});

describe('propose input handling', () => {
  it('--input - reads the request from stdin', async () => {
    const r = await run(['propose', '--model', lstm, '--input', '-', '--device', 'cpu', '--json'], { stdin: JSON.stringify(good) });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).draft).toEqual([cases[0].expected, cases[1].expected]);
    const bad = await run(['propose', '--model', lstm, '--input', '-'], { stdin: 'nope' });
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/stdin: not valid JSON/);
  });
  it('--clamp-tokens says what it clamped, in text and in --json', async () => {
    const req = file('clamp.json', { hidden: [cases[0].hidden, cases[1].hidden], tokens: [-3, 1 << 20] });
    const j = await run(['propose', '--model', lstm, '--input', req, '--device', 'cpu', '--clamp-tokens', '--json']);
    expect(j.code).toBe(0);
    const clamped = JSON.parse(j.out).clamped;
    expect(clamped).toEqual([{ row: 0, token: -3, to: 0 }, { row: 1, token: 1 << 20, to: expect.any(Number) }]);
    expect(clamped[1].to).toBeLessThan(1 << 20);
    const t = await run(['propose', '--model', lstm, '--input', req, '--device', 'cpu', '--clamp-tokens']);
    expect(t.err).toMatch(/clamped token -3 in row 0 to 0/);
    expect(t.out).toMatch(/2 token\(s\) clamped/);
  });
});

describe('progress on a terminal', () => {
  it('bench and compile draw a status line on a terminal, and nothing with --json or without one', async () => {
    const b = await run(['bench', '--model', lstm, '--device', 'cpu', '--iters', '2'], { tty: true });
    expect(b.progress).toContain('bench: batch 1: call 2/2');
    expect(b.progress[b.progress.length - 1]).toBe('<end>');
    const c = await run(['compile', 'lstm', '--model', lstm, '--out', join(tmp, 'prog')], { tty: true });
    expect(c.progress.some((l) => l.includes('emitting PTX'))).toBe(true);
    expect((await run(['bench', '--model', lstm, '--device', 'cpu', '--iters', '1', '--json'], { tty: true })).progress).toEqual([]);
    expect((await run(['bench', '--model', lstm, '--device', 'cpu', '--iters', '1'])).progress).toEqual([]);
  });
});
