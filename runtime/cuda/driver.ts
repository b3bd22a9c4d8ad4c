// The libcuda binding: one table of C prototypes with the exact exported (versioned) symbol names that
// cuda.h 13.0 maps the public names onto, loaded lazily through koffi. Every 64-bit value that crosses
// this boundary is a bigint: device pointers come back through BigUint64Array out slots, handles through
// `[null]` out slots (koffi returns pointers as BigInt). The facade (device.ts …) is the only user.
import koffi from 'koffi';
import { CudaUnavailableError } from './errors.ts';

declare const handleBrand: unique symbol;
/** An opaque driver handle (a C pointer) as a bigint, branded so a CUmodule is never passed as a CUfunction. */
export type Handle<K extends string> = bigint & { readonly [handleBrand]: K };
export type CUcontext = Handle<'CUcontext'>;
export type CUmodule = Handle<'CUmodule'>;
export type CUfunction = Handle<'CUfunction'>;
export type CUstream = Handle<'CUstream'>;
export type CUevent = Handle<'CUevent'>;
export type CUgraph = Handle<'CUgraph'>;
export type CUgraphExec = Handle<'CUgraphExec'>;
export type CUdeviceptr = bigint;
/** a host address (pinned memory from cuMemHostAlloc) */
export type HostPtr = bigint;
export type CUresult = number;

/** koffi fills slot[0] of a `[null]` array for `_Out_ T **` parameters */
export type HandleOut = (bigint | null)[];
/** a host buffer koffi passes as a pointer to its bytes, or a raw host address */
export type HostMem = ArrayBufferView | HostPtr;

/** The C struct tags behind each handle typedef (cuda.h: `typedef struct CUctx_st *CUcontext`). */
const HANDLE_STRUCTS = {
  CUcontext: 'CUctx_st', CUmodule: 'CUmod_st', CUfunction: 'CUfunc_st', CUstream: 'CUstream_st',
  CUevent: 'CUevent_st', CUgraph: 'CUgraph_st', CUgraphExec: 'CUgraphExec_st',
} as const;

/** The whole binding. Order: init/device, context, module, memory, launch, stream/event, graph, errors. */
export const DRIVER_PROTOTYPES = [
  'CUresult cuInit(unsigned int Flags)',
  'CUresult cuDriverGetVersion(_Out_ int *driverVersion)',
  'CUresult cuDeviceGet(_Out_ int *device, int ordinal)',
  'CUresult cuDeviceGetCount(_Out_ int *count)',
  'CUresult cuDeviceGetName(void *name, int len, CUdevice dev)',
  'CUresult cuDeviceGetAttribute(_Out_ int *pi, int attrib, CUdevice dev)',
  'CUresult cuDevicePrimaryCtxRetain(_Out_ CUcontext *pctx, CUdevice dev)',
  'CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)',
  'CUresult cuCtxSetCurrent(CUcontext ctx)',
  'CUresult cuCtxSynchronize(void)',
  'CUresult cuModuleLoadDataEx(_Out_ CUmodule *module, const void *image, unsigned int numOptions, int *options, void **optionValues)',
  'CUresult cuModuleUnload(CUmodule hmod)',
  'CUresult cuModuleGetFunction(_Out_ CUfunction *hfunc, CUmodule hmod, const char *name)',
  'CUresult cuFuncSetAttribute(CUfunction hfunc, int attrib, int value)',
  'CUresult cuFuncGetAttribute(_Out_ int *pi, int attrib, CUfunction hfunc)',
  'CUresult cuMemAlloc_v2(_Out_ CUdeviceptr *dptr, size_t bytesize)',
  'CUresult cuMemFree_v2(CUdeviceptr dptr)',
  'CUresult cuMemGetInfo_v2(_Out_ size_t *free, _Out_ size_t *total)',
  'CUresult cuMemGetAddressRange_v2(_Out_ CUdeviceptr *pbase, _Out_ size_t *psize, CUdeviceptr dptr)',
  'CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)',
  'CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)',
  'CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream)',
  'CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)',
  'CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)',
  'CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N)',
  'CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)',
  'CUresult cuMemHostAlloc(_Out_ void **pp, size_t bytesize, unsigned int Flags)',
  'CUresult cuMemFreeHost(void *p)',
  'CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra)',
  // config: a CUlaunchConfig laid out by launch.ts (launchConfigBytes), with its CUlaunchAttribute array
  'CUresult cuLaunchKernelEx(const void *config, CUfunction f, void **kernelParams, void **extra)',
  'CUresult cuStreamCreate(_Out_ CUstream *phStream, unsigned int Flags)',
  'CUresult cuStreamDestroy_v2(CUstream hStream)',
  'CUresult cuStreamSynchronize(CUstream hStream)',
  'CUresult cuEventCreate(_Out_ CUevent *phEvent, unsigned int Flags)',
  'CUresult cuEventRecord(CUevent hEvent, CUstream hStream)',
  'CUresult cuEventSynchronize(CUevent hEvent)',
  'CUresult cuEventElapsedTime_v2(_Out_ float *pMilliseconds, CUevent hStart, CUevent hEnd)',
  'CUresult cuEventDestroy_v2(CUevent hEvent)',
  'CUresult cuStreamBeginCapture_v2(CUstream hStream, int mode)',
  'CUresult cuStreamEndCapture(CUstream hStream, _Out_ CUgraph *phGraph)',
  'CUresult cuGraphInstantiateWithFlags(_Out_ CUgraphExec *phGraphExec, CUgraph hGraph, unsigned long long flags)',
  'CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)',
  'CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)',
  'CUresult cuGraphDestroy(CUgraph hGraph)',
  'CUresult cuGetErrorName(CUresult error, _Out_ const char **pStr)',
  'CUresult cuGetErrorString(CUresult error, _Out_ const char **pStr)',
] as const;

