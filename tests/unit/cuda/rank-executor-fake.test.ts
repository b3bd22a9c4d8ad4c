// The tensor-parallel rank executor against the fake driver, with two hand-written stages and a one-rank
// all-gather between them (a copy kernel, so it is captured like ncclAllGather is): the stages share
// inputs, carries, the collective's buffers and the weights on the device; the whole proposal (stage,
// gather, stage) is one captured graph per batch bucket; padding rows are zero; close frees everything.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionPlan } from '../../../compiler/codegen/plan.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import type { CudaDevice } from '../../../runtime/cuda/device.ts';
import { openDevice, resetDeviceRegistry } from '../../../runtime/cuda/device.ts';
import type { CUdeviceptr, CUstream } from '../../../runtime/cuda/driver.ts';
import { ArgBlock, launchKernel } from '../../../runtime/cuda/launch.ts';
import type { AllGather } from '../../../runtime/cuda/rank-executor.ts';
import { RankExecutor } from '../../../runtime/cuda/rank-executor.ts';
import { NcclDataType } from '../../../runtime/nccl/nccl.ts';
import { FakeCuda } from './fake-driver.ts';

const ptx = (...entries: string[]) => `.version 9.0\n.target sm_90\n.address_size 64\n${entries.map((e) => `.visible .entry ${e}()\n{\n ret;\n}\n`).join('')}`;
const meta = { irHash: 'test', compilerVersion: 'test' };

/** stage 0: send[b] = (h[b]·w, token[b]) and carry.7[b] = token[b] + 1 */
function stage0(maxB: number): ExecutionPlan {
  return {
    name: 'tp_stage0', maxDims: { B: maxB }, modules: { m: ptx('pack') },
    kernels: [{ name: 'pack', module: 'm', params: [{ name: 's', type: 'u64' }, { name: 'c', type: 'u64' }, { name: 'h', type: 'u64' }, { name: 't', type: 'u64' }, { name: 'w', type: 'u64' }, { name: 'B', type: 'u32' }], block: [32, 1, 1], sharedBytes: 0 }],
    buffers: [
      { id: 'h', dtype: 'f32', shape: ['B', 2], kind: 'input', name: 'hidden' },
      { id: 't', dtype: 'i32', shape: ['B'], kind: 'input', name: 'tokens' },
      { id: 'w', dtype: 'f32', shape: [2], kind: 'param', name: 'w' },
      { id: 's', dtype: 'f32', shape: ['B', 2], kind: 'output', name: 'all_gather.0.send' },
      { id: 'c', dtype: 'i32', shape: ['B'], kind: 'output', name: 'carry.7' },
    ],
    launches: [{ kernel: 'pack', args: [{ buffer: 's' }, { buffer: 'c' }, { buffer: 'h' }, { buffer: 't' }, { buffer: 'w' }, { dim: 'B' }], grid: [1, 1, 1] }],
    arenaBytes: 0, inputs: ['h', 't'], outputs: [{ name: 'all_gather.0.send', buffer: 's' }, { name: 'carry.7', buffer: 'c' }], ...meta,
  };
}

/** stage 1: draft[b] = (gathered token + 1000·[value > 0], carry.7 · w[1]) */
function stage1(maxB: number): ExecutionPlan {
  return {
    name: 'tp_stage1', maxDims: { B: maxB }, modules: { m: ptx('finish') },
    kernels: [{ name: 'finish', module: 'm', params: [{ name: 'd', type: 'u64' }, { name: 'g', type: 'u64' }, { name: 'c', type: 'u64' }, { name: 'w', type: 'u64' }, { name: 'B', type: 'u32' }], block: [32, 1, 1], sharedBytes: 0 }],
    buffers: [
      { id: 'h1', dtype: 'f32', shape: ['B', 2], kind: 'input', name: 'hidden' },
      { id: 't1', dtype: 'i32', shape: ['B'], kind: 'input', name: 'tokens' },
      { id: 'g', dtype: 'f32', shape: [1, 'B', 2], kind: 'input', name: 'all_gather.0' },
      { id: 'c1', dtype: 'i32', shape: ['B'], kind: 'input', name: 'carry.7' },
      { id: 'w1', dtype: 'f32', shape: [2], kind: 'param', name: 'w' },
      { id: 'd', dtype: 'i32', shape: ['B', 2], kind: 'output', name: 'draft' },
    ],
    launches: [{ kernel: 'finish', args: [{ buffer: 'd' }, { buffer: 'g' }, { buffer: 'c1' }, { buffer: 'w1' }, { dim: 'B' }], grid: [1, 1, 1] }],
    arenaBytes: 0, inputs: ['h1', 't1', 'g', 'c1'], outputs: [{ name: 'draft', buffer: 'd' }], ...meta,
  };
}

const W = Float32Array.of(2, 3);
const weights = () => new Map([['w', hostTensor('f32', [2], W)]]);

let fake: FakeCuda;
let dev: CudaDevice;
/** a one-rank all-gather as a captured launch: recv = send */
let gather: AllGather & { calls: { sendcount: number; datatype: number }[] };

