// Hand-written execution plans for driving the executor against the fake driver.
import type { ExecutionPlan } from '../../../compiler/codegen/plan.ts';
import type { FakeCuda } from './fake-driver.ts';

const ptx = (...entries: string[]) => `.version 9.0\n.target sm_90\n.address_size 64\n${entries.map((e) => `.visible .entry ${e}()\n{\n ret;\n}\n`).join('')}`;

/** y = 2·x + w (w broadcast over rows), through a temp in the arena: two kernels, one module. */
export function affinePlan(maxB = 8): ExecutionPlan {
  return {
    name: 'affine',
    maxDims: { B: maxB },
    modules: { m0: ptx('double_it', 'add_w') },
    kernels: [
      { name: 'double_it', module: 'm0', params: [{ name: 'out', type: 'u64' }, { name: 'x', type: 'u64' }, { name: 'rows', type: 'u32' }], block: [256, 1, 1], sharedBytes: 0 },
      { name: 'add_w', module: 'm0', params: [{ name: 'out', type: 'u64' }, { name: 'a', type: 'u64' }, { name: 'w', type: 'u64' }, { name: 'rows', type: 'u32' }, { name: 'scale', type: 'f32' }], block: [256, 1, 1], sharedBytes: 0 },
    ],
    buffers: [
      { id: 'x', dtype: 'f32', shape: ['B', 4], kind: 'input', name: 'x' },
      { id: 'w', dtype: 'f32', shape: [4], kind: 'param', name: 'w' },
      { id: 't', dtype: 'f32', shape: ['B', 4], kind: 'temp', offset: 64 },
      { id: 'y', dtype: 'f32', shape: ['B', 4], kind: 'output', name: 'y' },
    ],
    launches: [
      { kernel: 'double_it', args: [{ buffer: 't' }, { buffer: 'x' }, { dim: 'B' }], grid: [{ ceilDiv: [['B', 4], 256] }, 1, 1] },
      { kernel: 'add_w', args: [{ buffer: 'y' }, { buffer: 't' }, { buffer: 'w' }, { dim: 'B' }, { f32: 1 }], grid: [{ ceilDiv: [['B', 4], 256] }, 1, 1] },
    ],
    arenaBytes: 64 + maxB * 16,
    inputs: ['x'],
    outputs: [{ name: 'y', buffer: 'y' }],
    irHash: 'test',
    compilerVersion: 'test',
  };
}

export function registerAffineKernels(fake: FakeCuda): void {
  fake.kernels.set('double_it', (k) => {
    const n = k.u32(2) * 4;
    const out = k.f32s(k.u64(0), n), x = k.f32s(k.u64(1), n);
    for (let i = 0; i < n; i++) out[i] = 2 * x[i];
  });
  fake.kernels.set('add_w', (k) => {
    const n = k.u32(3) * 4;
    const out = k.f32s(k.u64(0), n), a = k.f32s(k.u64(1), n), w = k.f32s(k.u64(2), 4);
    for (let i = 0; i < n; i++) out[i] = a[i] + k.f32(4) * w[i % 4];
  });
}

/** A speculator-shaped plan: hidden [B,2] f32, tokens [B] i32 → draft [B,3] i32 = token + j (+100 if hidden[b,0] > 0). */
export function toySpeculatorPlan(maxB = 4): ExecutionPlan {
  return {
    name: 'toy_spec',
    maxDims: { B: maxB },
    modules: { s: ptx('toy') },
    kernels: [{ name: 'toy', module: 's', params: [{ name: 'draft', type: 'u64' }, { name: 'hidden', type: 'u64' }, { name: 'tokens', type: 'u64' }, { name: 'B', type: 'u32' }], block: [32, 1, 1], sharedBytes: 0 }],
    buffers: [
      { id: 'h', dtype: 'f32', shape: ['B', 2], kind: 'input', name: 'hidden' },
      { id: 't', dtype: 'i32', shape: ['B'], kind: 'input', name: 'tokens' },
      { id: 'd', dtype: 'i32', shape: ['B', 3], kind: 'output', name: 'draft' },
    ],
    launches: [{ kernel: 'toy', args: [{ buffer: 'd' }, { buffer: 'h' }, { buffer: 't' }, { dim: 'B' }], grid: [1, 1, 1] }],
    arenaBytes: 0,
    inputs: ['h', 't'],
    outputs: [{ name: 'draft', buffer: 'd' }],
    irHash: 'test',
    compilerVersion: 'test',
  };
}

export function registerToyKernel(fake: FakeCuda): void {
  fake.kernels.set('toy', (k) => {
    const B = k.u32(3);
    const d = k.i32s(k.u64(0), B * 3), h = k.f32s(k.u64(1), B * 2), t = k.i32s(k.u64(2), B);
    for (let b = 0; b < B; b++) for (let j = 0; j < 3; j++) d[b * 3 + j] = t[b] + j + (h[b * 2] > 0 ? 100 : 0);
  });
}

/**
 * A target-shaped plan (tokens, positions, slots [N], rows [M] → hidden [M,2], next_tokens [M]): a "model"
 * whose next token after t at position p is (3t + p + 1) mod V, with hidden = [t, p] (toyNext below).
 */
