// PTX instructions as closures over a Thread: the subset our backend emits. Float ops round to f32
// per instruction; ex2/lg2.approx are modelled as correctly rounded.
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, f32ToFp8e4m3, fp8e4m3ToF32 } from '../../../../compiler/ir/numerics.ts';
import type { Instr, ParsedKernel } from './parse.ts';
import type { Exec, LaunchEnv, Thread } from './registers.ts';
import { g16, g32, g64, gp, i64, regRef, s16, s32, s64, sp, sx, toBits, toF, width } from './registers.ts';

function cmp(op: string, a: number | bigint, b: number | bigint, isFloat: boolean): boolean {
  // ordered comparisons are false with a NaN operand; nan/num test for one
  if (isFloat && (Number.isNaN(a) || Number.isNaN(b))) return op === 'nan';
  switch (op) {
    case 'lt': return a < b; case 'le': return a <= b; case 'gt': return a > b; case 'ge': return a >= b;
    case 'eq': return a === b; case 'ne': return a !== b; case 'nan': return false; case 'num': return true;
  }
  throw new Error(`setp.${op}`);
}

/** f32 max/min as PTX: .NaN propagates, plain returns the other operand; +0 > -0. */
function fmax(a: number, b: number, nan: boolean, min: boolean): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return nan || (Number.isNaN(a) && Number.isNaN(b)) ? NaN : Number.isNaN(a) ? b : a;
  return min ? Math.min(a, b) : Math.max(a, b);
}

const fOps: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b,
};

/** Every instruction as a closure, with its guard predicate folded in. */
export function compileKernel(k: ParsedKernel): Exec[] {
  // programmatic dependent launch: nothing may touch memory before the grid dependency wait, so it comes first
  if (k.body[0]?.op !== 'griddepcontrol.wait') throw new Error(`ptx-sim: ${k.name}: the first instruction is "${k.body[0]?.text}", not griddepcontrol.wait`);
  return k.body.map((ins) => {
    const exec = compileInstr(ins, k);
    if (!ins.pred) return exec;
    const i = regRef(ins.pred.reg).i, skip = ins.pred.negate ? 1 : 0;
    return (t, env) => { if (t.p[i] === skip) t.pc++; else exec(t, env); };
  });
}

