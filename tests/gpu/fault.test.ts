// A kernel fault (7xx) poisons the context: the fault is reported as a CudaError with its code, and every
// later call on that speculator (and device) is refused. Runs in a child process: the context is gone after.
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { describeGpu, ROOT } from './gpu-env.ts';

describeGpu('kernel fault', () => {
  it('a store to address 0 → CudaError 7xx, then calls are refused with the original error named', () => {
    const r = spawnSync(process.execPath, [`${ROOT}tests/gpu/fault-child.ts`], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    console.log(`[gpu] fault: ${JSON.stringify(out)}`);
    expect(out.first.name).toBe('CudaError');
    expect(out.first.code).toBeGreaterThanOrEqual(700);
    expect(out.first.code).toBeLessThan(800);
    expect(out.first.message).toMatch(/kernel fault: the CUDA context is now unusable, create a new process/);
    expect(out.second.name).toBe('CudaPoisonedError');
    expect(out.second.message).toMatch(/^CUDA context poisoned by cu\w+ failed with CUDA_ERROR_\w+ \(7\d\d\)/);
    expect(out.second.message).toMatch(/create a new process$/);
    expect(out.reopen.name).toBe('CudaPoisonedError');
    expect(out.close).toBe('ok');
  });
});
