// A device stand-in for measuring the host side of the end-to-end loop on the CPU (issue 9): the target's
// greedy continuation of every prompt is recorded once with the interpreter, and then the target backend
// replays it. Under greedy decoding that is exact for every row the engine reads: a verify row's context is
// the request's true prefix up to the first rejected draft token, and rows after it are discarded, so the
// replayed next token (the recorded token after that position) is what the real target gives. The stand-in
// costs ~nothing (or a chosen busy-wait, to mimic a device's step time), so what a step spends is host work
// and nothing else, without the interpreter's garbage collection landing in the host's share.
// Hidden states carry (slot, position) in their first two values; the Arctic stand-in reads them back to
// draft the recorded continuation with a deterministic per-position miss (acceptance about the fixture's).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { DraftModel } from '../runtime/decoding/proposer.ts';
import type { TargetBackend, TargetStepInputs, TargetStepOutputs } from '../runtime/target/backend.ts';
import { generate } from '../runtime/engine/generate.ts';
import { noteHostSync } from '../runtime/host-syncs.ts';
import type { TargetModel } from '../runtime/target/target-model.ts';
import { targetBackend } from '../runtime/target/target-model.ts';

/** Greedy outputs of `prompts` on `target` (the interpreter), cached in `file` when given. */
export async function recordGreedy(target: TargetModel, prompts: readonly (readonly number[])[], maxNew: number, file?: string): Promise<number[][]> {
  const key = JSON.stringify({ n: prompts.length, maxNew, first: prompts.map((p) => p.slice(0, 8)) });
  if (file && existsSync(file)) {
    const c = JSON.parse(readFileSync(file, 'utf8')) as { key: string; outputs: number[][] };
    if (c.key === key) return c.outputs;
  }
  const { outputs } = await generate(target, prompts, { maxNewTokens: maxNew, stopTokenIds: [], maxConcurrency: Math.min(prompts.length, target.maxNumSeqs) });
  const out = outputs.map((o) => o.tokenIds);
  if (file) writeFileSync(file, JSON.stringify({ key, outputs: out }));
  return out;
}

/** Busy-waits `ms` (a device pass's time, the thread held as a synchronous wait holds it). */
function spin(ms: number): void {
  if (!(ms > 0)) return;
  const end = performance.now() + ms;
  while (performance.now() < end) { /* the device is busy */ }
}

export interface ReplayTiming {
  /** simulated target pass: base ms + ms per token row */
  readonly passMs?: number;
  readonly passMsPerRow?: number;
  /** simulated draft-model pass */
  readonly draftMs?: number;
}

/**
 * Replaces the target's backend run with the replay of `outputs` (prompt i → outputs[i]); returns a restore
 * function. Prompts are recognized at prefill (a slot's rows starting at position 0, and the passes that
 * continue a prompt split by maxBatchTokens).
 */
