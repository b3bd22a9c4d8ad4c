// Whether the ptxas suites run: they need ptxas (CUDA 12.8+ for .version 9.0 sm_90); without it they
// skip with the reason in their name, unless ARCTICC_REQUIRE_PTXAS=1 (CI), where a missing ptxas fails.
import { describe, it } from 'vitest';
import { findPtxas } from './ptxas.ts';

export const PTXAS = findPtxas();
const REQUIRED = process.env.ARCTICC_REQUIRE_PTXAS === '1';

/** describe() for suites that assemble modules; `ptxas` is the executable to call. */
export function describePtxas(name: string, fn: (ptxas: string) => void): void {
  if (PTXAS) { describe(name, () => fn(PTXAS)); return; }
  if (REQUIRED) {
    describe(name, () => it('finds ptxas (ARCTICC_REQUIRE_PTXAS=1)', () => {
      throw new Error('ptxas was not found on PATH, /usr/local/cuda/bin or /usr/local/bin, and ARCTICC_REQUIRE_PTXAS=1 requires it');
    }));
    return;
  }
  describe.skip(`${name} [skipped: ptxas not found; install the CUDA toolkit or set ARCTICC_REQUIRE_PTXAS=1 to fail instead]`, () => fn(''));
}
