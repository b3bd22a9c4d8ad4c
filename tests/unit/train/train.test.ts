// A tiny CPU training run through the CLI: the loss goes down, an interrupted run resumes bit for bit,
// the export loads and proposes; bad inputs fail before training with a clear message.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../bin/commands/main.ts';
import { loadSpeculator } from '../../../runtime/speculator.ts';
import { loadCheckpoint } from '../../../runtime/checkpoint/index.ts';
import { fillBatch, loadData, rowsPerSequence } from '../../../runtime/train/data.ts';

const FIX = path.resolve('tests/fixtures/target');
const TARGET = path.join(FIX, 'pycode-small');
const PROMPTS = path.join(FIX, 'data', 'train-prompts.u16');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'arcticc-train-'));
const cache = path.join(tmp, 'data-cache');

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(args, { out: (s) => { out += `${s}\n`; }, err: (s) => { err += `${s}\n`; } });
  return { code, out, err };
}
const base = (out: string, extra: string[] = []): string[] => [
  'train', '--target', TARGET, '--arch', 'lstm', '--prompts', PROMPTS, '--out', out, '--num-prompts', '4', '--gen-len', '12',
  '--width', '16', '--batch', '2', '--steps', '8', '--lr', '1e-2', '--device', 'cpu', '--max-num-seqs', '4', '--data-cache', cache, '--json', ...extra,
];

let full: { losses: number[] };
beforeAll(async () => {
  const r = await cli(base(path.join(tmp, 'a')));
  if (r.code !== 0) throw new Error(r.out + r.err);
  full = JSON.parse(r.out);
}, 60_000);

describe('arcticc train on the CPU (fixture target, tiny drafter)', () => {
  it('lowers the loss', () => {
    expect(full.losses).toHaveLength(8);
    const head = (full.losses[0] + full.losses[1]) / 2, tail = (full.losses[6] + full.losses[7]) / 2;
    expect(tail).toBeLessThan(head - 0.3);
  });

  it('an interrupted run resumes bit for bit (same losses, same export bytes)', async () => {
    const b = path.join(tmp, 'b');
    const r1 = await cli(base(b, ['--stop-after', '3']));
    expect(r1.code, r1.err).toBe(0);
    expect(fs.existsSync(path.join(b, 'model.safetensors'))).toBe(false);
    const r2 = await cli(base(b, ['--resume', b]));
    expect(r2.code, r2.err).toBe(0);
    const res = JSON.parse(r2.out);
    expect(res.resumed_from).toBe(3);
    expect([...JSON.parse(r1.out).losses, ...res.losses]).toEqual(full.losses);
    expect(fs.readFileSync(path.join(b, 'model.safetensors')).equals(fs.readFileSync(path.join(tmp, 'a', 'model.safetensors')))).toBe(true);
  });

  it('exports ArcticTraining names and config; loadSpeculator loads it and proposes', async () => {
    const dir = path.join(tmp, 'a');
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ architectures: ['ArcticLSTMSpeculatorPreTrainedModel'], method: 'sum_lstm', proj_dim: '16', n_predict: 3, vocab_size: 4096, input_hidden_dim: 256 });
    const ck = loadCheckpoint(dir, { quiet: true });
    expect(ck.config.kind).toBe('lstm');
    const spec = await loadSpeculator({ model: dir, device: 'cpu', quiet: true });
    const draft = await spec.propose({ hidden: new Float32Array(2 * 256).fill(0.1), tokens: Int32Array.of(5, 77) });
    expect(draft).toHaveLength(6);
    for (const t of draft) expect(t >= 0 && t < 4096).toBe(true);
    spec.close();
  });

  it('the MLP and the GRU example train with no drafter-specific code', async () => {
    for (const arch of ['mlp', path.resolve('examples/drafters/gru-drafter.ts')]) {
      const out = path.join(tmp, `arch-${path.basename(arch)}`);
      const args = base(out).map((a) => (a === 'lstm' ? arch : a));
      args[args.indexOf('--steps') + 1] = '3';
      const r = await cli(args);
      expect(r.code, r.out + r.err).toBe(0);
      expect(JSON.parse(r.out).losses).toHaveLength(3);
    }
    const gru = path.join(tmp, 'arch-gru-drafter.ts');
    const spec = await loadSpeculator({ model: gru, program: path.resolve('examples/drafters/gru-drafter.ts'), device: 'cpu', quiet: true });
    expect(await spec.propose({ hidden: new Float32Array(256), tokens: Int32Array.of(1) })).toHaveLength(3);
    spec.close();
  }, 30_000);
});