function registerKernels(f: FakeCuda): void {
  f.kernels.set('pack', (k) => {
    const B = k.u32(5);
    const s = k.f32s(k.u64(0), B * 2), c = k.i32s(k.u64(1), B), h = k.f32s(k.u64(2), B * 2), t = k.i32s(k.u64(3), B), w = k.f32s(k.u64(4), 2);
    for (let b = 0; b < B; b++) { s[b * 2] = h[b * 2] * w[0] + h[b * 2 + 1] * w[1]; s[b * 2 + 1] = t[b]; c[b] = t[b] + 1; }
  });
  f.kernels.set('finish', (k) => {
    const B = k.u32(4);
    const d = k.i32s(k.u64(0), B * 2), g = k.f32s(k.u64(1), B * 2), c = k.i32s(k.u64(2), B), w = k.f32s(k.u64(3), 2);
    for (let b = 0; b < B; b++) { d[b * 2] = g[b * 2 + 1] + (g[b * 2] > 0 ? 1000 : 0); d[b * 2 + 1] = c[b] * w[1]; }
  });
  f.kernels.set('gather1', (k) => {
    const n = k.u32(2);
    k.f32s(k.u64(1), n).set(k.f32s(k.u64(0), n));
  });
}

function oneRankGather(d: CudaDevice): typeof gather {
  const m = d.modules.load(ptx('gather1'), 'the fake all-gather');
  const fn = m.function('gather1');
  const block = new ArgBlock(ArgBlock.bytesFor([['u64', 'u64', 'u32']]) * 64);
  const calls: { sendcount: number; datatype: number }[] = [];
  return {
    calls,
    allGather(send: CUdeviceptr, recv: CUdeviceptr, sendcount: number, datatype: number, _stream: CUstream) {
      calls.push({ sendcount, datatype });
      launchKernel(d, fn, { grid: [1, 1, 1], block: [32, 1, 1], sharedBytes: 0 }, block.pack(['u64', 'u64', 'u32'], [send, recv, sendcount]), 'all-gather');
    },
  };
}

const expected = (h: Float32Array, t: Int32Array): number[] => [...t].flatMap((tok, b) => [tok + (h[b * 2] * W[0] + h[b * 2 + 1] * W[1] > 0 ? 1000 : 0), (tok + 1) * W[1]]);
const stages = (maxB = 8) => [{ plan: stage0(maxB), then: 0 }, { plan: stage1(maxB), then: null }];

beforeEach(() => {
  resetDeviceRegistry();
  fake = new FakeCuda();
  registerKernels(fake);
  dev = openDevice({ driver: fake });
  gather = oneRankGather(dev);
});
afterEach(() => { dev.release(); });