function compileInstr(ins: Instr, k: ParsedKernel): Exec {
  const parts = ins.op.split('.');
  const base = parts[0], ty = parts[parts.length - 1];
  const a = ins.args;
  const fail = (): never => { throw new Error(`ptx-sim: unsupported instruction "${ins.text}" (line ${ins.line})`); };
  const next = (fn: (t: Thread, env: LaunchEnv) => void): Exec => (t, env) => { fn(t, env); t.pc++; };
  switch (base) {
    case 'ret': return (t) => { t.state = 'exit'; };
    // the simulator runs a plan's launches one after another: the dependency is always met
    case 'griddepcontrol': return next(() => {});
    case 'bar': return (t) => { t.state = 'bar'; t.pc++; };
    case 'bra': { const to = k.labels.get(a[0].text); if (to === undefined) fail(); return (t) => { t.pc = to!; }; }
    case 'shfl': return (t) => { t.state = 'shfl'; };
    case 'mma': return (t) => { t.state = 'mma'; }; // warp-collective: machine.ts runs it for all 32 lanes
    case 'cvta': { const s = g64(a[1]), d = s64(a[0]); return next((t) => d(t, s(t))); }
    case 'mov': {
      if (a[0].kind === 'vec') {
        const items = a[0].items!;
        if (ty === 'b32') { const s = g32(a[1]), d0 = s16(items[0]), d1 = s16(items[1]); return next((t) => { const v = s(t); d0(t, v & 0xffff); d1(t, v >>> 16); }); }
        const s = g64(a[1]), d0 = s32(items[0]), d1 = s32(items[1]);
        return next((t) => { const v = s(t); d0(t, Number(v & 0xffffffffn)); d1(t, Number(v >> 32n)); });
      }
      if (a[1].kind === 'vec') {
        const [x, y] = a[1].items!.map((s) => g32({ kind: 'reg', text: s }));
        const d = s64(a[0]);
        return next((t) => d(t, (BigInt(y(t)) << 32n) | BigInt(x(t))));
      }
      if (ty === 'pred') { const s = gp(a[1]), d = sp(a[0]); return next((t) => d(t, s(t))); }
      if (ty === 'b64' || ty === 'u64') { const s = g64(a[1]), d = s64(a[0]); return next((t) => d(t, s(t))); }
      if (ty === 'b16') { const s = g16(a[1]), d = s16(a[0]); return next((t) => d(t, s(t))); }
      const d = s32(a[0]);
      if (a[1].text === '%tid.x') return next((t) => d(t, t.tid));
      if (a[1].text === '%ctaid.x') return next((t, env) => d(t, env.ctaid));
      if (a[1].text === '%ctaid.y') return next((t, env) => d(t, env.ctaidY ?? 0));
      if (a[1].text === '%ctaid.z') return next((t, env) => d(t, env.ctaidZ ?? 0));
      if (a[1].text === '%ntid.x') return next((t, env) => d(t, env.ntid));
      if (a[1].kind === 'sym') { const off = k.shared.get(a[1].text)?.offset; if (off === undefined) fail(); return next((t) => d(t, off!)); }
      const s = g32(a[1]);
      return next((t) => d(t, s(t)));
    }
    case 'ld': return compileLoad(ins, parts, k);
    case 'st': return compileStore(ins, parts);
    case 'setp': {
      const c = parts[1], d = sp(a[0]);
      if (ty === 'f32') { const x = g32(a[1]), y = g32(a[2]); return next((t) => d(t, cmp(c, toF(x(t)), toF(y(t)), true))); }
      if (ty === 's64' || ty === 'u64') {
        const x = g64(a[1]), y = g64(a[2]), sg = ty === 's64';
        return next((t) => d(t, cmp(c, sg ? i64(x(t)) : x(t), sg ? i64(y(t)) : y(t), false)));
      }
      if (ty === 'b16') { const x = g16(a[1]), y = g16(a[2]); return next((t) => d(t, cmp(c, x(t), y(t), false))); }
      const x = g32(a[1]), y = g32(a[2]), sg = ty === 's32';
      return next((t) => d(t, cmp(c, sg ? sx(x(t)) : x(t), sg ? sx(y(t)) : y(t), false)));
    }
    case 'testp': { const x = g32(a[1]), d = sp(a[0]); return next((t) => d(t, Number.isFinite(toF(x(t))))); }
    case 'selp': {
      const p = gp(a[3]);
      if (ty === 'b64') { const x = g64(a[1]), y = g64(a[2]), d = s64(a[0]); return next((t) => d(t, p(t) ? x(t) : y(t))); }
      if (ty === 'u16') { const x = g16(a[1]), y = g16(a[2]), d = s16(a[0]); return next((t) => d(t, p(t) ? x(t) : y(t))); }
      const x = g32(a[1]), y = g32(a[2]), d = s32(a[0]);
      return next((t) => d(t, p(t) ? x(t) : y(t)));
    }
    case 'and': case 'or': case 'xor': case 'not': {
      if (ty === 'pred') {
        const d = sp(a[0]), x = gp(a[1]);
        if (base === 'not') return next((t) => d(t, !x(t)));
        const y = gp(a[2]);
        return next((t) => d(t, base === 'and' ? x(t) && y(t) : base === 'or' ? x(t) || y(t) : x(t) !== y(t)));
      }
      const d = s32(a[0]), x = g32(a[1]), y = g32(a[2]);
      return next((t) => d(t, (base === 'and' ? x(t) & y(t) : base === 'or' ? x(t) | y(t) : x(t) ^ y(t)) >>> 0));
    }
    case 'shl': case 'shr': {
      const d = s32(a[0]), x = g32(a[1]), y = g32(a[2]);
      return next((t) => d(t, base === 'shl' ? (x(t) << y(t)) >>> 0 : ty === 's32' ? (sx(x(t)) >> y(t)) >>> 0 : x(t) >>> y(t)));
    }
  }
  if (ty === 'f32' && base !== 'cvt') return compileFloat(ins, base, parts);
  return compileInt(ins, base, parts, ty);
}

