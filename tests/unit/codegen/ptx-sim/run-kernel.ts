// Run one hand-emitted kernel (not a plan) on the PTX machine: named buffers laid out in one address
// space, u32/u64 scalar arguments, a 1-D grid; every access bounds- and alignment-checked. For runtime
// kernels such as the device AdamW (compiler/codegen/ptx/kernel-adamw.ts).
import type { Memory, Thread } from './machine.ts';
import { compileKernel, runBlock } from './machine.ts';
import { parseKernel } from './parse.ts';

export type KernelArg = { buffer: string } | { u32: number } | { u64: bigint };

const BASE = 0x10000;

export class SimMemory {
  readonly #regions = new Map<string, { base: number; bytes: Uint8Array }>();
  #top = BASE;
  add(name: string, data: ArrayBufferView): void {
    const bytes = new Uint8Array(data.byteLength);
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.#regions.set(name, { base: this.#top, bytes });
    this.#top += Math.ceil(Math.max(1, bytes.length) / 256) * 256;
  }
  address(name: string): bigint { return BigInt(this.#regions.get(name)!.base); }
  f32(name: string): Float32Array { const r = this.#regions.get(name)!.bytes; return new Float32Array(r.buffer.slice(0)); }
  view(space: 'global', a: number, n: number, at: string): DataView {
    for (const [name, r] of this.#regions) {
      if (a >= r.base && a + n <= r.base + r.bytes.length) {
        if (a % Math.min(n, 16) !== 0) throw new Error(`sim: ${at}: misaligned ${n}-byte access in ${name}`);
        return new DataView(r.bytes.buffer, a - r.base, n);
      }
    }
    throw new Error(`sim: ${at}: ${n}-byte ${space} access at 0x${a.toString(16)} is outside every buffer`);
  }
}

export function runKernelSim(ptx: string, grid: number, args: Readonly<Record<string, KernelArg>>, mem: SimMemory): void {
  const k = parseKernel(ptx);
  const code = compileKernel(k);
  const values = new Map<string, bigint>();
  for (const p of k.params) {
    const a = args[p.name];
    if (!a) throw new Error(`sim: ${k.name}: no argument ${p.name}`);
    values.set(p.name, 'buffer' in a ? mem.address(a.buffer) : 'u32' in a ? BigInt(a.u32) : a.u64);
  }
  for (let block = 0; block < grid; block++) {
    const shared = new Uint8Array(Math.max(k.sharedBytes, 1));
    const at = (t: Thread): string => `${k.name} block ${block} thread ${t.tid} (line ${k.body[t.pc].line}: ${k.body[t.pc].text})`;
    const access = (s: 'global' | 'shared', a: number, n: number, t: Thread): DataView => {
      if (s === 'shared') {
        if (a < 0 || a + n > k.sharedBytes) throw new Error(`sim: ${at(t)}: shared access out of bounds`);
        return new DataView(shared.buffer, a, n);
      }
      return mem.view('global', a, n, at(t));
    };
    const memory: Memory = { load: access, store: access };
    runBlock(k, code, { params: values, ctaid: block, ntid: k.maxntid, mem: memory, shared: k.shared }, () => {});
  }
}
