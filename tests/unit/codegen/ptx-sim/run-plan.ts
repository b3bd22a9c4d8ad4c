// Run an ExecutionPlan on the PTX machine (state buffers start from the caller's input of that name and
// come back under their output's name): buffers at the actual dims (so a read past the live batch
// is caught, not hidden by maxDims padding), outputs and the arena poisoned with 0xFF bytes, and every
// access checked: inside one of the launch's buffers, naturally aligned, and race-free (no block reads
// or rewrites what another block of the same launch wrote; within a block, no thread reads what
// another wrote, or overwrites shared memory another read, without a bar.sync in between).
import type { ExecutionPlan, PlanBuffer } from '../../../../compiler/codegen/plan.ts';
import { evalGrid } from '../../../../compiler/codegen/plan.ts';
import { withDerivedWeights } from '../../../../compiler/codegen/derive-weights.ts';
import { itemSize } from '../../../../compiler/ir/dtype.ts';
import type { HostTensor } from '../../../../compiler/ir/tensor-data.ts';
import { allocData, hostTensor, numel } from '../../../../compiler/ir/tensor-data.ts';
import type { Memory, Thread } from './machine.ts';
import { compileKernel, runBlock } from './machine.ts';
import type { ParsedKernel } from './parse.ts';
import { parseKernel } from './parse.ts';

interface Region { readonly id: string; readonly base: number; readonly bytes: number }

const BASE = 0x10000;

function bindDims(plan: ExecutionPlan, inputs: Readonly<Record<string, HostTensor>>): Map<string, number> {
  const dims = new Map<string, number>();
  for (const id of plan.inputs) {
    const b = plan.buffers.find((x) => x.id === id)!;
    const t = inputs[b.name!];
    if (!t) throw new Error(`sim: missing input ${b.name}`);
    b.shape.forEach((d, i) => {
      if (typeof d === 'string') dims.set(d, t.shape[i]);
      else if (d !== t.shape[i]) throw new Error(`sim: input ${b.name} has shape [${t.shape}]`);
    });
  }
  return dims;
}

/** `o.temps`: temp buffer ids to return too (as "temp:<id>", at the actual dims), e.g. the certified head's fail flags.
 * `o.loadBytes`: filled with the global bytes each buffer id was read, over all launches (traffic tests). */
