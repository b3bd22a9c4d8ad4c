// The fake driver (fake-driver.ts) with the plans' own PTX run: every loaded module's kernels execute on the
// PTX machine (tests/unit/codegen/ptx-sim) over the fake device memory, so compiled target and speculator
// plans run end to end without a GPU (slowly: tiny shapes only).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeLlamaCheckpoint } from '../../../bench/make-llama-checkpoint.ts';
import { compileKernel, runBlock } from '../codegen/ptx-sim/machine.ts';
import type { Memory } from '../codegen/ptx-sim/machine.ts';
import { parseKernel } from '../codegen/ptx-sim/parse.ts';
import { FakeCuda } from './fake-driver.ts';

/** The fake driver with every loaded module's kernels run on the PTX machine over the fake device memory. */
export class SimCuda extends FakeCuda {
  override cuModuleLoadDataEx(...a: Parameters<FakeCuda['cuModuleLoadDataEx']>): number {
    const rc = super.cuModuleLoadDataEx(...a);
    if (rc !== 0) return rc;
    const k = parseKernel(new TextDecoder().decode(a[1]).replace(/\0$/, ''));
    const code = compileKernel(k);
    const view = (addr: number, n: number): DataView => { const m = this.mem(BigInt(addr), n); return new DataView(m.buffer, m.byteOffset, n); };
    this.kernels.set(k.name, (call) => {
      const params = new Map(k.params.map((p, i) => [p.name, p.type === 'u64' ? call.u64(i) : BigInt(call.u32(i))]));
      const [gx, gy, gz] = call.grid;
      for (let block = 0; block < gx * gy * gz; block++) { // x fastest, as the hardware numbers blocks
        const shared = new Uint8Array(Math.max(k.sharedBytes, 1));
        const access = (s: 'global' | 'shared', addr: number, n: number): DataView => (s === 'shared' ? new DataView(shared.buffer, addr, n) : view(addr, n));
        const mem: Memory = { load: access, store: access };
        runBlock(k, code, { params, ctaid: block % gx, ctaidY: Math.floor(block / gx) % gy, ctaidZ: Math.floor(block / (gx * gy)), ntid: call.block[0], mem, shared: k.shared }, () => {});
      }
    });
    return 0;
  }
}

/**
 * A 1-layer tiny Llama checkpoint in a new temp folder (prefix `prefix`), and a SimCuda for it with 4 GiB of
 * device memory (KV sizing keeps a 1 GiB activation reserve); remove() deletes the folder.
 */
export function tinySimTarget(prefix: string): { dir: string; sim: SimCuda; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  writeLlamaCheckpoint(dir, { shape: 'tiny', layers: 1, maxShardBytes: 60_000 });
  const sim = new SimCuda();
  sim.capacity = 4 * 2 ** 30;
  return { dir, sim, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