describe('labels', () => {
  it('the cache records the target\'s argmax after every position; --labels greedy trains on it', async () => {
    const meta = JSON.parse(fs.readFileSync(path.join(cache, 'cache.json'), 'utf8'));
    const d = loadData(cache, meta.key)!;
    expect(d.greedy.length).toBe(d.tokens.length);
    // at temperature 1 the sampled continuation differs from the argmax somewhere, and equals it mostly
    let same = 0, n = 0;
    for (let s = 0; s < d.count; s++) for (let t = d.promptLen - 1; t < d.seqLen - 1; t++, n++) same += Number(d.greedy[s * d.seqLen + t] === d.tokens[s * d.seqLen + t + 1]);
    expect(same).toBeGreaterThan(0);
    expect(same).toBeLessThan(n);
    const R = rowsPerSequence(d, 3);
    const mk = () => ({ hidden: new Uint16Array(R * d.hiddenSize), tokens: new Int32Array(R), labels: new Int32Array(R * 3) });
    const a = mk(), b = mk();
    fillBatch(d, [1], 3, a, 'sampled');
    fillBatch(d, [1], 3, b, 'greedy');
    expect(a.tokens).toEqual(b.tokens);
    expect(a.hidden).toEqual(b.hidden);
    const L = d.seqLen, t0 = d.promptLen - 1;
    for (let r = 0; r < R; r++) for (let k = 0; k < 3; k++) {
      expect(a.labels[r * 3 + k]).toBe(d.tokens[L + t0 + r + 2 + k]);
      expect(b.labels[r * 3 + k]).toBe(d.greedy[L + t0 + r + 1 + k]);
    }
    const r = await cli([...base(path.join(tmp, 'greedy')), '--labels', 'greedy']);
    expect(r.code, r.out + r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.labels).toBe('greedy');
    expect(j.data_cached).toBe(true);
    expect(j.losses[j.losses.length - 1]).toBeLessThan(j.losses[0]);
    // a resume must keep the label source
    const bad = await cli([...base(path.join(tmp, 'bad-labels')), '--resume', path.join(tmp, 'a'), '--labels', 'greedy']);
    expect(bad.code).toBe(1);
    expect(bad.out + bad.err).toContain('--labels sampled');
  }, 60_000);
});

describe('bad input fails before training', () => {
  const write = (name: string, bytes: Uint8Array): string => { const f = path.join(tmp, name); fs.writeFileSync(f, bytes); return f; };
  const ids = (xs: number[]): Uint8Array => new Uint8Array(Uint16Array.from(xs).buffer);
  const run = (args: string[]) => cli(args);
  it.each([
    ['ids outside the vocabulary', () => ['--prompts', write('oov.u16', ids([...Array(64).fill(3).map((x, i) => (i === 10 ? 5000 : x))]))], 'row 0, token 10 is 5000, outside the target\'s vocabulary [0, 4096)'],
    ['an empty prompts file', () => ['--prompts', write('empty.u16', new Uint8Array(0))], 'empty (expected rows of 64'],
    ['a truncated prompts file', () => ['--prompts', write('trunc.u16', new Uint8Array(130))], 'is not a whole number of 64-token rows'],
    ['a width the architecture cannot take', () => ['--width', '0'], '--width must be a positive integer, got 0'],
    ['an n-predict the MLP cannot take', () => ['--arch', 'mlp', '--n-predict', '1'], 'needs n_predict ≥ 2'],
    ['an unknown arch', () => ['--arch', 'transformer'], '--arch must be lstm, mlp or a DSL drafter file'],
    ['a resume folder from another architecture', () => ['--arch', 'mlp', '--resume', path.join(tmp, 'a')], 'the checkpoint trains --arch lstm, this run asks for mlp'],
    ['a resume folder with another width', () => ['--width', '8', '--resume', path.join(tmp, 'a')], 'differs from this run'],
  ])('%s', async (_what, extra, message) => {
    const args = base(path.join(tmp, 'bad'));
    const e = extra();
    for (let i = 0; i < e.length; i += 2) {
      const at = args.indexOf(e[i]);
      if (at >= 0) args[at + 1] = e[i + 1]; else args.push(e[i], e[i + 1]);
    }
    const t0 = performance.now();
    const r = await run(args);
    expect(r.code).toBe(1);
    expect(r.out + r.err).toContain(message);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(fs.existsSync(path.join(tmp, 'bad', 'checkpoint'))).toBe(false);
  });
  it('a resume folder from another target', async () => {
    const d = path.join(tmp, 'a', 'checkpoint');
    const other = path.join(tmp, 'other-target');
    fs.cpSync(path.join(tmp, 'a'), other, { recursive: true });
    const f = path.join(other, 'checkpoint', 'train-state.json');
    const m = JSON.parse(fs.readFileSync(f, 'utf8'));
    m.target.name = 'llama-8b';
    fs.writeFileSync(f, JSON.stringify(m));
    void d;
    const r = await run([...base(path.join(tmp, 'bad')), '--resume', other]);
    expect(r.code).toBe(1);
    expect(r.out + r.err).toContain('was trained for target');
  });
});

describe('arcticc eval-acceptance', () => {
  it('measures the fixture speculator on a dev prompt (CPU subset)', async () => {
    const r = await cli(['eval-acceptance', '--target', TARGET, '--speculator', path.join(FIX, 'pycode-small-lstm'), '--prompts', path.join(FIX, 'data', 'dev-prompts.json'), '--num-prompts', '1', '--gen-len', '24', '--device', 'cpu', '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.positions).toBe(21);
    expect(j.acceptance_length).toBeGreaterThanOrEqual(1);
    expect(j.acceptance_length).toBeLessThanOrEqual(4);
  }, 30_000);
});