/** The typed view of the table. A fake with the same shape drives the facade in tests without a GPU. */
export interface CudaDriver {
  cuInit(flags: number): CUresult;
  cuDriverGetVersion(out: Int32Array): CUresult;
  cuDeviceGet(out: Int32Array, ordinal: number): CUresult;
  cuDeviceGetCount(out: Int32Array): CUresult;
  cuDeviceGetName(name: Uint8Array, len: number, dev: number): CUresult;
  cuDeviceGetAttribute(out: Int32Array, attrib: number, dev: number): CUresult;
  cuDevicePrimaryCtxRetain(out: HandleOut, dev: number): CUresult;
  cuDevicePrimaryCtxRelease_v2(dev: number): CUresult;
  cuCtxSetCurrent(ctx: CUcontext): CUresult;
  cuCtxSynchronize(): CUresult;
  cuModuleLoadDataEx(out: HandleOut, image: Uint8Array, numOptions: number, options: Int32Array, values: BigUint64Array): CUresult;
  cuModuleUnload(mod: CUmodule): CUresult;
  cuModuleGetFunction(out: HandleOut, mod: CUmodule, name: string): CUresult;
  cuFuncSetAttribute(fn: CUfunction, attrib: number, value: number): CUresult;
  cuFuncGetAttribute(out: Int32Array, attrib: number, fn: CUfunction): CUresult;
  cuMemAlloc_v2(out: BigUint64Array, bytes: number | bigint): CUresult;
  cuMemFree_v2(ptr: CUdeviceptr): CUresult;
  cuMemGetInfo_v2(free: BigUint64Array, total: BigUint64Array): CUresult;
  /** the allocation containing dptr (CUDA_ERROR_NOT_FOUND when it is not device memory of this context) */
  cuMemGetAddressRange_v2(base: BigUint64Array, size: BigUint64Array, dptr: CUdeviceptr): CUresult;
  cuMemcpyHtoD_v2(dst: CUdeviceptr, src: HostMem, bytes: number | bigint): CUresult;
  cuMemcpyDtoH_v2(dst: HostMem, src: CUdeviceptr, bytes: number | bigint): CUresult;
  cuMemcpyHtoDAsync_v2(dst: CUdeviceptr, src: HostMem, bytes: number | bigint, stream: CUstream): CUresult;
  cuMemcpyDtoHAsync_v2(dst: HostMem, src: CUdeviceptr, bytes: number | bigint, stream: CUstream): CUresult;
  cuMemcpyDtoDAsync_v2(dst: CUdeviceptr, src: CUdeviceptr, bytes: number | bigint, stream: CUstream): CUresult;
  cuMemsetD8_v2(dst: CUdeviceptr, value: number, n: number | bigint): CUresult;
  cuMemsetD8Async(dst: CUdeviceptr, value: number, n: number | bigint, stream: CUstream): CUresult;
  cuMemHostAlloc(out: HandleOut, bytes: number | bigint, flags: number): CUresult;
  cuMemFreeHost(p: HostPtr): CUresult;
  cuLaunchKernel(fn: CUfunction, gx: number, gy: number, gz: number, bx: number, by: number, bz: number,
    sharedBytes: number, stream: CUstream, params: BigUint64Array, extra: null): CUresult;
  /** config: the bytes of a CUlaunchConfig (launch.ts: LaunchConfigBlock) */
  cuLaunchKernelEx(config: Uint8Array, fn: CUfunction, params: BigUint64Array, extra: null): CUresult;
  cuStreamCreate(out: HandleOut, flags: number): CUresult;
  cuStreamDestroy_v2(stream: CUstream): CUresult;
  cuStreamSynchronize(stream: CUstream): CUresult;
  cuEventCreate(out: HandleOut, flags: number): CUresult;
  cuEventRecord(ev: CUevent, stream: CUstream): CUresult;
  cuEventSynchronize(ev: CUevent): CUresult;
  cuEventElapsedTime_v2(out: Float32Array, start: CUevent, end: CUevent): CUresult;
  cuEventDestroy_v2(ev: CUevent): CUresult;
  cuStreamBeginCapture_v2(stream: CUstream, mode: number): CUresult;
  cuStreamEndCapture(stream: CUstream, out: HandleOut): CUresult;
  cuGraphInstantiateWithFlags(out: HandleOut, graph: CUgraph, flags: number | bigint): CUresult;
  cuGraphLaunch(exec: CUgraphExec, stream: CUstream): CUresult;
  cuGraphExecDestroy(exec: CUgraphExec): CUresult;
  cuGraphDestroy(graph: CUgraph): CUresult;
  cuGetErrorName(code: CUresult, out: (string | null)[]): CUresult;
  cuGetErrorString(code: CUresult, out: (string | null)[]): CUresult;
  /** Runs cuStreamSynchronize on a koffi worker thread (no context needed for it), keeping the event loop free. */
  streamSynchronizeAsync(stream: CUstream): Promise<CUresult>;
}

