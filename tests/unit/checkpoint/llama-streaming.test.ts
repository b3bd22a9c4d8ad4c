// Streaming a Llama checkpoint to a device: openLlamaCheckpoint's on-demand reads (merged qkv / gate_up
// read part by part, at any offset) give the bytes loadLlamaCheckpoint materializes, and uploadWeights moves
// streamed weights through two staging chunks to the right device offsets (a fake device records the copies
// and the pinned memory held), so host memory is the two chunks whatever the checkpoint's size.
import { describe, expect, it } from 'vitest';
import { bytesOf } from '../../../runtime/checkpoint/raw-tensor.ts';
import { loadLlamaCheckpoint, openLlamaCheckpoint } from '../../../runtime/checkpoint/load-llama.ts';
import type { CudaDevice } from '../../../runtime/cuda/device.ts';
import { uploadWeights } from '../../../runtime/cuda/weight-upload.ts';
import { llamaConfigJson, planShards, writeLlamaCheckpoint } from '../../../bench/make-llama-checkpoint.ts';
import { parseLlamaConfig } from '../../../runtime/checkpoint/llama-config.ts';
import { tempDir } from './helpers.ts';

function tinyCheckpoint(): string {
  const dir = `${tempDir()}/tiny`;
  writeLlamaCheckpoint(dir, { shape: 'tiny', maxShardBytes: 100_000 });
  return dir;
}

/** A device whose memory is a map of byte arrays: records every copy and the pinned bytes held at once. */
function fakeDevice(): { dev: CudaDevice; mem: Map<bigint, Uint8Array>; peakPinned: () => number; pinnedNow: () => number; copies: number[] } {
  const mem = new Map<bigint, Uint8Array>();
  let pinned = 0, peak = 0;
  const copies: number[] = [];
  const find = (p: bigint): [Uint8Array, number] => {
    for (const [base, buf] of mem) if (p >= base && p < base + BigInt(buf.byteLength)) return [buf, Number(p - base)];
    throw new Error(`no device buffer at ${p}`);
  };
  const dev = {
    health: { poisonedBy: null }, stream: null,
    memory: {
      allocPinned: (n: number) => { pinned += n; peak = Math.max(peak, pinned); const view = new ArrayBuffer(n); return { ptr: view, bytes: n, view }; },
      freePinned: (b: { bytes: number }) => { pinned -= b.bytes; },
      upload: (p: bigint, src: Uint8Array | Uint16Array, n: number) => { const [buf, at] = find(p); buf.set(new Uint8Array(src.buffer, src.byteOffset, n), at); },
    },
    synchronize: () => undefined,
    cu: (name: string, dst: bigint, src: ArrayBuffer, n: number) => {
      expect(name).toBe('cuMemcpyHtoDAsync_v2');
      const [buf, at] = find(dst);
      buf.set(new Uint8Array(src, 0, n), at);
      copies.push(n);
    },
  } as unknown as CudaDevice;
  return { dev, mem, peakPinned: () => peak, pinnedNow: () => pinned, copies };
}

describe('streaming a Llama checkpoint', () => {
  it('make-llama-checkpoint writes the Llama-3.1-8B config and shards as save_pretrained does', () => {
    const c = parseLlamaConfig(llamaConfigJson('8b'), 'config.json');
    expect(c).toMatchObject({ hiddenSize: 4096, intermediateSize: 14336, numLayers: 32, numHeads: 32, numKvHeads: 8, headDim: 128, vocabSize: 128256, rmsNormEps: 1e-5, tieWordEmbeddings: false });
    expect(c.rope).toEqual({ theta: 500000, type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    // the same rope without rope_parameters (Meta's file: rope_theta + rope_scaling)
    const { rope_parameters: _, ...old } = llamaConfigJson('8b');
    expect(parseLlamaConfig(old, 'config.json').rope).toEqual(c.rope);
    expect(planShards([3, 3, 3, 1], 6)).toEqual([[0, 1], [2, 3]]);
    expect(planShards([7, 1], 6)).toEqual([[0], [1]]);
  });

  it('on-demand reads equal the materialized weights, at any offset, across a sharded index', () => {
    const dir = tinyCheckpoint();
    const full = loadLlamaCheckpoint(dir, { quiet: true });
    const opened = openLlamaCheckpoint(dir, { quiet: true });
    try {
      expect(opened.files.filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(1);
      expect([...opened.weights.keys()]).toEqual([...full.weights.keys()]);
      for (const [name, w] of opened.weights) {
        const want = bytesOf(full.weights.get(name)!);
        expect(w.byteLength).toBe(want.byteLength);
        expect([w.dtype, w.shape]).toEqual([full.weights.get(name)!.dtype, full.weights.get(name)!.shape]);
        // odd-sized pieces cross the q/k/v and gate/up part boundaries
        const got = new Uint8Array(w.byteLength);
        for (let at = 0; at < got.byteLength; at += 1001) w.read(got.subarray(at, Math.min(at + 1001, got.byteLength)), at);
        expect(Buffer.from(got).equals(Buffer.from(want)), name).toBe(true);
      }
      expect(() => opened.weights.get('model.norm.weight')!.read(new Uint8Array(4), 1 << 20)).toThrow(/outside/);
    } finally {
      opened.close();
    }
    expect(() => opened.weights.get('model.norm.weight')!.read(new Uint8Array(2), 0)).toThrow(/closed/);
  });

  it('uploadWeights streams through two chunks to the right device offsets', () => {
    const dir = tinyCheckpoint();
    const full = loadLlamaCheckpoint(dir, { quiet: true });
    const opened = openLlamaCheckpoint(dir, { quiet: true });
    const { dev, mem, peakPinned, pinnedNow, copies } = fakeDevice();
    try {
      let next = 1n << 32n;
      const uploads = [...opened.weights].map(([name, w]) => {
        const p = next;
        next += BigInt(w.byteLength) + 4096n;
        mem.set(p, new Uint8Array(w.byteLength));
        return [p, w, name] as const;
      });
      uploadWeights(dev, uploads.map(([p, w]) => [p, w] as const), 4096);
      expect(peakPinned()).toBe(2 * 4096);
      expect(pinnedNow()).toBe(0);
      expect(Math.max(...copies)).toBe(4096);
      for (const [p, , name] of uploads) expect(Buffer.from(mem.get(p)!).equals(Buffer.from(bytesOf(full.weights.get(name)!))), name).toBe(true);
    } finally {
      opened.close();
    }
  });

  it('a read failure mid-upload propagates and the staging is freed', () => {
    const dir = tinyCheckpoint();
    const opened = openLlamaCheckpoint(dir, { quiet: true });
    const { dev, mem, peakPinned, pinnedNow } = fakeDevice();
    const w = opened.weights.get('model.embed_tokens.weight')!;
    mem.set(1n << 32n, new Uint8Array(w.byteLength));
    opened.close(); // reads now fail
    expect(() => uploadWeights(dev, [[1n << 32n, w]], 4096)).toThrow(/closed/);
    expect(peakPinned()).toBe(2 * 4096);
    expect(pinnedNow()).toBe(0);
  });
});
