import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import type { CUstream } from '../../../runtime/cuda/driver.ts';
import { ensureNvlsDisabled, loadNccl, NCCL_PROTOTYPES, NCCL_SYMBOLS, NcclCommunicator, NcclDataType, NcclError, NcclUnavailableError, registerNcclTypes, uniqueIdFromHex, uniqueIdToHex } from '../../../runtime/nccl/nccl.ts';
import { FakeNccl } from './fake-nccl.ts';

const STREAM = 0x77n as CUstream;

describe('the libnccl binding table', () => {
  it('binds exactly the exported names of nccl.h', () => {
    expect([...NCCL_SYMBOLS].sort()).toEqual(['ncclAllGather', 'ncclCommAbort', 'ncclCommDestroy', 'ncclCommGetAsyncError', 'ncclCommInitRank',
      'ncclGetErrorString', 'ncclGetUniqueId', 'ncclGetVersion', 'ncclGroupEnd', 'ncclGroupStart']);
  });
  it('every prototype parses with koffi; the unique id is a 128-byte struct passed by value', () => {
    registerNcclTypes();
    expect(koffi.sizeof('ncclUniqueId')).toBe(128);
    // koffi.proto registers a prototype under its name: parse each under a test-only name
    for (const p of NCCL_PROTOTYPES) expect(() => koffi.proto(p.replace(/(nccl\w+)\(/, '$1_proto_test(')), p).not.toThrow();
  });
  it('a missing library is an NcclUnavailableError naming the path', () => {
    expect(() => loadNccl('/nonexistent/arcticc/libnccl.so.2')).toThrow(NcclUnavailableError);
    expect(() => loadNccl('/nonexistent/arcticc/libnccl.so.2')).toThrow(/could not load "\/nonexistent\/arcticc\/libnccl\.so\.2"/);
    expect(() => loadNccl('libc.so.6')).toThrow(/"libc\.so\.6" has no usable symbol ncclGetVersion/);
  });
  it('NCCL_NVLS_ENABLE=0 is set', () => {
    const env: NodeJS.ProcessEnv = {};
    ensureNvlsDisabled(env);
    expect(env.NCCL_NVLS_ENABLE).toBe('0');
  });
});

describe('NcclCommunicator over a fake libnccl', () => {
  it('the unique id travels as 256 hex digits; N ranks gather 8 bytes per row on the stream', () => {
    const f = new FakeNccl();
    const id = NcclCommunicator.uniqueId(f);
    const hex = uniqueIdToHex(id);
    expect(hex).toHaveLength(256);
    expect(uniqueIdFromHex(hex).internal).toEqual(id.internal);
    expect(() => uniqueIdFromHex('abcd')).toThrow(/128 bytes/);
    const n = 4, rows = 3;
    const comms = Array.from({ length: n }, (_, r) => NcclCommunicator.initRank(f, n, uniqueIdFromHex(hex), r));
    const send = comms.map((_, r) => { const p = f.alloc(rows * 8); new Float32Array(f.mem.get(p)!.buffer).set(Array.from({ length: 2 * rows }, (_, i) => r * 100 + i)); return p; });
    const recv = comms.map(() => f.alloc(n * rows * 8));
    comms.forEach((c, r) => c.allGather(send[r], recv[r], rows * 2, NcclDataType.float32, STREAM));
    for (const p of recv) {
      const v = new Float32Array(f.mem.get(p)!.buffer);
      expect([...v]).toEqual(Array.from({ length: n }, (_, r) => Array.from({ length: 2 * rows }, (_, i) => r * 100 + i)).flat());
    }
    comms.forEach((c) => c.destroy());
    expect(f.destroyed.size).toBe(n);
  });
  it('a failing collective throws NcclError with the call and ncclGetErrorString, and aborts the communicator', () => {
    const f = new FakeNccl();
    const c = NcclCommunicator.initRank(f, 2, NcclCommunicator.uniqueId(f), 1);
    f.failNext.set('ncclAllGather', 6);
    let err: unknown;
    try { c.allGather(f.alloc(8), f.alloc(16), 2, NcclDataType.float32, STREAM); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(NcclError);
    const e = err as NcclError;
    expect(e.call).toBe('ncclAllGather');
    expect(e.code).toBe(6);
    expect(e.errorName).toBe('ncclRemoteError');
    expect(e.message).toBe('ncclAllGather failed with ncclRemoteError (6): remote process exited or there was a network error while gathering 2 elements on rank 1 of 2');
    expect(c.aborted).toBe(true);
    expect(f.calls).toContain('ncclCommAbort');
    expect(() => c.allGather(1n, 2n, 2, NcclDataType.float32, STREAM)).toThrow(/rank 1 is aborted/);
    c.destroy(); // no-op after abort
    expect(f.destroyed.size).toBe(0);
  });
  it('init errors, async errors and group calls', () => {
    const f = new FakeNccl();
    f.failNext.set('ncclCommInitRank', 4);
    expect(() => NcclCommunicator.initRank(f, 2, NcclCommunicator.uniqueId(f), 0)).toThrow('ncclCommInitRank failed with ncclInvalidArgument (4): invalid argument (run with NCCL_DEBUG=WARN for details) while joining rank 0 of 2');
    expect(() => NcclCommunicator.initRank(f, 2, NcclCommunicator.uniqueId(f), 2)).toThrow(/rank must lie in \[0, 2\)/);
    const c = NcclCommunicator.initRank(f, 1, NcclCommunicator.uniqueId(f), 0);
    const p = f.alloc(8), q = f.alloc(8);
    c.group(() => c.allGather(p, q, 2, NcclDataType.float32, STREAM));
    expect(f.calls.slice(-3)).toEqual(['ncclGroupStart', 'ncclAllGather', 'ncclGroupEnd']);
    expect(f.groupDepth).toBe(0);
    f.asyncError = 6;
    expect(() => c.checkAsyncError()).toThrow(/ncclCommGetAsyncError failed with ncclRemoteError \(6\)/);
    expect(c.aborted).toBe(true);
  });
});
