// Plain autoregressive generation (no speculation): the engine's loop with no proposer, so plain and
// speculative decoding share one code path (continuous batching, stops, max-model-len, sampling).
import type { TargetModel } from '../target/target-model.ts';
import type { EngineGenerateOptions, EngineMetrics, EngineOutput } from './engine.ts';
import { SpeculativeEngine } from './engine.ts';

/** Plain autoregressive generation on a target (the engine with no proposer). */
export function generate(t: TargetModel, prompts: readonly (readonly number[])[], o: EngineGenerateOptions = {}): Promise<{ outputs: EngineOutput[]; metrics: EngineMetrics }> {
  return new SpeculativeEngine(t, null, null, 0).generate(prompts, o);
}