describe('RankExecutor', () => {
  it('runs stage, all-gather, stage and returns the draft for every batch size', () => {
    const ex = new RankExecutor(dev, stages(), weights(), { collective: gather });
    for (const B of [1, 3, 5, 8]) {
      const h = Float32Array.from({ length: B * 2 }, (_, i) => (i % 3) - 1.2);
      const t = Int32Array.from({ length: B }, (_, i) => 7 * i + 1);
      expect([...ex.propose(h, t, B)], `B=${B}`).toEqual(expected(h, t));
    }
    // the sendcount is the bucket's rows × 2, as f32
    expect(gather.calls.map((c) => c.sendcount)).toContain(12); // B=5 → bucket 6
    expect(gather.calls.every((c) => c.datatype === NcclDataType.float32)).toBe(true);
    ex.close();
  });

  it('captures the whole proposal (stage 0, the all-gather, stage 1) in one graph per bucket, after one eager warm-up', () => {
    const ex = new RankExecutor(dev, stages(), weights(), { collective: gather });
    const h = new Float32Array(10).fill(1), t = Int32Array.of(1, 2, 3, 4, 5);
    ex.propose(h, t, 5);
    expect(fake.launches).toEqual(['pack', 'gather1', 'finish', 'pack', 'gather1', 'finish']); // warm-up, then the replay
    expect(fake.graphLaunches).toBe(1);
    ex.propose(h.subarray(0, 8), t.subarray(0, 4).map((x) => x + 1), 4); // another bucket: its own graph
    ex.propose(h, t, 5); // bucket 6 again: replay only
    expect(fake.graphLaunches).toBe(3);
    expect(fake.calls.filter((c) => c === 'cuStreamBeginCapture_v2')).toHaveLength(2);
    expect(ex.capturedGraphs).toBe(2);
    // with graphs off: the same launches, no capture
    fake.launches.length = 0;
    expect([...ex.propose(h, t, 5, { graph: false })]).toEqual(expected(h, t));
    expect(fake.launches).toEqual(['pack', 'gather1', 'finish']);
    ex.close();
  });

  it('binds one device buffer per name across the stages, and uploads each weight once', () => {
    const ex = new RankExecutor(dev, stages(), weights(), { collective: gather });
    const [s0, s1] = ex.stages.map((s) => s.exec);
    expect(s0.address('h')).toBe(ex.address('hidden'));
    expect(s1.address('h1')).toBe(ex.address('hidden'));
    expect(s1.address('t1')).toBe(ex.address('tokens'));
    expect(s0.address('c')).toBe(ex.address('carry.7'));
    expect(s1.address('c1')).toBe(ex.address('carry.7'));
    expect(s0.address('s')).toBe(ex.address('all_gather.0.send'));
    expect(s1.address('g')).toBe(ex.address('all_gather.0'));
    expect(s0.address('w')).toBe(s1.address('w1'));
    expect([...fake.f32(s0.address('w'), 2)]).toEqual([...W]);
    expect(ex.collectives).toEqual([{ seq: 0, sendcountAtMax: 16 }]);
    ex.close();
  });

  it('an output named other than its buffer (a send that is also a carry, as on a rank of padding only) shares that buffer', () => {
    // stage 0 also outputs its send buffer as carry.9; stage 1 reads carry.9 instead of carry.7
    const withCarry9 = (p: ExecutionPlan): ExecutionPlan => ({ ...p, outputs: [...p.outputs, { name: 'carry.9', buffer: 's' }] });
    const s0 = withCarry9(stage0(8));
    const s1 = stage1(8);
    Object.assign(s1.buffers.find((b) => b.id === 'c1')!, { name: 'carry.9', dtype: 'f32', shape: ['B', 2] });
    const ex = new RankExecutor(dev, [{ plan: s0, then: 0 }, { plan: s1, then: null }], weights(), { collective: gather });
    expect(ex.address('carry.9')).toBe(ex.address('all_gather.0.send'));
    expect(ex.stages[1].exec.address('c1')).toBe(ex.address('all_gather.0.send'));
    expect(() => ex.address('carry.7')).not.toThrow();
    ex.close();
    const bad = stage1(8);
    (bad.buffers.find((b) => b.id === 'c1') as { name: string }).name = 'carry.9';
    const s0b = withCarry9(stage0(8));
    expect(() => new RankExecutor(dev, [{ plan: s0b, then: 0 }, { plan: bad, then: null }], weights())).toThrow(/"carry.9" \(i32\[B\]\) is an output of buffer "all_gather.0.send" \(f32\[B,2\]\)/);
  });

  it('zero-fills the padding rows of hidden and tokens', () => {
    const ex = new RankExecutor(dev, stages(), weights(), { collective: gather, graphs: false });
    ex.propose(new Float32Array(10).fill(-1), Int32Array.of(9, 9, 9, 9, 9), 5);
    expect([...fake.f32(ex.address('hidden'), 12).subarray(10)]).toEqual([0, 0]);
    expect(new Int32Array(fake.mem(ex.address('tokens'), 24).slice().buffer)[5]).toBe(0);
    ex.close();
  });

  it('close frees the shared buffers, the weights, every stage and the staging', () => {
    const used = fake.used, pinned = fake.pinnedLive;
    const ex = new RankExecutor(dev, stages(), weights(), { collective: gather });
    ex.propose(new Float32Array(6), Int32Array.of(1, 2, 3), 3);
    expect(fake.used).toBeGreaterThan(used);
    ex.close();
    ex.close();
    expect(fake.used).toBe(used);
    expect(fake.pinnedLive).toBe(pinned);
    expect(() => ex.propose(new Float32Array(2), Int32Array.of(1), 1)).toThrow(/used after close/);
  });

  it('refuses inconsistent stages and a missing communicator, freeing what it allocated', () => {
    const used = fake.used;
    const bad = stage1(8);
    (bad.buffers.find((b) => b.id === 'c1') as { dtype: string }).dtype = 'f32';
    expect(() => new RankExecutor(dev, [{ plan: stage0(8), then: 0 }, { plan: bad, then: null }], weights())).toThrow(/"carry.7" is i32\[B\] in one stage and f32\[B\] in plan tp_stage1/);
    expect(() => new RankExecutor(dev, [{ plan: stage0(8), then: 0 }, { plan: stage1(4), then: null }], weights())).toThrow(/same maxDims.B/);
    expect(() => new RankExecutor(dev, [{ plan: stage0(8), then: 0 }], weights())).toThrow(/draft/);
    expect(() => new RankExecutor(dev, stages(), new Map())).toThrow(/missing weight "w"/);
    expect(fake.used).toBe(used);
    const ex = new RankExecutor(dev, stages(), weights());
    expect(() => ex.propose(new Float32Array(2), Int32Array.of(1), 1)).toThrow(/no communicator/);
    ex.setCollective(gather);
    expect([...ex.propose(Float32Array.of(1, 1), Int32Array.of(4), 1)]).toEqual([1004, 15]);
    expect(() => ex.propose(new Float32Array(18), new Int32Array(9), 9)).toThrow(/batch 9 must be an integer in \[1, 8\]/);
    ex.close();
  });
});
