// A minimal pickle virtual machine for the opcodes torch.save emits (protocols 2 to 5).
// It never imports or runs anything: every GLOBAL goes through the caller's whitelist (hooks.global),
// and REDUCE can only call the JS stand-ins that whitelist returned.
import { CheckpointError } from './errors.ts';

/** A whitelisted Python callable, implemented in JS. */
export interface PyCallable {
  readonly pyName: string;
  call(args: readonly unknown[]): unknown;
}

export interface PickleHooks {
  /** Resolve `module.name`; throw for anything outside the whitelist. */
  global(module: string, name: string): unknown;
  /** Resolve a BINPERSID id (torch: a storage reference). */
  persistentLoad(pid: unknown): unknown;
}

const isCallable = (v: unknown): v is PyCallable => typeof v === 'object' && v !== null && typeof (v as PyCallable).call === 'function';

/** Tuples are frozen arrays, so APPEND on one fails like it would in Python. */
const tuple = (items: unknown[]): readonly unknown[] => Object.freeze(items);

/** Run a pickle and return the value STOP leaves. Errors name `file`. */
export function unpickle(bytes: Uint8Array, file: string, hooks: PickleHooks): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;

  const fail = (what: string): never => { throw new CheckpointError(file, `corrupt pickle at byte ${pos}: ${what}`); };
  const need = (n: number): number => {
    if (n < 0 || pos + n > bytes.length) fail(`needs ${n} more bytes but the pickle ends at ${bytes.length}`);
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = (): number => bytes[need(1)];
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => Number(view.getBigUint64(need(8), true));
  const take = (n: number): Uint8Array => bytes.subarray(need(n), pos);
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line');
    return latin1.decode(take(end - pos + 1)).slice(0, -1);
  };
  const pop = (): unknown => (stack.length > 0 ? stack.pop() : fail('stack underflow'));
  const top = (): unknown => (stack.length > 0 ? stack[stack.length - 1] : fail('stack underflow'));
  const popMark = (): unknown[] => {
    const m = marks.pop() ?? fail('no MARK on the stack');
    return stack.splice(m);
  };
  const longLE = (b: Uint8Array): number | bigint => {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length > 0 && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const setItems = (d: unknown, kv: unknown[]): void => {
    if (!(d instanceof Map)) fail('SETITEM(S) on something that is not a dict');
    if (kv.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) (d as Map<unknown, unknown>).set(kv[i], kv[i + 1]);
  };
  const append = (l: unknown, items: unknown[]): void => {
    if (!Array.isArray(l) || Object.isFrozen(l)) fail('APPEND(S) on something that is not a list');
    (l as unknown[]).push(...items);
  };
  const call = (fn: unknown, args: unknown): unknown => {
    if (!isCallable(fn)) fail('REDUCE on something that is not a whitelisted callable');
    if (!Array.isArray(args)) fail('REDUCE arguments are not a tuple');
    return (fn as PyCallable).call(args as unknown[]);
  };

  for (;;) {
    if (pos >= bytes.length) fail('ended without STOP');
    const op = u8();
    switch (op) {
      case 0x80: { const v = u8(); if (v < 2 || v > 5) fail(`unsupported protocol ${v}`); break; } // PROTO
      case 0x95: need(8); break; // FRAME: framing only helps streaming readers
      case 0x2e: return pop(); // STOP
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(view.getInt32(need(4), true)); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(longLE(take(u8()))); break; // LONG1
      case 0x8b: stack.push(longLE(take(view.getInt32(need(4), true)))); break; // LONG4
      case 0x47: stack.push(view.getFloat64(need(8), false)); break; // BINFLOAT (big-endian)
      case 0x58: case 0x8c: case 0x8d: { // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
        const n = op === 0x58 ? u32() : op === 0x8c ? u8() : u64();
        const raw = take(n);
        try { stack.push(utf8.decode(raw)); } catch { fail('string is not valid UTF-8'); }
        break;
      }
      case 0x54: stack.push(latin1.decode(take(u32()))); break; // BINSTRING
      case 0x55: stack.push(latin1.decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: stack.push(take(u64()).slice()); break; // BINBYTES8
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(tuple([])); break; // EMPTY_TUPLE
      case 0x64: { const d = new Map(); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x74: stack.push(tuple(popMark())); break; // TUPLE
      case 0x85: stack.push(tuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push(tuple([pop(), b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push(tuple([pop(), b, c])); break; } // TUPLE3
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) fail(`memo key ${k} was never stored`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63: { const module = line(); stack.push(hooks.global(module, line())); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL operands are not strings');
        stack.push(hooks.global(module as string, name as string));
        break;
      }
      case 0x51: stack.push(hooks.persistentLoad(pop())); break; // BINPERSID
      case 0x52: case 0x81: { const args = pop(); stack.push(call(pop(), args)); break; } // REDUCE, NEWOBJ
      case 0x62: { // BUILD: only OrderedDict's instance dict (state_dict()._metadata) reaches here; it is not needed.
        pop();
        if (!(top() instanceof Map)) fail('BUILD on an object that is not a dict');
        break;
      }
      default:
        fail(`unsupported opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}
