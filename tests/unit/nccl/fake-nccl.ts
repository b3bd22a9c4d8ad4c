// A CPU stand-in for libnccl with the NcclLib shape: communicators of one in-process "world" over a
// shared map of fake device buffers. An all-gather completes when every rank has enqueued it (the
// ranks of one test call in turn, as separate processes would concurrently).
import type { CUdeviceptr, CUstream, HandleOut } from '../../../runtime/cuda/driver.ts';
import type { NcclComm, NcclLib, NcclUniqueId } from '../../../runtime/nccl/nccl.ts';

const STRINGS: Record<number, string> = { 0: 'no error', 4: 'invalid argument (run with NCCL_DEBUG=WARN for details)', 6: 'remote process exited or there was a network error' };

export class FakeNccl implements NcclLib {
  readonly mem = new Map<bigint, Uint8Array>();
  readonly calls: string[] = [];
  readonly aborted = new Set<bigint>();
  readonly destroyed = new Set<bigint>();
  /** the next call of this name returns the code */
  failNext = new Map<string, number>();
  asyncError = 0;
  #next = 0x5000n;
  #comms = new Map<bigint, { nranks: number; rank: number }>();
  #pending: { rank: number; send: bigint; recv: bigint; bytes: number; stream: CUstream }[] = [];
  #groupDepth = 0;

  #rc(name: string): number {
    this.calls.push(name);
    const f = this.failNext.get(name);
    if (f !== undefined) { this.failNext.delete(name); return f; }
    return 0;
  }
  alloc(bytes: number): bigint { const p = this.#next; this.#next += 0x1000n; this.mem.set(p, new Uint8Array(bytes)); return p; }

  ncclGetVersion(out: Int32Array): number { out[0] = 22809; return this.#rc('ncclGetVersion'); }
  ncclGetUniqueId(out: NcclUniqueId): number { for (let i = 0; i < out.internal.length; i++) out.internal[i] = (i * 7 + 3) & 255; return this.#rc('ncclGetUniqueId'); }
  ncclCommInitRank(out: HandleOut, nranks: number, id: NcclUniqueId, rank: number): number {
    const rc = this.#rc('ncclCommInitRank');
    if (rc) return rc;
    if (id.internal.length !== 128) return 4;
    const h = this.#next; this.#next += 0x10n;
    this.#comms.set(h, { nranks, rank });
    out[0] = h;
    return 0;
  }
  ncclAllGather(send: CUdeviceptr, recv: CUdeviceptr, sendcount: number | bigint, datatype: number, comm: NcclComm, stream: CUstream): number {
    const rc = this.#rc('ncclAllGather');
    if (rc) return rc;
    const c = this.#comms.get(comm);
    if (!c || this.aborted.has(comm)) return 4;
    const size = datatype === 7 || datatype === 2 || datatype === 3 ? 4 : datatype === 4 || datatype === 5 || datatype === 8 ? 8 : datatype <= 1 ? 1 : 2;
    this.#pending.push({ rank: c.rank, send, recv, bytes: Number(sendcount) * size, stream });
    if (this.#pending.length === c.nranks) {
      const parts = [...this.#pending].sort((a, b) => a.rank - b.rank);
      for (const dst of parts) {
        const r = this.mem.get(dst.recv)!;
        for (const src of parts) r.set(this.mem.get(src.send)!.subarray(0, src.bytes), src.rank * src.bytes);
      }
      this.#pending = [];
    }
    return 0;
  }
  ncclGroupStart(): number { this.#groupDepth++; return this.#rc('ncclGroupStart'); }
  ncclGroupEnd(): number { this.#groupDepth--; return this.#rc('ncclGroupEnd'); }
  get groupDepth(): number { return this.#groupDepth; }
  ncclCommGetAsyncError(_comm: NcclComm, out: Int32Array): number { out[0] = this.asyncError; return this.#rc('ncclCommGetAsyncError'); }
  ncclCommAbort(comm: NcclComm): number { this.aborted.add(comm); return this.#rc('ncclCommAbort'); }
  ncclCommDestroy(comm: NcclComm): number { this.destroyed.add(comm); return this.#rc('ncclCommDestroy'); }
  ncclGetErrorString(code: number): string | null { return STRINGS[code] ?? 'unknown result code'; }
}
