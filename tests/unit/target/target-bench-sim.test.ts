// target-bench's CUDA path without a GPU: loadTarget({ device: 'cuda' }) on the fake driver
// (tests/unit/cuda/fake-driver.ts), whose kernels are the plan's own PTX run on the PTX machine
// (tests/unit/codegen/ptx-sim), on bench/make-llama-checkpoint.ts's tiny shape. Checks the streamed upload
// (the weights on the fake device equal the files), the random KV fill, and the benchmark's step and prefill
// measurements end to end: graph capture and replay, eager launches, event timing, target.forward; the
// tokens of replay, eager and forward agree, and equal the interpreter's on the same filled cache.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fillKvRandom } from '../../../bench/target-kv-fill.ts';
import { relL2, setLengths, stepInputs, timeCudaStep, timePrefill } from '../../../bench/target-steps.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { addRopeTables } from '../../../runtime/target/target-program.ts';
import { loadLlamaCheckpoint } from '../../../runtime/checkpoint/load-llama.ts';
import type { CudaDevice, OpenDeviceOptions } from '../../../runtime/cuda/device.ts';
import { llamaParam } from '../../../models/llama.ts';
import type { CudaTargetBackend } from '../../../runtime/target/cuda-backend.ts';
import { argmaxRows } from '../../../runtime/target/cpu-backend.ts';
import { loadTarget, targetBackend } from '../../../runtime/target/target-model.ts';
import type { TargetModel } from '../../../runtime/target/target-model.ts';
import { quantizeFp8 } from '../../../runtime/quantize-fp8.ts';
import { targetFp8WeightNames } from '../../../runtime/target/quantize-target.ts';
import { targetWeights } from '../../../runtime/target/target-model.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import type { SimCuda } from '../cuda/sim-cuda.ts';
import { tinySimTarget } from '../cuda/sim-cuda.ts';
import { byKind } from '../../../runtime/cuda/launch-profile.ts';

const fake = vi.hoisted(() => ({ driver: null as unknown }));
vi.mock('../../../runtime/select-device.ts', () => ({ selectDevice: async () => ({ device: 'cuda' }) }));
vi.mock('../../../runtime/cuda/device.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../runtime/cuda/device.ts')>();
  return { ...real, openDevice: (o: OpenDeviceOptions = {}): CudaDevice => real.openDevice({ ...o, driver: fake.driver as OpenDeviceOptions['driver'] }) };
});

describe('target-bench on CUDA, simulated (fake driver + PTX machine, tiny shape)', () => {
  let dir = '';
  let t: TargetModel;
  let sim: SimCuda;
  let remove = (): void => {};
  beforeAll(async () => {
    ({ dir, sim, remove } = tinySimTarget('arcticc-sim-'));
    fake.driver = sim;
    t = await loadTarget({ model: dir, device: 'cuda', kvDtype: 'bf16', maxNumSeqs: 3, maxModelLen: 32, maxBatchTokens: 16, quiet: true });
  }, 120_000);
  afterAll(() => { t?.close(); remove(); });

  it('the streamed weights on the device equal the files', () => {
    const exec = (targetBackend(t) as CudaTargetBackend).executor;
    const files = loadLlamaCheckpoint(dir, { quiet: true }).weights;
    for (const b of exec.plan.buffers) {
      if (b.kind !== 'param' || !files.has(b.name!)) continue;
      const w = files.get(b.name!)!;
      const got = sim.mem(exec.address(b.id), w.data.byteLength);
      expect(Buffer.from(got).equals(Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength)), b.name).toBe(true);
    }
  });

  it('a filled cache, a verify step (replay = eager = forward = the interpreter) and a prefill', async () => {
    const exec = (targetBackend(t) as CudaTargetBackend).executor;
    const f = fillKvRandom(exec);
    expect(f.buffers).toBe(2);
    expect(f.bytes).toBe(2 * 3 * 32 * 2 * 16 * 2); // k and v: 3 slots × 32 positions × 2 KV heads × 16 × bf16
    const key = exec.readState(llamaParam.cache(0, 'key'));
    expect(new Set(key.data as Uint16Array).size).toBeGreaterThan(100);
    const seqs = [t.newSequence(), t.newSequence()];
    setLengths(t, seqs, 5);
    const step = await timeCudaStep(t, exec, seqs, 2, 5, 1, 3, 1);
    expect(step.error).toBeUndefined();
    expect(step.ms).toBeGreaterThan(0);
    expect(step.checked).toMatch(/replay = eager launches = target.forward/);
    expect(seqs.map((s) => s.length)).toEqual([5, 5]);
    // --profile's path: every launch of the step timed, grouped by kernel kind
    const prof = byKind(exec.profile({ N: 4, M: 4 }, 1));
    expect(prof.map((k) => k.kind)).toEqual(expect.arrayContaining(['attention', 'kv_write', 'linear']));
    // the CPU backend on the same weights and the same (filled) cache gives the same tokens
    const inputs = stepInputs(seqs, 2, 5, t.vocabSize, 3);
    const gpu = exec.run(inputs, { outputs: ['next_tokens', 'hidden'] });
    const weights = loadLlamaCheckpoint(dir, { quiet: true }).weights;
    addRopeTables(weights, t.config, t.maxModelLen);
    const caches = Object.fromEntries([llamaParam.cache(0, 'key'), llamaParam.cache(0, 'value')].map((n) => [n, exec.readState(n)]));
    const want = interpret(t.program.graph, { ...inputs, ...caches }, weights, { inPlace: true });
    expect([...(gpu.next_tokens.data as Int32Array)]).toEqual([...argmaxRows(want.logits.data as Float32Array, 4, t.vocabSize)]);
    expect(relL2(gpu.hidden.data as Float32Array, want.hidden.data as Float32Array)).toBeLessThan(1e-4);
    const pre = await timePrefill(t, exec, seqs, 4, 1, 9, 1);
    expect(pre.passes).toBe(2);
    expect(pre.gpuMsPerPass).toBeGreaterThan(0);
    for (const s of seqs) s.close();
  }, 300_000);
});