/** The symbol each prototype binds (its function name). */
export const symbolOf = (proto: string): string => /\b(cu\w+)\s*\(/.exec(proto)![1];
export const DRIVER_SYMBOLS: readonly string[] = DRIVER_PROTOTYPES.map(symbolOf);

let typesRegistered = false;
/** Registers CUresult/CUdevice/CUdeviceptr and one named opaque pointer type per handle, once per process. */
export function registerDriverTypes(): void {
  if (typesRegistered) return;
  koffi.alias('CUresult', 'int');
  koffi.alias('CUdevice', 'int');
  koffi.alias('CUdeviceptr', 'uint64_t');
  for (const [name, struct] of Object.entries(HANDLE_STRUCTS)) koffi.pointer(name, koffi.opaque(struct));
  typesRegistered = true;
}

export interface LoadDriverOptions {
  /** library to load; default: $ARCTICC_LIBCUDA, else "libcuda.so.1" (the soname the NVIDIA driver installs) */
  libraryPath?: string;
}

export const DEFAULT_LIBCUDA = 'libcuda.so.1';
export const libcudaPath = (o: LoadDriverOptions = {}): string => o.libraryPath ?? process.env.ARCTICC_LIBCUDA ?? DEFAULT_LIBCUDA;

const loaded = new Map<string, CudaDriver>();

/**
 * Loads (once per path) and binds the table. Throws CudaUnavailableError naming the path when the library
 * cannot be opened or lacks a symbol. Does not call cuInit: that is device.ts's job.
 */
export function loadDriver(o: LoadDriverOptions = {}): CudaDriver {
  const path = libcudaPath(o);
  const hit = loaded.get(path);
  if (hit) return hit;
  const how = o.libraryPath ? 'the libraryPath option' : process.env.ARCTICC_LIBCUDA ? '$ARCTICC_LIBCUDA' : 'the default';
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(path);
  } catch (e) {
    const why = (e as Error).message;
    throw new CudaUnavailableError(
      `could not load the NVIDIA driver library "${path}" (from ${how}): ${why}. Is an NVIDIA driver installed, and is ${path} on the loader path?`,
      [`dlopen("${path}")`]);
  }
  registerDriverTypes();
  const fns: Record<string, unknown> = {};
  for (const proto of DRIVER_PROTOTYPES) {
    const name = symbolOf(proto);
    try {
      fns[name] = lib.func(proto);
    } catch (e) {
      throw new CudaUnavailableError(
        `"${path}" has no usable symbol ${name} (${(e as Error).message}); a driver for CUDA 12 or newer is required`,
        [`dlopen("${path}")`, `dlsym(${name})`]);
    }
  }
  const sync = fns.cuStreamSynchronize as ((s: CUstream) => CUresult) & { async: (s: CUstream, cb: (err: unknown, rc: CUresult) => void) => void };
  const driver = {
    ...fns,
    streamSynchronizeAsync: (s: CUstream) => new Promise<CUresult>((resolve, reject) => {
      sync.async(s, (err, rc) => (err ? reject(err) : resolve(rc)));
    }),
  } as unknown as CudaDriver;
  loaded.set(path, driver);
  return driver;
}