export function replayTarget(target: TargetModel, prompts: readonly (readonly number[])[], outputs: readonly (readonly number[])[], timing: ReplayTiming = {}): () => void {
  const backend: TargetBackend = targetBackend(target);
  const H = target.hiddenSize;
  const byPrompt = new Map<string, number>();
  prompts.forEach((p, i) => byPrompt.set(p.join(','), i));
  const seqs = prompts.map((p, i) => Int32Array.from([...p, ...outputs[i]]));
  const slotSeq: (Int32Array | null)[] = new Array(target.maxNumSeqs).fill(null);
  // a prompt prefilled over several passes (more rows than maxBatchTokens): its tokens so far, per slot
  const partial: (number[] | null)[] = new Array(target.maxNumSeqs).fill(null);
  const recognize = (slot: number, toks: readonly number[]): void => {
    const exact = byPrompt.get(toks.join(','));
    if (exact !== undefined) { slotSeq[slot] = seqs[exact]; partial[slot] = null; return; }
    if (!prompts.some((p) => p.length > toks.length && toks.every((t, k) => p[k] === t))) throw new Error(`replay stand-in: a prompt of ${toks.length} tokens that was not recorded`);
    partial[slot] = [...toks];
    slotSeq[slot] = null; // known once the rest of the prompt arrives
  };
  const original = backend.run;
  backend.run = async (x: TargetStepInputs, o: { readonly logits: boolean; readonly whileRunning?: () => void }): Promise<TargetStepOutputs> => {
    if (o.logits) throw new Error('replay stand-in: greedy only');
    const n = x.tokens.length, m = x.rows.length;
    // prompts being prefilled: a slot's run of rows from position 0
    for (let i = 0; i < n; i++) {
      const slot = x.slots[i], pending = partial[slot];
      // a prompt's first rows (position 0), or the next chunk of one prefilled in parts
      const continues = pending !== null && x.positions[i] === pending.length && (i === 0 || x.slots[i - 1] !== slot);
      if (x.positions[i] !== 0 && !continues) continue;
      let e = i;
      while (e < n && x.slots[e] === slot && x.positions[e] === x.positions[i] + e - i) e++;
      const chunk = Array.from(x.tokens.subarray(i, e));
      recognize(slot, x.positions[i] === 0 ? chunk : [...pending!, ...chunk]);
      i = e - 1;
    }
    // the host work that overlaps the pass runs inside the simulated pass time, as it does under a device
    const t0 = performance.now();
    o.whileRunning?.();
    spin(t0 + (timing.passMs ?? 0) + (timing.passMsPerRow ?? 0) * n - performance.now());
    noteHostSync(); // counted as the CPU backends count a pass
    const hidden = new Float32Array(m * H), nextTokens = new Int32Array(m);
    for (let j = 0; j < m; j++) {
      const r = x.rows[j], slot = x.slots[r], pos = x.positions[r], s = slotSeq[slot];
      if (!s) throw new Error(`replay stand-in: slot ${slot} was never prefilled`);
      nextTokens[j] = pos + 1 < s.length ? s[pos + 1] : 0;
      hidden[j * H] = slot; hidden[j * H + 1] = pos;
    }
    return { hidden, nextTokens };
  };
  const stand = { slotSeq };
  replays.set(target, stand);
  return () => { backend.run = original; replays.delete(target); };
}

const replays = new WeakMap<TargetModel, { slotSeq: (Int32Array | null)[] }>();

/** A deterministic hash of (position, draft index) in [0, 1). */
function unit(pos: number, j: number): number {
  let h = Math.imul(pos ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(j + 1, 0xc2b2ae35);
  h ^= h >>> 16; h = Math.imul(h, 0x7feb352d); h ^= h >>> 15;
  return (h >>> 0) / 2 ** 32;
}

/**
 * An Arctic stand-in over a replayed target: drafts the recorded continuation, each token kept with
 * probability `hit` (deterministic in the position), the first miss replaced by a wrong token.
 */
export function replayDraftModel(target: TargetModel, k = 3, hit = 0.5, timing: ReplayTiming = {}): DraftModel & { numSpeculativeTokens: number; maxBatch: number; device: 'cpu'; close(): void } {
  const H = target.hiddenSize, V = target.vocabSize;
  return {
    hiddenSize: H, vocabSize: V, numSpeculativeTokens: k, maxBatch: target.maxNumSeqs, device: 'cpu', close() {},
    async propose(req: { hidden: Float32Array; tokens: Int32Array }): Promise<Int32Array> {
      const stand = replays.get(target);
      if (!stand) throw new Error('replay draft model: the target is not replayed');
      spin(timing.draftMs ?? 0);
      noteHostSync();
      const B = req.tokens.length, out = new Int32Array(B * k);
      for (let b = 0; b < B; b++) {
        const slot = req.hidden[b * H], pos = req.hidden[b * H + 1], s = stand.slotSeq[slot]!;
        // the state at `pos` produced token pos + 1 (the last token); the draft continues from pos + 2
        let miss = false;
        for (let j = 0; j < k; j++) {
          const t = pos + 2 + j < s.length ? s[pos + 2 + j] : 0;
          if (!miss && unit(pos, j) >= hit) miss = true;
          out[b * k + j] = miss ? (t + 1) % V : t;
        }
      }
      return out;
    },
  };
}
