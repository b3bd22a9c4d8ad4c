// `arcticc serve` as a process: it binds 127.0.0.1 with an ephemeral port, answers, and on SIGTERM drains
// (a running stream completes, a new request is refused) and exits 0. Usage errors exit 2.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { TARGET_DIR } from '../../support/target.ts';
import { MODEL, raw, SPEC_CONFIG } from './support.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('arcticc serve', () => {
  it('--help and usage errors', async () => {
    const h = await runCli(['serve', '--help']);
    expect(h.code).toBe(0);
    expect(h.out).toContain('--max-num-seqs');
    expect((await runCli(['serve'])).code).toBe(2);
    expect((await runCli(['serve', '--model', TARGET_DIR, '--port', 'eighty'])).code).toBe(2);
    const bad = await runCli(['serve', '--model', TARGET_DIR, '--device', 'cpu', '--speculative-config', '{"method": "eagle"}']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/"method"/);
  });

  it('SIGTERM drains: the running stream completes, new requests are refused, exit 0', async () => {
    const child = spawn(process.execPath, ['bin/arcticc.ts', 'serve', '--model', TARGET_DIR, '--device', 'cpu', '--port', '0', '--max-model-len', '64',
      '--served-model-name', MODEL, '--speculative-config', JSON.stringify(SPEC_CONFIG)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "listening" line in 30 s: ${err}`)), 30_000);
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
          if (m) { clearTimeout(timer); resolve(m[1]); }
        });
        child.on('exit', () => reject(new Error(`serve exited: ${err}`)));
      });
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
      const stream = await client.completions.create({ model: MODEL, prompt: 'def fib(n):', max_tokens: 12, temperature: 0, stream: true });
      let text = '', finish = null, signalled = false;
      for await (const c of stream) {
        text += c.choices[0].text;
        finish = c.choices[0].finish_reason ?? finish;
        if (!signalled) {
          signalled = true;
          child.kill('SIGTERM');
          await new Promise((r) => setTimeout(r, 50));
          // draining: refused (503), or the listener is already closed
          const late = await raw(url, 'POST', '/v1/completions', JSON.stringify({ model: MODEL, prompt: 'x', max_tokens: 2 })).catch((e: Error) => ({ status: 0, text: e.message }));
          expect([0, 503]).toContain(late.status);
        }
      }
      expect(finish).toBe('length');
      const whole = (await runCli(['generate', '--model', TARGET_DIR, '--device', 'cpu', '--prompt', 'def fib(n):', '--max-new-tokens', '12', '--ignore-eos', '--json'])).out;
      expect(text).toBe(JSON.parse(whole).outputs[0].text);
      expect(await exited).toBe(0);
      expect(err).toMatch(/SIGTERM: draining/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
