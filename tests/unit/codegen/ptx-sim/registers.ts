// The PTX machine's state: threads with raw-bit register files, operand readers and writers, and the
// memory interface the plan runner implements (bounds, alignment and race checks live there).
import type { Operand, ParsedKernel } from './parse.ts';

const F = new Float32Array(1), U = new Uint32Array(F.buffer);
export const toF = (bits: number): number => { U[0] = bits; return F[0]; };
export const toBits = (x: number): number => { F[0] = x; return U[0]; };

export class Thread {
  readonly r: Uint32Array; readonly f: Uint32Array; readonly rd: BigUint64Array; readonly h: Uint16Array; readonly p: Uint8Array;
  pc = 0;
  state: 'run' | 'bar' | 'shfl' | 'mma' | 'exit' = 'run';
  readonly tid: number;
  constructor(k: ParsedKernel, tid: number) {
    const n = (p: string): number => k.regs.get(p) ?? 0;
    this.r = new Uint32Array(n('%r')); this.f = new Uint32Array(n('%f')); this.rd = new BigUint64Array(n('%rd'));
    this.h = new Uint16Array(n('%h')); this.p = new Uint8Array(n('%p'));
    this.tid = tid;
  }
}

export interface Memory {
  load(space: 'global' | 'shared', addr: number, bytes: number, t: Thread): DataView;
  store(space: 'global' | 'shared', addr: number, bytes: number, t: Thread): DataView;
}

export interface LaunchEnv {
  readonly params: ReadonlyMap<string, bigint>;
  readonly ctaid: number;
  /** %ctaid.y (2-D grids; 0 otherwise) */
  readonly ctaidY?: number;
  /** %ctaid.z (3-D grids; 0 otherwise) */
  readonly ctaidZ?: number;
  readonly ntid: number;
  readonly mem: Memory;
  readonly shared: ReadonlyMap<string, { offset: number }>;
}

export type Exec = (t: Thread, env: LaunchEnv) => void;
export type Getter<T> = (t: Thread) => T;

const REG = /^%(rd|r|f|h|p)(\d+)$/;

export function regRef(text: string): { file: 'r' | 'f' | 'rd' | 'h' | 'p'; i: number } {
  const m = REG.exec(text);
  if (!m) throw new Error(`not a register: ${text}`);
  return { file: m[1] as 'r' | 'f' | 'rd' | 'h' | 'p', i: Number(m[2]) };
}

function immBits(text: string, width: 16 | 32): number {
  if (text.startsWith('0f')) return parseInt(text.slice(2), 16) >>> 0;
  const v = BigInt(text);
  return Number(BigInt.asUintN(width, v));
}

export function g32(o: Operand): Getter<number> {
  if (o.kind === 'imm') { const v = immBits(o.text, 32); return () => v; }
  const { file, i } = regRef(o.text);
  if (file === 'r') return (t) => t.r[i];
  if (file === 'f') return (t) => t.f[i];
  if (file === 'h') return (t) => t.h[i];
  throw new Error(`${o.text} is not a 32-bit value`);
}
export function g64(o: Operand): Getter<bigint> {
  if (o.kind === 'imm') { const v = BigInt.asUintN(64, BigInt(o.text)); return () => v; }
  const { file, i } = regRef(o.text);
  if (file !== 'rd') throw new Error(`${o.text} is not a 64-bit value`);
  return (t) => t.rd[i];
}
export function g16(o: Operand): Getter<number> {
  if (o.kind === 'imm') { const v = immBits(o.text, 16); return () => v; }
  const { file, i } = regRef(o.text);
  if (file === 'h') return (t) => t.h[i];
  if (file === 'r') return (t) => t.r[i] & 0xffff;
  throw new Error(`${o.text} is not a 16-bit value`);
}
export function gp(o: Operand): Getter<boolean> {
  if (o.kind === 'imm') { const v = o.text !== '0'; return () => v; }
  const { i } = regRef(o.text);
  return (t) => t.p[i] === 1;
}
export function s32(o: Operand | string): (t: Thread, v: number) => void {
  const { file, i } = regRef(typeof o === 'string' ? o : o.text);
  if (file === 'r') return (t, v) => { t.r[i] = v; };
  if (file === 'f') return (t, v) => { t.f[i] = v; };
  if (file === 'h') return (t, v) => { t.h[i] = v; };
  throw new Error(`cannot write 32 bits to ${file}`);
}
export function s64(o: Operand | string): (t: Thread, v: bigint) => void {
  const { i } = regRef(typeof o === 'string' ? o : o.text);
  return (t, v) => { t.rd[i] = BigInt.asUintN(64, v); };
}
export function s16(o: Operand | string): (t: Thread, v: number) => void {
  const { file, i } = regRef(typeof o === 'string' ? o : o.text);
  if (file === 'h') return (t, v) => { t.h[i] = v; };
  if (file === 'r') return (t, v) => { t.r[i] = v & 0xffff; };
  throw new Error(`cannot write 16 bits to ${file}`);
}
export function sp(o: Operand): (t: Thread, v: boolean) => void {
  const { i } = regRef(o.text);
  return (t, v) => { t.p[i] = v ? 1 : 0; };
}

export const sx = (v: number): number => v | 0;
export const i64 = (v: bigint): bigint => BigInt.asIntN(64, v);
export const width = (ty: string): 16 | 32 | 64 | 8 => (ty.endsWith('64') ? 64 : ty.endsWith('16') ? 16 : ty.endsWith('8') ? 8 : 32);
