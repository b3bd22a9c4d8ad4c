import koffi from 'koffi';
import { afterEach, describe, expect, it } from 'vitest';
import { cudaAvailable } from '../../../runtime/cuda/backend.ts';
import { openDevice } from '../../../runtime/cuda/device.ts';
import { DRIVER_PROTOTYPES, DRIVER_SYMBOLS, loadDriver, registerDriverTypes } from '../../../runtime/cuda/driver.ts';
import { CudaUnavailableError } from '../../../runtime/cuda/errors.ts';

const MISSING = '/nonexistent/arcticc-test/libcuda.so.1';

describe('loading libcuda', () => {
  const saved = process.env.ARCTICC_LIBCUDA;
  afterEach(() => { if (saved === undefined) delete process.env.ARCTICC_LIBCUDA; else process.env.ARCTICC_LIBCUDA = saved; });

  it('a missing library is a CudaUnavailableError naming the path and what was tried', () => {
    let err: unknown;
    try { loadDriver({ libraryPath: MISSING }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CudaUnavailableError);
    const e = err as CudaUnavailableError;
    expect(e.message).toContain(`could not load the NVIDIA driver library "${MISSING}" (from the libraryPath option)`);
    expect(e.message).toMatch(/cannot open shared object file|No such file/);
    expect(e.tried).toEqual([`dlopen("${MISSING}")`]);
  });

  it('$ARCTICC_LIBCUDA points the loader elsewhere', () => {
    process.env.ARCTICC_LIBCUDA = MISSING;
    expect(() => openDevice()).toThrow(/from \$ARCTICC_LIBCUDA/);
  });

  it('a library without the driver symbols is refused by name', () => {
    expect(() => loadDriver({ libraryPath: 'libc.so.6' })).toThrow(/"libc\.so\.6" has no usable symbol cuInit/);
  });

  it('cudaAvailable reports the reason instead of throwing', () => {
    const r = cudaAvailable({ libraryPath: MISSING });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^CUDA is not available: could not load/);
  });
});

describe('the prototype table', () => {
  const required = ['cuInit', 'cuDriverGetVersion', 'cuDeviceGet', 'cuDeviceGetCount', 'cuDeviceGetName', 'cuDeviceGetAttribute',
    'cuDevicePrimaryCtxRetain', 'cuDevicePrimaryCtxRelease_v2', 'cuCtxSetCurrent', 'cuCtxSynchronize', 'cuModuleLoadDataEx',
    'cuModuleUnload', 'cuModuleGetFunction', 'cuFuncSetAttribute', 'cuFuncGetAttribute', 'cuMemAlloc_v2', 'cuMemFree_v2',
    'cuMemGetInfo_v2', 'cuMemGetAddressRange_v2', 'cuMemcpyHtoD_v2', 'cuMemcpyDtoH_v2', 'cuMemcpyHtoDAsync_v2', 'cuMemcpyDtoHAsync_v2', 'cuMemcpyDtoDAsync_v2',
    'cuMemsetD8_v2', 'cuMemsetD8Async', 'cuMemHostAlloc', 'cuMemFreeHost', 'cuLaunchKernel', 'cuLaunchKernelEx', 'cuStreamCreate', 'cuStreamDestroy_v2',
    'cuStreamSynchronize', 'cuEventCreate', 'cuEventRecord', 'cuEventSynchronize', 'cuEventElapsedTime_v2', 'cuEventDestroy_v2',
    'cuStreamBeginCapture_v2', 'cuStreamEndCapture', 'cuGraphInstantiateWithFlags', 'cuGraphLaunch', 'cuGraphExecDestroy',
    'cuGraphDestroy', 'cuGetErrorName', 'cuGetErrorString'];

  it('binds exactly the versioned exported names', () => {
    expect([...DRIVER_SYMBOLS].sort()).toEqual([...required].sort());
    // the unversioned ABI-old names must never be bound
    for (const old of ['cuMemAlloc', 'cuMemFree', 'cuEventElapsedTime', 'cuStreamBeginCapture', 'cuGraphInstantiate']) expect(DRIVER_SYMBOLS).not.toContain(old);
  });

  it('every prototype parses with koffi', () => {
    registerDriverTypes();
    // koffi.proto registers each prototype under its name, so parse each once
    const parsed = new Map(DRIVER_PROTOTYPES.map((p) => [p, koffi.proto(p)]));
    expect(parsed.size).toBe(DRIVER_PROTOTYPES.length);
    const launch = [...parsed].find(([p]) => p.includes('cuLaunchKernel('))![1];
    expect(launch.proto?.arguments.length).toBe(11);
  });
});
