// The real server on the CPU backend, on 127.0.0.1 with an ephemeral port: the fixture target with its
// Arctic LSTM + suffix speculator, short max-model-len so prefill and decode stay cheap.
import { request } from 'node:http';
import type { Engine } from '../../../runtime/engine/load-engine.ts';
import { loadEngine } from '../../../runtime/engine/load-engine.ts';
import type { RunningServer, ServeOptions } from '../../../runtime/serve/index.ts';
import { startServer } from '../../../runtime/serve/index.ts';
import { Tokenizer } from '../../../runtime/tokenizer/index.ts';
import { SPECULATOR_DIR, TARGET_DIR } from '../../support/target.ts';

export const MODEL = 'pycode-small';
export const SPEC_CONFIG = { method: 'arctic', model: SPECULATOR_DIR, num_speculative_tokens: 3, enable_suffix_decoding: true };

export async function loadFixture(o: { maxModelLen?: number; maxNumSeqs?: number } = {}): Promise<{ engine: Engine; tokenizer: Tokenizer }> {
  const [engine, tokenizer] = await Promise.all([
    loadEngine({ model: TARGET_DIR, device: 'cpu', maxModelLen: o.maxModelLen ?? 128, maxNumSeqs: o.maxNumSeqs ?? 16, quiet: true, speculativeConfig: SPEC_CONFIG }),
    Tokenizer.fromDir(TARGET_DIR),
  ]);
  return { engine, tokenizer };
}

export function serveFixture(f: { engine: Engine; tokenizer: Tokenizer }, o: Partial<ServeOptions> = {}): Promise<RunningServer> {
  return startServer({
    engine: f.engine.engine, tokenizer: f.tokenizer, modelPath: TARGET_DIR, modelName: MODEL, host: '127.0.0.1', port: 0,
    processMetrics: false, version: 'test', ...o,
  });
}

export interface RawResponse { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: () => any }

/** One raw HTTP request (node:http, so oversize bodies and bad JSON go out exactly as written). */
export function raw(url: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, url);
    const req = request(u, { method, headers: { ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Poll until `cond` holds (the engine frees cancelled slots at its next step boundary). */
export async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
