// Plain autoregressive generation on a target model (no speculation): continuous batching over the
// KV slots: requests are admitted while slots are free, prefilled in the same pass as the running
// requests' decode tokens, and leave at the step they finish. Each request's tokens are what it would
// produce alone: rows are independent and every request samples from its own seeded stream.
import { Xoshiro128 } from '../decoding/rng.ts';
import { TargetError } from './kv-slots.ts';
import type { SamplingParams } from './sampling.ts';
import { checkSampling, chooseToken } from './sampling.ts';
import type { ForwardItem, TargetModel, TargetSequence } from './target-model.ts';

export interface GenerateOptions extends SamplingParams {
  /** new tokens per request (default 64), capped so prompt + output ≤ max-model-len */
  readonly maxNewTokens?: number;
  /** one seed for the call: request i samples from stream i of it */
  readonly seed?: number;
  /** a seed per request (as OpenAI's per-request seed): request i samples from its own seed alone */
  readonly seeds?: readonly number[];
  /** stop ids (default: the config's eos_token_id); [] never stops early */
  readonly stopTokenIds?: readonly number[];
  /** called once per step with the tokens each running request just got */
  readonly onTokens?: (request: number, tokens: readonly number[]) => void;
}

export type FinishReason = 'stop' | 'length';

export interface GenerateOutput {
  readonly tokenIds: number[];
  readonly finishReason: FinishReason;
}

export interface GenerateMetrics {
  readonly requests: number;
  readonly promptTokens: number;
  readonly generatedTokens: number;
  readonly steps: number;
  readonly ms: number;
  /** generated tokens per second over the whole call (all requests) */
  readonly tokensPerSecond: number;
}

export function validatePrompts(t: TargetModel, prompts: readonly (readonly number[])[]): void {
  if (prompts.length === 0) throw new TargetError('generate: no prompts');
  prompts.forEach((p, i) => {
    if (!Array.isArray(p) || p.length === 0) throw new TargetError(`prompt ${i}: empty (a prompt needs at least one token)`);
    if (p.length >= t.maxModelLen) {
      throw new TargetError(`prompt ${i}: ${p.length} tokens leave no room for output within max-model-len ${t.maxModelLen}`);
    }
    p.forEach((id, j) => {
      if (!Number.isInteger(id) || id < 0 || id >= t.vocabSize) throw new TargetError(`prompt ${i}: token ${j} is ${id}, outside the vocabulary [0, ${t.vocabSize})`);
    });
  });
}

export async function generate(t: TargetModel, prompts: readonly (readonly number[])[], o: GenerateOptions = {}): Promise<{ outputs: GenerateOutput[]; metrics: GenerateMetrics }> {
  const maxNew = o.maxNewTokens ?? 64;
  if (!Number.isInteger(maxNew) || maxNew < 1) throw new RangeError(`generate: max-new-tokens must be a positive integer, got ${o.maxNewTokens}`);
  checkSampling(o, 'generate');
  const seed = o.seed ?? 0;
  validatePrompts(t, prompts);
  const stops = new Set(o.stopTokenIds ?? t.config.eosTokenIds);
  const sample = (o.temperature ?? 0) > 0;
  const outputs: { tokenIds: number[]; finishReason: FinishReason | null }[] = prompts.map(() => ({ tokenIds: [], finishReason: null }));
  if (o.seeds && o.seeds.length !== prompts.length) throw new RangeError(`generate: ${o.seeds.length} seeds for ${prompts.length} prompts`);
  const rngs = prompts.map((_, i) => (o.seeds ? new Xoshiro128(o.seeds[i]) : new Xoshiro128(seed, i)));
  const running = new Map<number, TargetSequence>();
  let admitted = 0, steps = 0;
  const t0 = performance.now();
  try {
    while (admitted < prompts.length || running.size > 0) {
      const items: ForwardItem[] = [];
      const who: number[] = [];
      for (const [i, seq] of running) { items.push({ seq, tokens: [outputs[i].tokenIds.at(-1)!], want: 'last' }); who.push(i); }
      while (admitted < prompts.length && t.slots.available > 0) {
        const i = admitted++;
        const seq = t.newSequence(`prompt ${i}`);
        running.set(i, seq);
        items.push({ seq, tokens: prompts[i], want: 'last' });
        who.push(i);
      }
      const res = await t.forward(items, { logits: sample });
      steps++;
      res.forEach((r, k) => {
        const i = who[k];
        const out = outputs[i];
        const tok = chooseToken(r.logits ?? [], r.nextTokens[0], o, rngs[i]);
        out.tokenIds.push(tok);
        o.onTokens?.(i, [tok]);
        const seq = running.get(i)!;
        // prompt + output ≤ max-model-len, as vLLM counts it (seq.length = prompt + output − 1)
        if (stops.has(tok)) out.finishReason = 'stop';
        else if (out.tokenIds.length >= maxNew || seq.length + 1 >= t.maxModelLen) out.finishReason = 'length';
        if (out.finishReason) { seq.close(); running.delete(i); }
      });
    }
  } finally {
    for (const seq of running.values()) seq.close();
  }
  const ms = performance.now() - t0;
  const generated = outputs.reduce((a, x) => a + x.tokenIds.length, 0);
  return {
    outputs: outputs.map((x) => ({ tokenIds: x.tokenIds, finishReason: x.finishReason! })),
    metrics: {
      requests: prompts.length, promptTokens: prompts.reduce((a, p) => a + p.length, 0), generatedTokens: generated,
      steps, ms, tokensPerSecond: generated / (ms / 1000),
    },
  };
}
