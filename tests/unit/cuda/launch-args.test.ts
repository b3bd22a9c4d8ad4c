import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { ArgBlock, argLayout, encodeArgs } from '../../../runtime/cuda/launch.ts';

describe('argument layout', () => {
  it('aligns u64 to 8 and u32/f32 to 4, rounding each launch to 8 bytes', () => {
    expect(argLayout(['u64', 'u32', 'f32'])).toEqual({ offsets: [0, 8, 12], size: 16 });
    expect(argLayout(['u32', 'u64', 'u32'])).toEqual({ offsets: [0, 8, 16], size: 24 });
    expect(argLayout(['f32'])).toEqual({ offsets: [0], size: 8 });
    expect(argLayout([])).toEqual({ offsets: [], size: 0 });
  });

  it('encodes values little-endian as their types', () => {
    const v = new DataView(new ArrayBuffer(32));
    const types = ['u64', 'u32', 'f32'] as const;
    encodeArgs(v, 8, types, argLayout(types), [0x7f00_1234_5678n, 4096, 0.5]);
    expect(v.getBigUint64(8, true)).toBe(0x7f00_1234_5678n);
    expect(v.getUint32(16, true)).toBe(4096);
    expect(v.getFloat32(20, true)).toBe(0.5);
  });

  it('rejects values outside their type and wrong argument counts', () => {
    const v = new DataView(new ArrayBuffer(16));
    expect(() => encodeArgs(v, 0, ['u32'], argLayout(['u32']), [-1])).toThrow(/argument 0 \(u32\) out of range: -1/);
    expect(() => encodeArgs(v, 0, ['u32'], argLayout(['u32']), [2 ** 32])).toThrow(/out of range/);
    expect(() => encodeArgs(v, 0, ['u64'], argLayout(['u64']), [-1n])).toThrow(/u64/);
    expect(() => encodeArgs(v, 0, ['u32', 'u32'], argLayout(['u32', 'u32']), [1])).toThrow('kernel takes 2 arguments, got 1');
  });
});

describe('ArgBlock', () => {
  it('packs launches back to back and gives kernelParams addresses into one stable buffer', () => {
    const a = ['u64', 'u64', 'u32'] as const, b = ['u32', 'f32'] as const;
    const blk = new ArgBlock(ArgBlock.bytesFor([a, b]));
    expect(blk.buffer.byteLength).toBe(64); // 24 + 8, at least 64
    const p1 = blk.pack(a, [0x1000n, 0x2000n, 7]);
    const p2 = blk.pack(b, [3, -1.25]);
    expect([...p1.params]).toEqual([blk.base, blk.base + 8n, blk.base + 16n]);
    expect([...p2.params]).toEqual([blk.base + 24n, blk.base + 28n]);
    // the addresses really point at the values (read back through a native view of the same bytes)
    const view = new DataView(koffi.view(blk.base, 32));
    expect(view.getBigUint64(8, true)).toBe(0x2000n);
    expect(view.getUint32(16, true)).toBe(7);
    expect(view.getFloat32(28, true)).toBe(-1.25);
    expect(koffi.address(new Uint8Array(blk.buffer))).toBe(blk.base);
  });
  it('refuses to overflow', () => {
    const blk = new ArgBlock(8);
    for (let i = 0; i < 8; i++) blk.pack(['u64'], [1n]);
    expect(() => blk.pack(['u64'], [1n])).toThrow(/argument block full/);
  });
});