export function toyTargetPlan(maxN: number, maxM: number, vocab: number): ExecutionPlan {
  return {
    name: 'toy_target',
    maxDims: { N: maxN, M: maxM },
    modules: { t: ptx('toy_target') },
    kernels: [{
      name: 'toy_target', module: 't', block: [32, 1, 1], sharedBytes: 0,
      params: [...['hidden', 'next', 'tokens', 'positions', 'rows'].map((name) => ({ name, type: 'u64' as const })), { name: 'M', type: 'u32' as const }, { name: 'V', type: 'u32' as const }],
    }],
    buffers: [
      { id: 'tok', dtype: 'i32', shape: ['N'], kind: 'input', name: 'tokens' },
      { id: 'pos', dtype: 'i32', shape: ['N'], kind: 'input', name: 'positions' },
      { id: 'slot', dtype: 'i32', shape: ['N'], kind: 'input', name: 'slots' },
      { id: 'rows', dtype: 'i32', shape: ['M'], kind: 'input', name: 'rows' },
      { id: 'hid', dtype: 'f32', shape: ['M', 2], kind: 'output', name: 'hidden' },
      { id: 'next', dtype: 'i32', shape: ['M'], kind: 'output', name: 'next_tokens' },
    ],
    launches: [{ kernel: 'toy_target', args: [{ buffer: 'hid' }, { buffer: 'next' }, { buffer: 'tok' }, { buffer: 'pos' }, { buffer: 'rows' }, { dim: 'M' }, { u32: vocab }], grid: [1, 1, 1] }],
    arenaBytes: 0,
    inputs: ['tok', 'pos', 'slot', 'rows'],
    outputs: [{ name: 'hidden', buffer: 'hid' }, { name: 'next_tokens', buffer: 'next' }],
    irHash: 'test',
    compilerVersion: 'test',
  };
}

/** the toy target's next token after `t` at position `p` */
export const toyNext = (t: number, p: number, vocab: number): number => (3 * t + p + 1) % vocab;

/**
 * A speculator-shaped plan for the toy target: hidden [B,2] = [t', p] (the row that produced token t, at
 * position p + 1), tokens [B] → draft [B,3]: the toy target's chain from t, except that a token is off by
 * one where (p + j) % 4 === 0, and the last one where t' is odd, so acceptance depends on both hidden values.
 */
export function toyDraftPlan(maxB: number): ExecutionPlan {
  return {
    name: 'toy_draft',
    maxDims: { B: maxB },
    modules: { d: ptx('toy_draft') },
    kernels: [{ name: 'toy_draft', module: 'd', params: [{ name: 'draft', type: 'u64' }, { name: 'hidden', type: 'u64' }, { name: 'tokens', type: 'u64' }, { name: 'B', type: 'u32' }, { name: 'V', type: 'u32' }], block: [32, 1, 1], sharedBytes: 0 }],
    buffers: [
      { id: 'h', dtype: 'f32', shape: ['B', 2], kind: 'input', name: 'hidden' },
      { id: 't', dtype: 'i32', shape: ['B'], kind: 'input', name: 'tokens' },
      { id: 'd', dtype: 'i32', shape: ['B', 3], kind: 'output', name: 'draft' },
    ],
    launches: [{ kernel: 'toy_draft', args: [{ buffer: 'd' }, { buffer: 'h' }, { buffer: 't' }, { dim: 'B' }, { u32: 0 }], grid: [1, 1, 1] }],
    arenaBytes: 0,
    inputs: ['h', 't'],
    outputs: [{ name: 'draft', buffer: 'd' }],
    irHash: 'test',
    compilerVersion: 'test',
  };
}

/** The toy target and draft kernels over vocabulary `vocab` (the draft plan's V argument is ignored). */
export function registerToyChainKernels(fake: FakeCuda, vocab: number): void {
  fake.kernels.set('toy_target', (k) => {
    const M = k.u32(5), V = k.u32(6);
    const hidden = k.f32s(k.u64(0), M * 2), next = k.i32s(k.u64(1), M), rows = k.i32s(k.u64(4), M);
    for (let m = 0; m < M; m++) {
      const r = rows[m], t = k.i32s(k.u64(2) + BigInt(4 * r), 1)[0], p = k.i32s(k.u64(3) + BigInt(4 * r), 1)[0];
      next[m] = p >= 0 ? toyNext(t, p, V) : 0;
      hidden[2 * m] = t;
      hidden[2 * m + 1] = p;
    }
  });
  fake.kernels.set('toy_draft', (k) => {
    const B = k.u32(3);
    const d = k.i32s(k.u64(0), B * 3), h = k.f32s(k.u64(1), B * 2), t = k.i32s(k.u64(2), B);
    for (let b = 0; b < B; b++) {
      let x = t[b];
      const prev = h[2 * b], p = h[2 * b + 1];
      for (let j = 0; j < 3; j++) {
        x = toyNext(x, p + 1 + j, vocab);
        let y = x;
        if ((p + j) % 4 === 0 || (j === 2 && prev % 2 === 1)) y = (x + 1) % vocab;
        d[b * 3 + j] = y;
        x = y;
      }
    }
  });
}