export function runPlanSim(plan: ExecutionPlan, inputs: Readonly<Record<string, HostTensor>>, given: ReadonlyMap<string, HostTensor>, o: { temps?: readonly string[]; loadBytes?: Map<string, number> } = {}): Record<string, HostTensor> {
  const params = withDerivedWeights(plan, given); // as the CUDA executor binds them
  const dims = bindDims(plan, inputs);
  const sizeOf = (b: PlanBuffer): number => numel(b.shape.map((d) => (typeof d === 'number' ? d : dims.get(d)!))) * itemSize(b.dtype);
  // lay out every non-temp buffer and the arena in one address space, 256-byte aligned like cuMemAlloc
  let top = BASE;
  const place = (bytes: number): number => { const at = top; top += Math.ceil(Math.max(bytes, 1) / 256) * 256; return at; };
  const addr = new Map<string, number>();
  for (const b of plan.buffers) if (b.kind !== 'temp') addr.set(b.id, place(sizeOf(b)));
  const arena = place(plan.arenaBytes);
  for (const b of plan.buffers) if (b.kind === 'temp') addr.set(b.id, arena + b.offset!);
  const mem = new Uint8Array(top - BASE);
  mem.fill(0xff, arena - BASE, arena - BASE + plan.arenaBytes);
  const byId = new Map(plan.buffers.map((b) => [b.id, b]));
  const upload = (id: string, t: HostTensor): void => {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (bytes.length !== sizeOf(byId.get(id)!)) throw new Error(`sim: ${id} needs ${sizeOf(byId.get(id)!)} bytes, got ${bytes.length}`);
    mem.set(bytes, addr.get(id)! - BASE);
  };
  for (const b of plan.buffers) {
    if (b.kind === 'input') upload(b.id, inputs[b.name!]);
    // donated state (a KV cache): the caller's tensor is the buffer's initial contents
    if (b.kind === 'state') { const t = inputs[b.name!]; if (!t) throw new Error(`sim: missing state input ${b.name}`); upload(b.id, t); }
    if (b.kind === 'param') { const t = params.get(b.name!); if (!t) throw new Error(`sim: missing weight ${b.name}`); upload(b.id, t); }
    if (b.kind === 'output') mem.fill(0xff, addr.get(b.id)! - BASE, addr.get(b.id)! - BASE + sizeOf(b));
  }
  const parsed = new Map<string, { k: ParsedKernel; code: ReturnType<typeof compileKernel> }>();
  for (const k of plan.kernels) {
    const pk = parseKernel(plan.modules[k.module]);
    parsed.set(k.name, { k: pk, code: compileKernel(pk) });
  }

  plan.launches.forEach((l, li) => {
    const { k, code } = parsed.get(l.kernel)!;
    const kernel = plan.kernels.find((x) => x.name === l.kernel)!;
    const where = `launch ${li} (${l.kernel})`;
    const regions: Region[] = [];
    const values = new Map<string, bigint>();
    l.args.forEach((a, i) => {
      const name = kernel.params[i].name;
      if ('buffer' in a) {
        const base = addr.get(a.buffer)!;
        const bytes = sizeOf(byId.get(a.buffer)!);
        for (const r of regions) if (base < r.base + r.bytes && r.base < base + bytes) throw new Error(`sim: ${where}: buffers ${r.id} and ${a.buffer} overlap`);
        regions.push({ id: a.buffer, base, bytes });
        values.set(name, BigInt(base));
      } else if ('dim' in a) values.set(name, BigInt(dims.get(a.dim)!));
      else if ('u32' in a) values.set(name, BigInt(a.u32));
      else throw new Error('sim: f32 launch arguments are not used by this backend');
    });
    const grid = l.grid.map((g) => evalGrid(g, dims));
    const writer = new Map<number, number>(); // global byte → block·2^20 + thread (one launch)
    // blocks in launch order, x fastest (block = (z·grid_y + y)·grid_x + x)
    for (let block = 0; block < grid[0] * grid[1] * grid[2]; block++) {
      const shared = new Uint8Array(Math.max(k.sharedBytes, 1));
      const sView = new DataView(shared.buffer);
      let epoch = 0;
      const sWrite = new Map<number, number>(), sRead = new Map<number, number>(), gEpoch = new Map<number, number>();
      const check = (space: 'global' | 'shared', a: number, bytes: number, t: Thread, write: boolean): DataView => {
        const at = `${where} block ${block} thread ${t.tid} pc ${t.pc} (line ${k.body[t.pc].line}: ${k.body[t.pc].text})`;
        if (a % Math.min(bytes, 16) !== 0) throw new Error(`sim: ${at}: misaligned ${bytes}-byte access at 0x${a.toString(16)}`);
        if (space === 'shared') {
          if (a < 0 || a + bytes > k.sharedBytes) throw new Error(`sim: ${at}: shared access out of bounds`);
          for (let i = a; i < a + bytes; i++) {
            const w = sWrite.get(i), r = sRead.get(i);
            if (w !== undefined && Math.floor(w / 4096) === epoch && w % 4096 !== t.tid) throw new Error(`sim: ${at}: shared race with thread ${w % 4096} (no bar.sync between)`);
            if (write && r !== undefined && Math.floor(r / 4096) === epoch && r % 4096 !== t.tid) throw new Error(`sim: ${at}: shared write after another thread's read without bar.sync`);
            (write ? sWrite : sRead).set(i, epoch * 4096 + t.tid);
          }
          return new DataView(shared.buffer, a, bytes);
        }
        const r = regions.find((x) => a >= x.base && a + bytes <= x.base + x.bytes);
        if (!r) throw new Error(`sim: ${at}: ${bytes}-byte access at 0x${a.toString(16)} is outside every buffer of this launch`);
        if (!write && o.loadBytes) o.loadBytes.set(r.id, (o.loadBytes.get(r.id) ?? 0) + bytes);
        for (let i = a; i < a + bytes; i++) {
          const w = writer.get(i);
          if (w !== undefined) {
            const wb = Math.floor(w / 4096), wt = w % 4096;
            if (wb !== block) throw new Error(`sim: ${at}: ${r.id} byte ${i - r.base} was written by block ${wb} of the same launch`);
            if (wt !== t.tid && gEpoch.get(i) === epoch) throw new Error(`sim: ${at}: ${r.id} byte ${i - r.base} written by thread ${wt} without a bar.sync between`);
          }
          if (write) { writer.set(i, block * 4096 + t.tid); gEpoch.set(i, epoch); }
        }
        return new DataView(mem.buffer, a - BASE, bytes);
      };
      const memory: Memory = {
        load: (s, a, n, t) => check(s, a, n, t, false),
        store: (s, a, n, t) => check(s, a, n, t, true),
      };
      runBlock(k, code, { params: values, ctaid: block % grid[0], ctaidY: Math.floor(block / grid[0]) % grid[1], ctaidZ: Math.floor(block / (grid[0] * grid[1])), ntid: kernel.block[0], mem: memory, shared: k.shared }, () => { epoch++; });
    }
  });

  const out: Record<string, HostTensor> = {};
  for (const r of [...plan.outputs, ...(plan.state ?? []).flatMap((x) => (x.output ? [{ name: x.output, buffer: x.buffer }] : [])), ...(o.temps ?? []).map((id) => ({ name: `temp:${id}`, buffer: id }))]) {
    const b = byId.get(r.buffer)!;
    const shape = b.shape.map((d) => (typeof d === 'number' ? d : dims.get(d)!));
    const data = allocData(b.dtype, numel(shape));
    new Uint8Array(data.buffer).set(mem.subarray(addr.get(b.id)! - BASE, addr.get(b.id)! - BASE + sizeOf(b)));
    out[r.name] = hostTensor(b.dtype, shape, data);
  }
  return out;
}
