// bench/make-llama-checkpoint.ts and bench/target-bench.ts on the CPU (the tiny shape): the checkpoint loads
// through loadTarget, the benchmark runs every row, and its floors are the byte and FLOP counts written out
// here by hand (and at the 8B shape, the numbers bench/NOTES.md predicts from).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeFloor, kvBytesPerPosition, prefillFloor, stepWeightBytes, stepWeightBytesFp8 } from '../../../bench/target-floors.ts';
import { llamaConfigJson } from '../../../bench/make-llama-checkpoint.ts';
import { parseLlamaConfig } from '../../../runtime/checkpoint/llama-config.ts';
import { loadTarget } from '../../../runtime/target/target-model.ts';
import { greedyTrace } from '../../../bench/target-steps.ts';
import { tempDir } from './helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const node = (args: string[]): string => execFileSync(path.join(ROOT, 'node_modules/.bin/node'), args, { cwd: ROOT, encoding: 'utf8' });

describe('target benchmark scripts', () => {
  it('floors at the Llama-3.1-8B shape are the hand-counted bytes and FLOPs', () => {
    const c = parseLlamaConfig(llamaConfigJson('8b'), 'config.json');
    // per layer: qkv 6144·4096 + o 4096·4096 + gate_up 28672·4096 + down 4096·14336 = 218,103,808 weights
    const weights = 2 * (32 * 218_103_808 + 65 * 4096 + 128256 * 4096);
    expect(stepWeightBytes(c)).toBe(weights);
    expect(weights).toBe(15_009_849_344);
    expect(kvBytesPerPosition(c, 2)).toBe(2 * 32 * 8 * 128 * 2); // K and V, 32 layers, 8 heads × 128, bf16
    const f = decodeFloor(c, 64, 4, 8192, 4200);
    expect(f.kvReadBytes).toBe(64 * 8192 * 131072); // 68.7 GB
    expect(f.kvWriteBytes).toBe(64 * 4 * 131072);
    expect(f.embedBytes).toBe(64 * 4 * 4096 * 2);
    expect(f.bytes).toBe(weights + 64 * 8192 * 131072 + 64 * 4 * 131072 + 64 * 4 * 8192);
    expect(f.ms).toBeCloseTo(f.bytes / 4.2e12 * 1e3, 9);
    expect(decodeFloor(c, 1, 1, 1024, 4200).ms).toBeCloseTo((weights + 1024 * 131072 + 131072 + 8192) / 4.2e9, 9);
    const p = prefillFloor(c, 2048, 1, 1000);
    expect(p.linearFlops).toBe(2 * 2048 * 32 * 218_103_808);
    expect(p.headFlops).toBe(2 * 128256 * 4096);
    expect(p.attentionFlops).toBe(4 * 32 * 128 * (2048 * 2049 / 2) * 32);
    expect(p.ms).toBeCloseTo(p.flops / 1e15 * 1e3, 9);
    expect(prefillFloor(c, 2048, 8, 1000).flops).toBe(8 * p.flops);
  });

  it('fp8 floors at the Llama-3.1-8B shape: projections and the untied head at 1 byte a weight + 4 a row, norms bf16', () => {
    const c = parseLlamaConfig(llamaConfigJson('8b'), 'config.json');
    // per layer 218,103,808 weights in 6144 + 4096 + 28672 + 4096 = 43,008 rows; the head 128256 rows
    const fp8 = 32 * (218_103_808 + 4 * 43_008) + 2 * 65 * 4096 + (128256 * 4096 + 4 * 128256);
    expect(stepWeightBytesFp8(c)).toBe(fp8);
    expect(fp8).toBe(7_511_208_960);
    const f = decodeFloor(c, 1, 1, 1024, 4200, 2, 2, 'fp8');
    expect(f.weightBytes).toBe(fp8);
    expect(f.bytes).toBe(fp8 + 1024 * 131072 + 131072 + 8192); // the gathered embedding row stays bf16
    expect(f.ms / decodeFloor(c, 1, 1, 1024, 4200).ms).toBeCloseTo(0.505, 3);
    // a tied head is the bf16 embedding table
    expect(stepWeightBytesFp8({ ...c, tieWordEmbeddings: true })).toBe(fp8 - (128256 * 4096 + 4 * 128256) + 2 * 128256 * 4096);
  });

  it('target-bench --quantize fp8 --agreement: fp8 floors, fp8 on both backends of the check, the agreement report', () => {
    const dir = path.join(tempDir(), 'tiny');
    node(['bench/make-llama-checkpoint.ts', dir, '--shape', 'tiny']);
    const r = JSON.parse(node(['bench/target-bench.ts', '--device', 'cpu', '--model', dir, '--batches', '1', '--qs', '1', '--contexts', '8', '--reps', '1',
      '--prefill-tokens', '8', '--prefill-batches', '0', '--check-model', dir, '--quantize', 'fp8', '--agreement', '100', '--agreement-streams', '2', '--json']));
    expect(r.errors).toBe(0);
    expect(r.quantize).toBe('fp8');
    expect(r.load.description).toMatch(/fp8 e4m3 projection and LM head weights/);
    // tiny: per layer 43,008 weights in 128 + 64 + 320 + 64 = 576 rows; head 512 × 64
    expect(r.rows[0].floor.weightBytes).toBe(2 * (43_008 + 4 * 576) + 2 * 5 * 64 + 512 * 64 + 4 * 512);
    expect(r.checks.cpuTruncated.checked).toMatch(/fp8 weights/);
    expect(r.agreement.model).toMatchObject({ steps: 100, positions: '2 streams of 50–50 tokens: positions 0…49' });
    expect(r.agreement.model.agreement).toBeGreaterThan(0.5);
    expect(r.agreement.model.byMargin.map((m: { below: number }) => m.below)).toEqual([1e-3, 1e-2, 1e-1]);
    expect(() => node(['bench/target-bench.ts', '--device', 'cpu', '--model', dir, '--quantize', 'fp4'])).toThrow(/--quantize: one of none, fp8, got fp4/);
  });

  it('make-llama-checkpoint --shape tiny loads through loadTarget on the CPU and runs', async () => {
    const dir = path.join(tempDir(), 'tiny');
    const out = node(['bench/make-llama-checkpoint.ts', dir, '--shape', 'tiny', '--layers', '3', '--max-shard-bytes', '150000']);
    expect(out).toMatch(/wrote .* 30 tensors, .* in 3 shards/);
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']));
    const t = await loadTarget({ model: dir, device: 'cpu', maxNumSeqs: 2, maxModelLen: 32, kvDtype: 'bf16' });
    try {
      expect(t.config).toMatchObject({ numLayers: 3, hiddenSize: 64, numKvHeads: 2, headDim: 16, vocabSize: 512 });
      const s = t.newSequence();
      const r = await t.forward([{ seq: s, tokens: [1, 2, 3, 4], want: 'all' }], { logits: true });
      expect(r[0].nextTokens).toHaveLength(4);
      expect(r[0].logits!.every(Number.isFinite)).toBe(true);
    } finally {
      t.close();
    }
    expect(() => node(['bench/make-llama-checkpoint.ts', dir, '--shape', 'huge'])).toThrow(/--shape: expected 8b or tiny/);
  });

  it('target-bench --device cpu runs every row; its JSON floors are the explicit byte counts', () => {
    const dir = path.join(tempDir(), 'tiny');
    node(['bench/make-llama-checkpoint.ts', dir, '--shape', 'tiny']);
    const file = path.join(path.dirname(dir), 'bench.json');
    const stdout = node(['bench/target-bench.ts', '--device', 'cpu', '--model', dir, '--batches', '1,2', '--qs', '1,4', '--contexts', '8', '--reps', '2',
      '--prefill-tokens', '8', '--prefill-batches', '2', '--check-model', dir, '--out', file, '--json']);
    const r = JSON.parse(stdout);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(r);
    expect(r.errors).toBe(0);
    expect(r.load.peakRssGB).toBeGreaterThan(0);
    expect(r.rows.map((x: { B: number; q: number; context: number }) => [x.B, x.q, x.context])).toEqual([[1, 1, 8], [1, 4, 8], [2, 1, 8], [2, 4, 8]]);
    // tiny: H 64, I 160, 2 layers, 4 heads / 2 KV heads × 16, V 512. Per layer 8·16·64 + 64·64 + 320·64 + 64·160 = 43,008
    const weights = 2 * (2 * 43_008 + 5 * 64 + 512 * 64);
    const kvPos = 2 * 2 * 2 * 16 * 2; // K+V × layers × KV heads × head dim × bf16
    for (const row of r.rows) {
      expect(row.ms).toBeGreaterThan(0);
      expect(row.floor.weightBytes).toBe(weights);
      expect(row.floor.kvReadBytes).toBe(row.B * 8 * kvPos);
      expect(row.floor.kvWriteBytes).toBe(row.B * row.q * kvPos);
      expect(row.floor.bytes).toBe(weights + row.B * 8 * kvPos + row.B * row.q * kvPos + row.B * row.q * 64 * 2);
      expect(row.floor.ms).toBeCloseTo(row.floor.bytes / (r.copy.gbpsReadPlusWrite * 1e9) * 1e3, 9);
      expect(row.ofFloor).toBeCloseTo(row.ms / row.floor.ms, 9);
    }
    expect(r.prefill).toHaveLength(1);
    expect(r.prefill[0]).toMatchObject({ B: 2, T: 8, floor: null });
    expect(r.prefill[0].tokPerS).toBeGreaterThan(0);
    expect(r.checks.cpuTruncated).toMatchObject({ steps: 4, agreed: 4 - r.checks.cpuTruncated.skippedLowMargin, hiddenRelL2Max: 0 });
    expect(r.checks.peerTokens).toEqual({ skipped: 'no --peer file' });
  });

  it('target-bench reads peer_target.py\'s JSON: peer columns, its tensor-core rate, the reference token check', async () => {
    const dir = path.join(tempDir(), 'tiny');
    node(['bench/make-llama-checkpoint.ts', dir, '--shape', 'tiny']);
    // the reference: our own CPU greedy trace (so it agrees), in the peer's format
    const t = await loadTarget({ model: dir, device: 'cpu', maxNumSeqs: 1, maxModelLen: 32, kvDtype: 'bf16' });
    const prompt = [5, 6, 7, 8, 9];
    let ref;
    try { ref = await greedyTrace(t, prompt, 5, true); } finally { t.close(); }
    const peer = {
      torch: '2.x', gpu: 'test', impl: 'graph', tensor_core: { tflops: 500, what: 'test' }, copy: { gbps_read_plus_write: 1 },
      rows: [{ B: 2, q: 1, context: 8, ms: 0.25, impl: 'graph' }], prefill: [{ B: 2, T: 8, ms: 1, tok_s: 16000 }],
      reference: { prompt, tokens: ref.tokens, margins: ref.margins },
    };
    const pf = path.join(path.dirname(dir), 'peer.json');
    fs.writeFileSync(pf, JSON.stringify(peer));
    const args = ['bench/target-bench.ts', '--device', 'cpu', '--model', dir, '--batches', '2', '--qs', '1', '--contexts', '8', '--reps', '1', '--prefill-tokens', '8', '--prefill-batches', '2', '--peer', pf, '--json'];
    const r = JSON.parse(node(args));
    expect(r.errors).toBe(0);
    expect(r.rows[0]).toMatchObject({ peerMs: 0.25, peerImpl: 'graph' });
    expect(r.rows[0].vsPeer).toBeCloseTo(r.rows[0].ms / 0.25, 9);
    expect(r.tensorCore).toEqual({ tflops: 500, source: 'measured by the peer: test' });
    expect(r.prefill[0].floor.ms).toBeCloseTo(prefillFloor(parseLlamaConfig(llamaConfigJson('tiny'), 'c'), 8, 2, 500).ms, 12);
    expect(r.prefill[0].vsPeer).toBeCloseTo(r.prefill[0].tokPerS / 16000, 9);
    expect(r.checks.peerTokens).toMatchObject({ steps: 6, compared: 6 - r.checks.peerTokens.skippedLowMargin, agreed: 6 - r.checks.peerTokens.skippedLowMargin });
    // a reference token that differs where the peer's margin is large fails the run
    const i = ref.margins.findIndex((m) => m >= 0.05);
    expect(i).toBeGreaterThanOrEqual(0);
    peer.reference.tokens = ref.tokens.map((x, j) => (j === i ? (x + 1) % 512 : x));
    fs.writeFileSync(pf, JSON.stringify(peer));
    let out = '';
    try { node(args); } catch (e) { out = (e as { stdout: string }).stdout; }
    const bad = JSON.parse(out);
    expect(bad.errors).toBe(1);
    expect(bad.checks.peerTokens.error).toMatch(new RegExp(`step ${i}: our token`));
  });

  it('target-bench names what is wrong', () => {
    expect(() => node(['bench/target-bench.ts', '--device', 'cpu'])).toThrow(/--model DIR is required/);
    expect(() => node(['bench/target-bench.ts', '--device', 'cpu', '--model', tempDir()])).toThrow(/config.json/);
    expect(node(['bench/target-bench.ts', '--help'])).toMatch(/decode\/verify/);
  });
});
