// The contract between a user's drafter file and the tools that run it.
import type { FloatDType } from '../compiler/ir/dtype.ts';
import type { Program } from './program.ts';

/**
 * What `arcticc compile FILE.ts --model DIR` (or `--config FILE.json`), `arcticc propose --program FILE.ts
 * --model DIR` and `loadSpeculator({ program, model })` pass to a drafter factory: the sizes from the
 * checkpoint's config.json and the storage dtype of every stored weight. Without `--model`/`--config`,
 * `arcticc compile` calls the factory with no argument, so give the parameter a default.
 *
 * A drafter config.json (what `arcticc new` generators write) is
 * `{"hidden_size": H, "width": D, "vocab_size": V, "n_predict": n}` plus any fields of your own
 * (`scale_input` and `tie_weights` are optional booleans); an Arctic LSTM/MLP config.json works too.
 *
 * @example
 * ```ts
 * import { defineProgram } from 'arcticc/dsl';
 * import type { DrafterOptions, Program } from 'arcticc/dsl';
 * export function myDrafter(o: DrafterOptions = { hiddenSize: 64, width: 64, vocabSize: 512, nPredict: 3, scaleInput: false, tieWeights: false, weightDtype: () => 'bf16', config: {} }): Program {
 *   return defineProgram('my_drafter', { H: o.hiddenSize, D: o.width, V: o.vocabSize }, (p) => { ... });
 * }
 * ```
 */
export interface DrafterOptions {
  /** H: the target model's hidden size (config `hidden_size`; Arctic: `input_hidden_dim` / `emb_dim`) */
  readonly hiddenSize: number;
  /** D: the drafter's own width (config `width`, default H; Arctic: `proj_dim` / `inner_dim`) */
  readonly width: number;
  /** V: vocabulary size (config `vocab_size`) */
  readonly vocabSize: number;
  /** n: draft tokens per proposal (config `n_predict`); the program's `draft` output is [B, n] */
  readonly nPredict: number;
  /** config `scale_input` (default false): the Arctic speculators' ln0(h)/√2 on the first state */
  readonly scaleInput: boolean;
  /** config `tie_weights` (default false) */
  readonly tieWeights: boolean;
  /**
   * The storage dtype of a stored weight, by name (bf16 for names the checkpoint lacks). Declare params
   * with it, `p.param(name, shape, o.weightDtype(name))`, to bind bf16, f16 or f32 checkpoints alike.
   */
  readonly weightDtype: (name: string) => FloatDType;
  /** the whole config.json as parsed (custom fields of your architecture live here) */
  readonly config: Readonly<Record<string, unknown>>;
}

/**
 * A drafter factory: what a drafter file exports (or a `Program` directly). The program must take inputs
 * `hidden: f32[B, H]` and `tokens: i32[B]` and produce `draft: i32[B, n]` to be run by `propose`.
 */
export type DrafterFactory = (options: DrafterOptions) => Program;
