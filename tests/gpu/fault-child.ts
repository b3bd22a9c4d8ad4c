// Run by fault.test.ts in its own process: a kernel that stores to address 0 poisons the CUDA context
// for good, so the parent test keeps its own context clean. Prints one JSON line.
import type { ExecutionPlan } from '../../compiler/codegen/plan.ts';
import { createCudaBackend } from '../../runtime/cuda/backend.ts';
import { openDevice } from '../../runtime/cuda/device.ts';
import { FAULT_PTX } from './ptx-kernels.ts';

const plan: ExecutionPlan = {
  name: 'fault_plan',
  maxDims: { B: 4 },
  modules: { f: FAULT_PTX },
  kernels: [{ name: 'fault_null', module: 'f', params: [{ name: 'draft', type: 'u64' }, { name: 'hidden', type: 'u64' }, { name: 'tokens', type: 'u64' }, { name: 'B', type: 'u32' }], block: [1, 1, 1], sharedBytes: 0 }],
  buffers: [
    { id: 'h', dtype: 'f32', shape: ['B', 2], kind: 'input', name: 'hidden' },
    { id: 't', dtype: 'i32', shape: ['B'], kind: 'input', name: 'tokens' },
    { id: 'd', dtype: 'i32', shape: ['B', 3], kind: 'output', name: 'draft' },
  ],
  launches: [{ kernel: 'fault_null', args: [{ buffer: 'd' }, { buffer: 'h' }, { buffer: 't' }, { dim: 'B' }], grid: [1, 1, 1] }],
  arenaBytes: 0,
  inputs: ['h', 't'],
  outputs: [{ name: 'draft', buffer: 'd' }],
  irHash: 'fault',
  compilerVersion: 'hand-written',
};

const report = (e: unknown) => ({ name: (e as Error).name, code: (e as { code?: number }).code, message: (e as Error).message });
const result: Record<string, unknown> = {};
const be = createCudaBackend(plan, new Map());
const batch = { hidden: new Float32Array(4), tokens: new Int32Array(2), batch: 2 };
try { await be.propose(batch); result.first = 'no error'; } catch (e) { result.first = report(e); }
try { await be.propose(batch); result.second = 'no error'; } catch (e) { result.second = report(e); }
try { openDevice(); result.reopen = 'no error'; } catch (e) { result.reopen = report(e); }
try { be.close(); result.close = 'ok'; } catch (e) { result.close = report(e); }
console.log(JSON.stringify(result));