describe('fp8 target weights on CUDA, simulated: quantized during the streamed upload', () => {
  let dir = '';
  let t: TargetModel;
  let sim: SimCuda;
  let remove = (): void => {};
  beforeAll(async () => {
    ({ dir, sim, remove } = tinySimTarget('arcticc-sim-fp8-'));
    fake.driver = sim;
    t = await loadTarget({ model: dir, device: 'cuda', kvDtype: 'f32', maxNumSeqs: 2, maxModelLen: 32, maxBatchTokens: 8, quiet: true, quantize: 'fp8' });
  }, 120_000);
  afterAll(() => { t?.close(); remove(); });

  it('the device holds W.fp8 and W.scale equal to quantizeFp8 of the files (no bf16 copy), and a step equals the interpreter', async () => {
    const exec = (targetBackend(t) as CudaTargetBackend).executor;
    const files = loadLlamaCheckpoint(dir, { quiet: true }).weights;
    const names = targetFp8WeightNames(t.config);
    expect(names).toContain(llamaParam.lmHead); // the tiny checkpoint's head is untied
    const params = new Map(exec.plan.buffers.filter((b) => b.kind === 'param').map((b) => [b.name!, b]));
    const host = new Map<string, HostTensor>(files);
    for (const n of names) {
      expect(params.has(n), n).toBe(false);
      const q = quantizeFp8(files.get(n)!, n);
      host.delete(n);
      host.set(`${n}.fp8`, q.fp8);
      host.set(`${n}.scale`, q.scale);
      for (const [suffix, want] of [['.fp8', q.fp8], ['.scale', q.scale]] as const) {
        const got = sim.mem(exec.address(params.get(n + suffix)!.id), want.data.byteLength);
        expect(Buffer.from(got).equals(Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength)), n + suffix).toBe(true);
      }
    }
    expect([...targetWeights(t).weights.keys()].filter((n) => names.includes(n))).toEqual([]);
    // one verify step of 2 sequences × 2 tokens on an empty cache: CUDA (simulated) vs the interpreter on the host-quantized weights
    const seqs = [t.newSequence(), t.newSequence()];
    setLengths(t, seqs, 0);
    const inputs = stepInputs(seqs, 2, 0, t.vocabSize, 5);
    const gpu = exec.run(inputs, { outputs: ['next_tokens', 'hidden'] });
    addRopeTables(host, t.config, t.maxModelLen);
    const caches = Object.fromEntries(t.program.graph.inputs.filter((x) => x.argOf<string>('name').startsWith('kv_')).map((x) => [x.argOf<string>('name'), exec.readState(x.argOf<string>('name'))]));
    for (const c of Object.values(caches)) (c.data as Float32Array).fill(0); // the interpreter runs the step from an empty cache, as the device did
    const want = interpret(t.program.graph, { ...inputs, ...caches }, host, { inPlace: true });
    expect([...(gpu.next_tokens.data as Int32Array)]).toEqual([...argmaxRows(want.logits.data as Float32Array, 4, t.vocabSize)]);
    expect(relL2(gpu.hidden.data as Float32Array, want.hidden.data as Float32Array)).toBeLessThan(1e-4);
    for (const s of seqs) s.close();
  }, 300_000);
});