function compileFloat(ins: Instr, base: string, parts: string[]): Exec {
  const a = ins.args;
  const d = s32(a[0]);
  const x = g32(a[1]);
  const f1 = (fn: (v: number) => number): Exec => (t) => { d(t, toBits(fn(toF(x(t))))); t.pc++; };
  const y = a.length > 2 ? g32(a[2]) : undefined;
  const f2 = (fn: (u: number, v: number) => number): Exec => (t) => { d(t, toBits(fn(toF(x(t)), toF(y!(t))))); t.pc++; };
  switch (base) {
    case 'add': case 'sub': case 'mul': case 'div': return f2(fOps[base]);
    case 'fma': { const z = g32(a[3]); return (t) => { d(t, toBits(toF(x(t)) * toF(y!(t)) + toF(z(t)))); t.pc++; }; }
    case 'max': case 'min': return f2((u, v) => fmax(u, v, parts.includes('NaN'), base === 'min'));
    case 'abs': return (t) => { d(t, x(t) & 0x7fffffff); t.pc++; };
    case 'neg': return (t) => { d(t, (x(t) ^ 0x80000000) >>> 0); t.pc++; };
    case 'copysign': return (t) => { d(t, ((x(t) & 0x80000000) | (y!(t) & 0x7fffffff)) >>> 0); t.pc++; };
    case 'sqrt': return f1(Math.sqrt);
    case 'rcp': return f1((v) => 1 / v);
    case 'ex2': return f1((v) => 2 ** v);
    case 'lg2': return f1(Math.log2);
  }
  throw new Error(`ptx-sim: unsupported instruction "${ins.text}" (line ${ins.line})`);
}

function cvt(ins: Instr, parts: string[]): Exec {
  const a = ins.args;
  const op = parts.slice(1).filter((p) => p !== 'rn' && p !== 'rzi' && p !== 'satfinite').join('.');
  const trunc = parts.includes('rzi');
  const step = (fn: (t: Thread) => void): Exec => (t) => { fn(t); t.pc++; };
  switch (op) {
    case 'rna.tf32.f32': { // round to nearest (ties away) at 10 mantissa bits; Inf/NaN pass through
      const s = g32(a[1]), d = s32(a[0]);
      return step((t) => { const v = s(t); d(t, (v & 0x7f800000) === 0x7f800000 ? v : ((v + 0x1000) & 0xffffe000) >>> 0); });
    }
    case 'bf16x2.f32': { // cvt.rn.bf16x2.f32 d, a, b: a → upper half, b → lower half
      const x = g32(a[1]), y = g32(a[2]), d = s32(a[0]);
      return step((t) => d(t, ((f32ToBf16(toF(x(t))) << 16) | f32ToBf16(toF(y(t)))) >>> 0));
    }
    case 'f32.bf16': { const s = g16(a[1]), d = s32(a[0]); return step((t) => d(t, toBits(bf16ToF32(s(t))))); }
    case 'f32.f16': { const s = g16(a[1]), d = s32(a[0]); return step((t) => d(t, toBits(f16ToF32(s(t))))); }
    case 'bf16.f32': { const s = g32(a[1]), d = s16(a[0]); return step((t) => d(t, f32ToBf16(toF(s(t))))); }
    case 'f16.f32': { const s = g32(a[1]), d = s16(a[0]); return step((t) => d(t, f32ToF16(toF(s(t))))); }
    case 'e4m3x2.f32': {
      const hi = g32(a[1]), lo = g32(a[2]), d = s16(a[0]);
      return step((t) => d(t, (f32ToFp8e4m3(toF(hi(t))) << 8) | f32ToFp8e4m3(toF(lo(t)))));
    }
    case 'f16x2.e4m3x2': {
      const s = g16(a[1]), d = s32(a[0]);
      return step((t) => { const v = s(t); d(t, ((f32ToF16(fp8e4m3ToF32(v >>> 8)) << 16) | f32ToF16(fp8e4m3ToF32(v & 0xff))) >>> 0); });
    }
    case 'f32.s32': case 'f32.u32': { const s = g32(a[1]), d = s32(a[0]), sg = op === 'f32.s32'; return step((t) => d(t, toBits(sg ? sx(s(t)) : s(t)))); }
    case 'f32.s64': { const s = g64(a[1]), d = s32(a[0]); return step((t) => d(t, toBits(Number(i64(s(t)))))); }
    case 's32.f32': case 's64.f32': {
      if (!trunc) break;
      const s = g32(a[1]);
      const sat = (v: number, lo: number, hi: number): number => (Number.isNaN(v) ? 0 : Math.min(hi, Math.max(lo, Math.trunc(v))));
      if (op === 's32.f32') { const d = s32(a[0]); return step((t) => d(t, sat(toF(s(t)), -(2 ** 31), 2 ** 31 - 1) >>> 0)); }
      const d = s64(a[0]);
      return step((t) => {
        const v = toF(s(t));
        d(t, Number.isNaN(v) ? 0n : v >= 2 ** 63 ? 2n ** 63n - 1n : v < -(2 ** 63) ? -(2n ** 63n) : BigInt(Math.trunc(v)));
      });
    }
    case 's64.s32': { const s = g32(a[1]), d = s64(a[0]); return step((t) => d(t, BigInt(sx(s(t))))); }
    case 'u32.u64': { const s = g64(a[1]), d = s32(a[0]); return step((t) => d(t, Number(s(t) & 0xffffffffn))); }
    case 'u64.u32': { const s = g32(a[1]), d = s64(a[0]); return step((t) => d(t, BigInt(s(t)))); }
  }
  throw new Error(`ptx-sim: unsupported instruction "${ins.text}" (line ${ins.line})`);
}

