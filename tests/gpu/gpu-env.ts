// Opt-in switch for the GPU suite: without ARCTICC_GPU=1 every suite is skipped, and its name says why.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';

export const GPU = process.env.ARCTICC_GPU === '1';
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMPILER = existsSync(`${ROOT}compiler/compile.ts`);

const why = !GPU ? 'skipped: set ARCTICC_GPU=1 on a machine with an NVIDIA GPU' : '';
/** describe() that runs only with ARCTICC_GPU=1 */
export const describeGpu = (name: string, fn: () => void): void => {
  describe.skipIf(!GPU)(GPU ? name : `${name} [${why}]`, fn);
};
/** describe() that also needs the PTX compiler (compiler/compile.ts) */
export const describeGpuCompiled = (name: string, fn: () => void): void => {
  const skip = !GPU || !COMPILER;
  const reason = !GPU ? why : 'skipped: compiler/compile.ts (compileProgram) is not in this tree';
  describe.skipIf(skip)(skip ? `${name} [${reason}]` : name, fn);
};

/** A deterministic generator seeded per test run (printed on failure so a run can be replayed). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}
export const freshSeed = (): number => (Date.now() ^ (process.pid << 16)) >>> 0;
