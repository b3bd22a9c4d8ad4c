// arcticc generate on the CPU reproduces Hugging Face's fp32 greedy tokens for all 16 reference cases
// (--prompt-ids, --json), and --prompt goes through the tokenizer.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { referenceCases, TARGET_DIR } from '../../support/target.ts';

describe('arcticc generate', () => {
  it('all 16 reference cases: 64 greedy tokens equal greedy_fp32, one output per prompt, in order', async () => {
    const cases = referenceCases();
    const file = join(mkdtempSync(join(tmpdir(), 'arcticc-gen-')), 'prompts.json');
    writeFileSync(file, JSON.stringify({ prompts: cases.map((c) => c.prompt) }));
    const r = await runCli(['generate', '--model', TARGET_DIR, '--prompt-ids', file, '--max-new-tokens', '64', '--ignore-eos', '--device', 'cpu', '--max-model-len', '160', '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.outputs.map((o: { token_ids: number[] }) => o.token_ids)).toEqual(cases.map((c) => c.greedy_fp32));
    expect(j.outputs.every((o: { finish_reason: string; text: string }) => o.finish_reason === 'length' && o.text.length > 0)).toBe(true);
    expect(j.metrics.generated_tokens).toBe(16 * 64);
  }, 120_000);

  it('--prompt text with speculation prints the continuation and the acceptance', async () => {
    const r = await runCli(['generate', '--model', TARGET_DIR, '--prompt', 'import os\ndef main():', '--max-new-tokens', '12', '--device', 'cpu', '--max-model-len', '64',
      '--speculative-config', JSON.stringify({ method: 'arctic', model: `${TARGET_DIR}-lstm`, num_speculative_tokens: 3, enable_suffix_decoding: true })]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/tok\/s on CPU/);
    expect(r.out).toMatch(/speculation: arctic \+ suffix .*mean acceptance length \d\.\d{3}/);
  }, 120_000);

  it('--activations bf16 rounds the projection inputs (the tokens stay those of fp32 here); a bad value names the option', async () => {
    const cases = referenceCases().slice(0, 2);
    const file = join(mkdtempSync(join(tmpdir(), 'arcticc-gen-')), 'prompts.json');
    writeFileSync(file, JSON.stringify({ prompts: cases.map((c) => c.prompt) }));
    const args = ['generate', '--model', TARGET_DIR, '--prompt-ids', file, '--max-new-tokens', '16', '--ignore-eos', '--device', 'cpu', '--max-model-len', '160', '--json'];
    const r = await runCli([...args, '--activations', 'bf16']);
    expect(r.code, r.err).toBe(0);
    const got = JSON.parse(r.out).outputs.map((o: { token_ids: number[] }) => o.token_ids);
    expect(got).toEqual(cases.map((c) => c.greedy_fp32.slice(0, 16)));
    const bad = await runCli([...args, '--activations', 'fp16']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.out).error.message).toMatch(/option --activations: .*"f32"\|"bf16"/);
  }, 120_000);

  it('--suffix-updates and --hybrid-bar: the fp32 greedy tokens whatever the modes; a bad value names the option', async () => {
    const cases = referenceCases().slice(0, 2);
    const file = join(mkdtempSync(join(tmpdir(), 'arcticc-gen-')), 'prompts.json');
    writeFileSync(file, JSON.stringify({ prompts: cases.map((c) => c.prompt) }));
    const args = ['generate', '--model', TARGET_DIR, '--prompt-ids', file, '--max-new-tokens', '12', '--ignore-eos', '--device', 'cpu', '--max-model-len', '160', '--json',
      '--speculative-config', JSON.stringify({ method: 'arctic', model: `${TARGET_DIR}-lstm`, enable_suffix_decoding: true })];
    for (const [updates, bar] of [['off', 'n_predict'], ['all', 'measured']]) {
      const r = await runCli([...args, '--suffix-updates', updates, '--hybrid-bar', bar]);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out).outputs.map((o: { token_ids: number[] }) => o.token_ids)).toEqual(cases.map((c) => c.greedy_fp32.slice(0, 12)));
    }
    const bad = await runCli([...args, '--suffix-updates', 'later']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.out).error.message).toMatch(/option --suffix-updates: .*"off"\|"global"\|"all"/);
  }, 120_000);
});