function compileInt(ins: Instr, base: string, parts: string[], ty: string): Exec {
  if (base === 'cvt') return cvt(ins, parts);
  const a = ins.args;
  const fail = (): never => { throw new Error(`ptx-sim: unsupported instruction "${ins.text}" (line ${ins.line})`); };
  if (parts[1] === 'wide') { // mul.wide.u32 / mad.wide.u32: 32 × 32 → 64 (+ 64)
    const x = g32(a[1]), y = g32(a[2]), d = s64(a[0]);
    const z = base === 'mad' ? g64(a[3]) : () => 0n;
    return (t) => { d(t, BigInt(x(t)) * BigInt(y(t)) + z(t)); t.pc++; };
  }
  if (ty === 's64' || ty === 'u64' || ty === 'b64') {
    const d = s64(a[0]), x = g64(a[1]), y = a.length > 2 ? g64(a[2]) : () => 0n;
    const f: Record<string, (u: bigint, v: bigint) => bigint> = {
      add: (u, v) => u + v, sub: (u, v) => u - v, mul: (u, v) => u * v, div: (u, v) => (v === 0n ? -1n : u / v),
      max: (u, v) => (u > v ? u : v), min: (u, v) => (u < v ? u : v), neg: (u) => -u, abs: (u) => (u < 0n ? -u : u),
    };
    const fn = f[base] ?? fail();
    return (t) => { d(t, fn(i64(x(t)), i64(y(t)))); t.pc++; };
  }
  const d = s32(a[0]), x = g32(a[1]), y = a.length > 2 ? g32(a[2]) : () => 0;
  const signed = ty === 's32';
  const v = (n: number): number => (signed ? sx(n) : n);
  let fn: (u: number, w: number, t: Thread) => number;
  switch (base) {
    case 'add': fn = (u, w) => u + w; break;
    case 'sub': fn = (u, w) => u - w; break;
    case 'mul': fn = (u, w) => Math.imul(u, w); break;
    case 'mad': { const z = g32(a[3]); fn = (u, w, t) => Math.imul(u, w) + z(t); break; }
    case 'div': fn = (u, w) => (w === 0 ? -1 : Math.trunc(v(u) / v(w))); break;
    case 'rem': fn = (u, w) => (w === 0 ? -1 : v(u) % v(w)); break;
    case 'max': fn = (u, w) => Math.max(v(u), v(w)); break;
    case 'min': fn = (u, w) => Math.min(v(u), v(w)); break;
    case 'neg': fn = (u) => -sx(u); break;
    case 'abs': fn = (u) => Math.abs(sx(u)); break;
    default: return fail();
  }
  return (t) => { d(t, fn(x(t), y(t), t) >>> 0); t.pc++; };
}

