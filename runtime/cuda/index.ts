// Public surface of the CUDA runtime (loaded lazily by the speculator front end: importing this module
// loads koffi but not libcuda; the driver is opened on first use).
export { createCudaBackend, cudaAvailable } from './backend.ts';
export type { CudaAvailability, CudaBackendOptions } from './backend.ts';
export { CudaDevice, openDevice } from './device.ts';
export type { DeviceInfo, OpenDeviceOptions } from './device.ts';
export { DEFAULT_LIBCUDA, DRIVER_PROTOTYPES, DRIVER_SYMBOLS, loadDriver } from './driver.ts';
export type { CudaDriver, CUdeviceptr, LoadDriverOptions } from './driver.ts';
export { CudaError, CudaPoisonedError, CudaUnavailableError, isStickyError } from './errors.ts';
export { PlanExecutor } from './executor.ts';
export type { ExecutorOptions, RunOptions } from './executor.ts';
export { CudaGraph, EventTimer } from './graph.ts';
export { paddingSize } from './plan-layout.ts';
