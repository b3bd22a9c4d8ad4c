// From a target folder and a speculative config to a running engine: the target, the drafter the config
// names (loaded on the target's device), and a check that they fit together before any work starts.
import type { ActivationMode } from '../../models/llama.ts';
import { createProposer } from '../decoding/spec-config.ts';
import type { Proposer } from '../decoding/proposer.ts';
import type { DeferMode } from '../decoding/suffix-cache.ts';
import type { HybridBar } from '../decoding/hybrid-proposer.ts';
import type { Speculator } from '../speculator.ts';
import { loadSpeculator } from '../speculator.ts';
import type { LoadTargetOptions, TargetModel } from '../target/target-model.ts';
import { loadTarget } from '../target/target-model.ts';
import { SpeculativeEngine } from './engine.ts';
import type { EngineSpeculativeConfig } from './speculative-config.ts';
import { parseEngineSpeculativeConfig, proposerConfig, SpeculativeConfigError } from './speculative-config.ts';

/** loadTarget's options plus the speculative config (vLLM's JSON, or an object). */
export interface LoadEngineOptions extends LoadTargetOptions, Omit<DrafterOptions, 'activations'> {
  /** the speculative config as vLLM takes it (object or JSON text); none = plain decoding */
  readonly speculativeConfig?: unknown;
}

/** A target with its drafter and the speculative engine that drives both; close() frees them. */
export interface Engine {
  readonly target: TargetModel;
  readonly speculator: Speculator | null;
  readonly config: EngineSpeculativeConfig | null;
  readonly engine: SpeculativeEngine;
  /** e.g. "arctic + suffix (pycode-small-lstm, n_predict 3)" or "none" */
  readonly description: string;
  close(): void;
}

/** How the engine runs a drafter, beyond what the speculative config says. */
export interface DrafterOptions {
  readonly activations?: ActivationMode;
  /**
   * Suffix tree updates the engine overlaps with the target pass (SuffixDecodingCache deferUpdates, see
   * docs/suffix-overlap.md; default DEFAULT_SUFFIX_UPDATES). Outputs never depend on it; drafts may.
   */
  readonly suffixUpdates?: DeferMode;
  /** the hybrid's bar for a suffix draft (HybridProposer; default DEFAULT_HYBRID_BAR) */
  readonly hybridBar?: HybridBar;
}

export const DEFAULT_SUFFIX_UPDATES: DeferMode = 'global';
export const DEFAULT_HYBRID_BAR: HybridBar = 'measured';

/**
 * The drafter for a config, checked against the target; nothing is left loaded when it throws. `activations`
 * (loadSpeculator's; loadEngine passes the target's) applies to a speculator this call loads.
 */
export async function attachDrafter(target: TargetModel, config: EngineSpeculativeConfig | null, loaded?: Speculator, o: DrafterOptions = {}): Promise<Omit<Engine, 'target' | 'close'> & { dispose(): void }> {
  if (config === null) return { speculator: null, config, engine: new SpeculativeEngine(target, null, null, 0), description: 'none', dispose() {} };
  let speculator: Speculator | null = null;
  if (config.method === 'arctic') {
    speculator = loaded ?? await loadSpeculator({ model: config.model!, device: target.device, quiet: true, maxBatch: target.maxNumSeqs, activations: o.activations });
    const bad = speculator.hiddenSize !== target.hiddenSize ? `hidden size ${speculator.hiddenSize}, the target's is ${target.hiddenSize}`
      : speculator.vocabSize !== target.vocabSize ? `vocabulary ${speculator.vocabSize}, the target's is ${target.vocabSize}` : null;
    if (bad) {
      if (!loaded) speculator.close();
      throw new SpeculativeConfigError(`speculative config: "model": speculator ${config.model} does not fit the target: ${bad}`);
    }
  }
  let proposer: Proposer;
  try {
    proposer = createProposer(proposerConfig(config), {
      ...(speculator ? { draftModel: speculator } : {}),
      deferSuffixUpdates: o.suffixUpdates ?? DEFAULT_SUFFIX_UPDATES, hybridBar: o.hybridBar ?? DEFAULT_HYBRID_BAR,
    });
  } catch (e) {
    if (!loaded) speculator?.close();
    throw new SpeculativeConfigError((e as Error).message);
  }
  const n = speculator?.numSpeculativeTokens;
  const maxDraft = config.num_speculative_tokens ?? n ?? Number.MAX_SAFE_INTEGER;
  const what = config.method === 'arctic' ? `arctic${config.enable_suffix_decoding ? ' + suffix' : ''} (${config.model}, n_predict ${n})` : config.method;
  return {
    speculator, config, engine: new SpeculativeEngine(target, proposer, config, maxDraft), description: what,
    /** closes the speculator this call loaded (one passed in stays the caller's) */
    dispose() { if (!loaded) speculator?.close(); },
  };
}

/** Load a target and the drafter its speculative config names; the config is checked before any weight is read. */
export async function loadEngine(o: LoadEngineOptions): Promise<Engine> {
  // the config is checked before any weight is read
  const config = o.speculativeConfig === undefined || o.speculativeConfig === null ? null : parseEngineSpeculativeConfig(o.speculativeConfig);
  const target = await loadTarget(o);
  let drafter;
  try {
    // the drafter computes as its target does: bf16 activations for both, or f32 for both
    drafter = await attachDrafter(target, config, undefined, { activations: o.activations, suffixUpdates: o.suffixUpdates, hybridBar: o.hybridBar });
  } catch (e) {
    target.close();
    throw e;
  }
  return {
    target, speculator: drafter.speculator, config, engine: drafter.engine, description: drafter.description,
    close() { drafter.dispose(); target.close(); },
  };
}
