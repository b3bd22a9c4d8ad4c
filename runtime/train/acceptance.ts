// Offline greedy acceptance length (tests/fixtures/target/README.md): the target continues each prompt
// greedily for 256 tokens; at every generated position j (with the whole lookahead inside the text) the
// drafter gets the final-norm hidden state that produced token g_j and g_j itself, and proposes n tokens;
// accepted = how many of them match g_{j+1…j+n} from the first on. AL = 1 + mean accepted.
import { generate } from '../engine/generate.ts';
import type { Speculator } from '../speculator.ts';
import type { TargetModel } from '../target/target-model.ts';

export interface AcceptanceResult {
  readonly acceptanceLength: number;
  /** fraction of positions whose draft matched through position i */
  readonly perPosition: number[];
  readonly positions: number;
  readonly prompts: number;
}

export async function offlineAcceptance(t: TargetModel, spec: Speculator, prompts: readonly (readonly number[])[], o: { genLen?: number; onProgress?: (d: number, n: number) => void } = {}): Promise<AcceptanceResult> {
  const genLen = o.genLen ?? 256;
  const n = spec.numSpeculativeTokens, H = t.hiddenSize;
  const hits = new Array<number>(n).fill(0);
  let positions = 0, accepted = 0;
  const chunk = Math.max(1, t.maxNumSeqs);
  for (let at = 0; at < prompts.length; at += chunk) {
    const part = prompts.slice(at, at + chunk);
    const { outputs } = await generate(t, part, { maxNewTokens: genLen, temperature: 0, stopTokenIds: [] });
    const seqs = part.map((p, i) => [...p, ...outputs[i].tokenIds]);
    const handles = seqs.map(() => t.newSequence('eval'));
    let res;
    try { res = await t.forward(seqs.map((s, i) => ({ seq: handles[i], tokens: s, want: 'all' as const }))); } finally { handles.forEach((h) => h.close()); }
    for (let i = 0; i < seqs.length; i++) {
      const P = part[i].length, g = outputs[i].tokenIds;
      const rows = g.length - n;
      if (rows < 1) continue;
      const hidden = new Float32Array(rows * H), tokens = new Int32Array(rows);
      for (let j = 0; j < rows; j++) {
        hidden.set(res[i].hidden.subarray((P - 1 + j) * H, (P + j) * H), j * H);
        tokens[j] = g[j];
      }
      for (let s = 0; s < rows; s += spec.maxBatch) {
        const b = Math.min(spec.maxBatch, rows - s);
        const draft = await spec.propose({ hidden: hidden.subarray(s * H, (s + b) * H), tokens: tokens.subarray(s, s + b) });
        for (let r = 0; r < b; r++) {
          const j = s + r;
          let k = 0;
          while (k < n && draft[r * n + k] === g[j + 1 + k]) { hits[k]++; k++; }
          accepted += k;
          positions++;
        }
      }
    }
    o.onProgress?.(Math.min(prompts.length, at + chunk), prompts.length);
  }
  return { acceptanceLength: 1 + accepted / Math.max(1, positions), perPosition: hits.map((h) => h / Math.max(1, positions)), positions, prompts: prompts.length };
}
