// propose with device pointers (bigint) for hidden states and tokens, as a serving stack passes them:
// the extents are checked against the allocations, device tokens are range-checked, and the CPU refuses.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineProgram } from '../../../dsl/index.ts';
import { createCpuBackend } from '../../../runtime/cpu/backend.ts';
import { createCudaBackend } from '../../../runtime/cuda/backend.ts';
import type { CudaDevice } from '../../../runtime/cuda/device.ts';
import { openDevice, resetDeviceRegistry } from '../../../runtime/cuda/device.ts';
import { speculatorOver } from '../../../runtime/speculator.ts';
import type { Speculator } from '../../../runtime/speculator.ts';
import { FakeCuda } from './fake-driver.ts';
import { registerToyKernel, toySpeculatorPlan } from './plans.ts';

let fake: FakeCuda;
let dev: CudaDevice;
const V = 1000;
// the toy plan: hidden [B,2] f32, tokens [B] i32 → draft [B,3] = token + j (+100 if hidden[b,0] > 0)
const program = defineProgram('toy_spec', { H: 2 }, (p) => { p.output('draft', p.input('tokens', ['B'], 'i32')); });
const want = (tokens: number[], hidden: number[]) => tokens.flatMap((t, b) => [0, 1, 2].map((j) => t + j + (hidden[b * 2] > 0 ? 100 : 0)));

function cudaSpeculator(maxBatch = 4, clampTokens = false): Speculator {
  const backend = createCudaBackend(toySpeculatorPlan(4), new Map(), { driver: fake });
  return speculatorOver(backend, { config: null, program, hiddenSize: 2, vocabSize: V, nPredict: 3, maxBatch, clampTokens, description: backend.description });
}

/** A device allocation holding `data` (f32 or i32), as the serving stack's tensors would be. */
function onDevice(data: Float32Array | Int32Array, extraBytes = 0): bigint {
  const out = new BigUint64Array(1);
  expect(fake.cuMemAlloc_v2(out, data.byteLength + extraBytes)).toBe(0);
  fake.mem(out[0], data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return out[0];
}

beforeEach(() => {
  resetDeviceRegistry();
  fake = new FakeCuda();
  registerToyKernel(fake);
  dev = openDevice({ driver: fake });
});
afterEach(() => { dev.release(); });

describe('propose with device pointers', () => {
  it('takes hidden and tokens from device memory (copied device to device), same drafts as host arrays', async () => {
    const spec = cudaSpeculator();
    const hidden = [1, 0, -1, 0, 2, 0], tokens = [10, 20, 30];
    const h = onDevice(Float32Array.from(hidden)), t = onDevice(Int32Array.from(tokens));
    expect([...await spec.propose({ hidden: h, tokens: t, batch: 3 })]).toEqual(want(tokens, hidden));
    expect(fake.calls).toContain('cuMemcpyDtoDAsync_v2');
    // mixed: device hidden, host tokens
    expect([...await spec.propose({ hidden: h, tokens: Int32Array.from(tokens) })]).toEqual(want(tokens, hidden));
    expect([...await spec.propose({ hidden: Float32Array.from(hidden), tokens: Int32Array.from(tokens) })]).toEqual(want(tokens, hidden));
    spec.close();
  });

  it('checks each pointer against its allocation, as host arrays are checked against B×H', async () => {
    const spec = cudaSpeculator();
    const h = onDevice(new Float32Array(4)); // room for B=2 rows of H=2
    const t = onDevice(Int32Array.of(1, 2, 3));
    await expect(spec.propose({ hidden: h, tokens: t, batch: 3 })).rejects.toThrow(/hidden \(B×H = 3×2 f32\) \(0x[0-9a-f]+\) needs 24 bytes, but its allocation holds 16 bytes/);
    await expect(spec.propose({ hidden: h + 8n, tokens: t, batch: 2 })).rejects.toThrow(/needs 16 bytes, but its allocation holds 8 bytes from that address/);
    await expect(spec.propose({ hidden: 0x1234n, tokens: t, batch: 2 })).rejects.toThrow(/hidden .*\(0x1234\) is not device memory of this context.*CUDA_ERROR_NOT_FOUND/);
    await expect(spec.propose({ hidden: h, tokens: t + 8n, batch: 2 })).rejects.toThrow(/tokens \(B = 2 int32\) .* needs 8 bytes, but its allocation holds 4 bytes/);
    await expect(spec.propose({ hidden: h, tokens: t })).rejects.toThrow(/batch \(B\) is required/);
    await expect(spec.propose({ hidden: h, tokens: Int32Array.of(1, 2), batch: 3 })).rejects.toThrow('batch is 3 but tokens has 2 values');
    await expect(spec.propose({ hidden: h, tokens: t, batch: 5 })).rejects.toThrow('batch 5 exceeds maxBatch 4');
    spec.close();
  });

  it('range-checks device tokens (or clamps and reports them with clampTokens)', async () => {
    const h = onDevice(Float32Array.of(1, 0, 1, 0));
    const t = onDevice(Int32Array.of(5, V + 7));
    const strict = cudaSpeculator();
    await expect(strict.propose({ hidden: h, tokens: t, batch: 2 })).rejects.toThrow(`token ${V + 7} in row 1 is outside [0, ${V})`);
    strict.close();
    const clamped: unknown[] = [];
    const backend = createCudaBackend(toySpeculatorPlan(4), new Map(), { driver: fake });
    const spec = speculatorOver(backend, { config: null, program, hiddenSize: 2, vocabSize: V, nPredict: 3, maxBatch: 4, clampTokens: true, onClamp: (c) => clamped.push(...c), description: '' });
    expect([...await spec.propose({ hidden: h, tokens: t, batch: 2 })]).toEqual(want([5, V - 1], [1, 0, 1, 0]));
    expect(clamped).toEqual([{ row: 1, token: V + 7, to: V - 1 }]);
    spec.close();
  });

  it('the CPU backend refuses device pointers with the reason', async () => {
    const spec = speculatorOver(createCpuBackend(program.graph, new Map(), 2), { config: null, program, hiddenSize: 2, vocabSize: V, nPredict: 3, maxBatch: 4, description: 'cpu' });
    await expect(spec.propose({ hidden: 0x10n, tokens: Int32Array.of(1) })).rejects.toThrow('device pointers (bigint) need the CUDA backend; this speculator runs on the CPU');
  });

  it('maxBatch is enforced before the backend, the same on the CPU and CUDA', async () => {
    const cuda = cudaSpeculator(2);
    const cpu = speculatorOver(createCpuBackend(program.graph, new Map(), 2), { config: null, program, hiddenSize: 2, vocabSize: V, nPredict: 3, maxBatch: 2, description: 'cpu' });
    for (const s of [cuda, cpu]) await expect(s.propose({ hidden: new Float32Array(6), tokens: Int32Array.of(1, 2, 3) })).rejects.toThrow('batch 3 exceeds maxBatch 2');
    cuda.close();
  });
});
