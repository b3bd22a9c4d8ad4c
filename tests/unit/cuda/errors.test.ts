import { describe, expect, it } from 'vitest';
import { ContextHealth, CudaError, CudaPoisonedError, CudaUnavailableError, isStickyError } from '../../../runtime/cuda/errors.ts';

describe('CudaError', () => {
  it('carries the call, the code, its name and string', () => {
    const e = new CudaError({ call: 'cuMemAlloc_v2', code: 2, errorName: 'CUDA_ERROR_OUT_OF_MEMORY', errorString: 'out of memory', context: 'allocating weight "head.0.weight" (1.00 GiB)' });
    expect(e.message).toBe('cuMemAlloc_v2 failed with CUDA_ERROR_OUT_OF_MEMORY (2): out of memory while allocating weight "head.0.weight" (1.00 GiB)');
    expect([e.call, e.code, e.errorName, e.errorString, e.sticky]).toEqual(['cuMemAlloc_v2', 2, 'CUDA_ERROR_OUT_OF_MEMORY', 'out of memory', false]);
  });
  it('falls back to the built-in name table and appends the JIT log', () => {
    const e = new CudaError({ call: 'cuModuleLoadDataEx', code: 218, jitLog: "ptxas application ptx input, line 38; error : Not a name of any known instruction: 'addd'\n" });
    expect(e.errorName).toBe('CUDA_ERROR_INVALID_PTX');
    expect(e.message).toBe("cuModuleLoadDataEx failed with CUDA_ERROR_INVALID_PTX (218)\nJIT error log:\nptxas application ptx input, line 38; error : Not a name of any known instruction: 'addd'");
    expect(e.jitLog).toContain('addd');
    expect(new CudaError({ call: 'x', code: 12345 }).errorName).toBe('CUresult 12345');
  });
  it('says a kernel fault leaves the context unusable', () => {
    const e = new CudaError({ call: 'cuStreamSynchronize', code: 700, errorName: 'CUDA_ERROR_ILLEGAL_ADDRESS', errorString: 'an illegal memory access was encountered' });
    expect(e.sticky).toBe(true);
    expect(e.message).toMatch(/kernel fault: the CUDA context is now unusable, create a new process$/);
  });
});

describe('sticky errors', () => {
  it('are the kernel faults cuda.h says corrupt the context', () => {
    for (const c of [700, 702, 710, 714, 715, 716, 717, 718, 719]) expect(isStickyError(c), String(c)).toBe(true);
    for (const c of [0, 1, 2, 200, 218, 400, 500, 701, 712, 720, 999]) expect(isStickyError(c), String(c)).toBe(false);
  });
});

describe('ContextHealth', () => {
  it('ignores ordinary errors and poisons on the first sticky one', () => {
    const h = new ContextHealth();
    h.note(new CudaError({ call: 'cuMemAlloc_v2', code: 2 }));
    expect(() => h.assertUsable('cuLaunchKernel')).not.toThrow();
    const first = new CudaError({ call: 'cuStreamSynchronize', code: 700, errorName: 'CUDA_ERROR_ILLEGAL_ADDRESS', errorString: 'an illegal memory access was encountered' });
    expect(h.note(first)).toBe(first);
    h.note(new CudaError({ call: 'cuMemFree_v2', code: 716 }));
    expect(h.poisonedBy).toBe(first);
    let err: unknown;
    try { h.assertUsable('cuMemAlloc_v2'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CudaPoisonedError);
    expect((err as CudaPoisonedError).poisonedBy).toBe(first);
    expect((err as Error).message).toBe('CUDA context poisoned by cuStreamSynchronize failed with CUDA_ERROR_ILLEGAL_ADDRESS (700): an illegal memory access was encountered; cuMemAlloc_v2 refused: create a new process');
  });
});

describe('CudaUnavailableError', () => {
  it('lists what was tried', () => {
    const e = new CudaUnavailableError('no CUDA-capable device is present (cuInit returned CUDA_ERROR_NO_DEVICE (100))', ['dlopen("libcuda.so.1")', 'cuInit(0)']);
    expect(e.message).toBe('CUDA is not available: no CUDA-capable device is present (cuInit returned CUDA_ERROR_NO_DEVICE (100)) (tried: dlopen("libcuda.so.1"); cuInit(0))');
  });
});
