import { describe, expect, it } from 'vitest';
import type { PickleHooks, PyCallable } from '../../../runtime/checkpoint/pickle.ts';
import { unpickle } from '../../../runtime/checkpoint/pickle.ts';
import { Pickler } from './helpers.ts';

const makeList: PyCallable = { pyName: 'test.make_list', call: (args) => ['made', ...args] };
const hooks: PickleHooks = {
  global: (m, n) => {
    if (`${m}.${n}` === 'test.make_list') return makeList;
    throw new Error(`global ${m}.${n} not allowed`);
  },
  persistentLoad: (pid) => ({ pid }),
};
const run = (p: Pickler | number[]): unknown => unpickle(Array.isArray(p) ? Uint8Array.from(p) : p.done(), 'x.pkl', hooks);

describe('pickle VM', () => {
  it('builds dicts, lists and tuples', () => {
    const v = run(new Pickler().proto(2).emptyDict().put(0).mark()
      .str('a').int(1).str('b').int(300).str('c').int(-5).str('t').mark().int(1).int(2).tuple()
      .setitems().stop());
    expect(v).toEqual(new Map<string, unknown>([['a', 1], ['b', 300], ['c', -5], ['t', [1, 2]]]));
  });

  it('memo: BINPUT/BINGET, LONG_BINPUT/LONG_BINGET, MEMOIZE', () => {
    // [s, s, s] via each memo flavour
    const bytes = [0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0, // PROTO 4, FRAME
      0x5d, 0x8c, 1, 0x78, 0x94, // EMPTY_LIST, SHORT_BINUNICODE 'x', MEMOIZE (-> 0)
      0x71, 3, 0x72, 9, 0, 0, 0, 0x61, // BINPUT 3, LONG_BINPUT 9, APPEND
      0x68, 0, 0x61, 0x6a, 9, 0, 0, 0, 0x61, 0x68, 3, 0x61, 0x2e];
    expect(run(bytes)).toEqual(['x', 'x', 'x', 'x']);
    expect(() => run([0x80, 2, 0x68, 7, 0x2e])).toThrow(/x\.pkl: corrupt pickle at byte \d+: memo key 7 was never stored/);
  });

  it('numbers: BININT*, LONG1 (negative and big), BINFLOAT, booleans and None', () => {
    const long1 = (b: number[]) => [0x8a, b.length, ...b];
    const f = Buffer.alloc(8);
    f.writeDoubleBE(1.5);
    const v = run([0x80, 2, 0x28, ...long1([0xff]), ...long1([0x00, 0x01]), ...long1([]), ...long1([1, 0, 0, 0, 0, 0, 0, 0, 1]),
      0x47, ...f, 0x88, 0x89, 0x4e, 0x74, 0x2e]);
    expect(v).toEqual([-1, 256, 0, (1n << 64n) + 1n, 1.5, true, false, null]);
  });

  it('TUPLE1/2/3, DICT, LIST, STACK_GLOBAL + REDUCE of a whitelisted callable', () => {
    const sg = [0x8c, 4, ...Buffer.from('test'), 0x8c, 9, ...Buffer.from('make_list'), 0x93];
    const v = run([0x80, 2, ...sg, 0x4b, 1, 0x4b, 2, 0x4b, 3, 0x87, 0x52, 0x2e]);
    expect(v).toEqual(['made', 1, 2, 3]);
    expect(run([0x80, 2, 0x28, 0x4b, 1, 0x4b, 2, 0x64, 0x2e])).toEqual(new Map([[1, 2]]));
    expect(run([0x80, 2, 0x28, 0x4b, 1, 0x85, 0x4b, 2, 0x4b, 3, 0x86, 0x6c, 0x2e])).toEqual([[1], [2, 3]]);
  });

  it('BINPERSID goes to persistentLoad; BUILD on a dict keeps the dict', () => {
    expect(run(new Pickler().proto().str('k').persid().stop())).toEqual({ pid: 'k' });
    expect(run(new Pickler().proto().emptyDict().emptyDict().op(0x62).stop())).toEqual(new Map());
  });

  it('refuses what it cannot do', () => {
    expect(() => run(new Pickler().proto().global('os', 'system'))).toThrow(/global os\.system not allowed/);
    expect(() => run([0x80, 2, 0x29, 0x4b, 1, 0x61, 0x2e])).toThrow(/APPEND\(S\) on something that is not a list/);
    expect(() => run([0x80, 2, 0x4e, 0x29, 0x52, 0x2e])).toThrow(/REDUCE on something that is not a whitelisted callable/);
    expect(() => run([0x80, 2, 0x30, 0x2e])).toThrow(/stack underflow/);
    expect(() => run([0x80, 2, 0x75, 0x2e])).toThrow(/no MARK on the stack/);
    expect(() => run([0x80, 9])).toThrow(/unsupported protocol 9/);
    expect(() => run([0x80, 2, 0x58, 0xff, 0, 0, 0, 0x41])).toThrow(/needs 255 more bytes/);
    expect(() => run([0x80, 2, 0x49])).toThrow(/unsupported opcode 0x49/); // text INT: protocol 0 only
  });
});
