// xoshiro128** (Blackman & Vigna), seeded through splitmix32 so that nearby seeds give unrelated streams.
// Small, fast and reproducible across platforms, which is all verification needs: the same seed must give
// the same accept/reject decisions on every run.
import { checkInt } from './validate.ts';

/** A small seeded random generator (xoshiro128**): `next()` in [0, 1), independent streams per seed. */
export class Xoshiro128 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    checkInt(seed, 'rng seed', -0x80000000, 0xffffffff);
    checkInt(stream, 'rng stream', -0x80000000, 0xffffffff);
    let s = (seed ^ Math.imul(stream, 0x9e3779b9)) >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next(); this.b = next(); this.c = next(); this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // the all-zero state is a fixed point
  }

  nextUint32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a; this.d ^= this.b; this.b ^= this.c; this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  // Uniform in [0, 1) with 32 bits of resolution.
  next(): number {
    return this.nextUint32() / 4294967296;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export interface Rng {
  next(): number;
}