function compileLoad(ins: Instr, parts: string[], k: ParsedKernel): Exec {
  const a = ins.args;
  const space = parts[1];
  const ty = parts[parts.length - 1];
  const addr = a[1];
  if (space === 'param') {
    const name = addr.base!;
    if (!k.params.some((p) => p.name === name)) throw new Error(`ld.param of unknown ${name}`);
    if (ty === 'u64') { const d = s64(a[0]); return (t, env) => { d(t, env.params.get(name)!); t.pc++; }; }
    const d = s32(a[0]);
    return (t, env) => { d(t, Number(env.params.get(name)!)); t.pc++; };
  }
  const sp_ = space === 'shared' ? 'shared' : 'global';
  const at = sp_ === 'shared' ? g32({ kind: 'reg', text: addr.base! }) : g64({ kind: 'reg', text: addr.base! });
  const off = addr.offset ?? 0;
  const vec = parts.find((p) => /^v\d$/.test(p));
  if (vec) {
    const n = Number(vec.slice(1));
    const ds = a[0].items!.map((r) => s32(r));
    return (t, env) => {
      const dv = env.mem.load(sp_, Number(at(t)) + off, 4 * n, t);
      ds.forEach((d, i) => d(t, dv.getUint32(4 * i, true)));
      t.pc++;
    };
  }
  const w = width(ty);
  const bytes = w / 8;
  const read = (dv: DataView): number | bigint => {
    switch (ty) {
      case 'u8': return dv.getUint8(0);
      case 'u16': case 'b16': return dv.getUint16(0, true);
      case 's64': case 'u64': return dv.getBigUint64(0, true);
      default: return dv.getUint32(0, true);
    }
  };
  const reg = regRef(a[0].text);
  const d64 = reg.file === 'rd' ? s64(a[0]) : undefined;
  const d = reg.file === 'rd' ? undefined : reg.file === 'h' ? s16(a[0]) : s32(a[0]);
  return (t, env) => {
    const v = read(env.mem.load(sp_, Number(at(t)) + off, bytes, t));
    if (d64) d64(t, v as bigint); else d!(t, v as number);
    t.pc++;
  };
}

function compileStore(ins: Instr, parts: string[]): Exec {
  const a = ins.args;
  const space = parts[1] === 'shared' ? 'shared' : 'global';
  const ty = parts[parts.length - 1];
  const at = space === 'shared' ? g32({ kind: 'reg', text: a[0].base! }) : g64({ kind: 'reg', text: a[0].base! });
  const off = a[0].offset ?? 0;
  const vec = parts.find((p) => /^v\d$/.test(p));
  if (vec) {
    const vs = a[1].items!.map((r) => g32({ kind: 'reg', text: r }));
    return (t, env) => {
      const dv = env.mem.store(space, Number(at(t)) + off, 4 * vs.length, t);
      vs.forEach((v, i) => dv.setUint32(4 * i, v(t), true));
      t.pc++;
    };
  }
  const bytes = width(ty) / 8;
  if (bytes === 8) {
    const v = g64(a[1]);
    return (t, env) => { env.mem.store(space, Number(at(t)) + off, 8, t).setBigUint64(0, v(t), true); t.pc++; };
  }
  const v = bytes === 4 ? g32(a[1]) : g16(a[1]);
  return (t, env) => {
    const dv = env.mem.store(space, Number(at(t)) + off, bytes, t);
    if (bytes === 4) dv.setUint32(0, v(t), true); else if (bytes === 2) dv.setUint16(0, v(t), true); else dv.setUint8(0, v(t) & 0xff);
    t.pc++;
  };
}
