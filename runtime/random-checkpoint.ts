// A random-weight checkpoint for any drafter program: config.json (a drafter config) and
// model.safetensors with one tensor per param the program declares, at its shape and dtype.
import fs from 'node:fs';
import path from 'node:path';
import { graphParams } from '../compiler/ir/graph.ts';
import { hostTensor, numel, writer } from '../compiler/ir/tensor-data.ts';
import type { DrafterFactory, DrafterOptions, Program } from '../dsl/index.ts';
import { Xoshiro128 } from './decoding/index.ts';
import { safetensorsEntry, writeSafetensors } from './checkpoint/index.ts';

/** Options of {@link writeRandomCheckpoint}. */
export interface RandomCheckpointOptions {
  /** the sizes the factory is called with, also written to config.json (required for a factory) */
  readonly options?: DrafterOptions;
  /** seed of the generator (default 0): the same seed writes the same bytes */
  readonly seed?: number;
  /** extra config.json fields (your architecture's own settings) */
  readonly extraConfig?: Readonly<Record<string, unknown>>;
}

/** What {@link writeRandomCheckpoint} wrote. */
export interface RandomCheckpoint {
  readonly dir: string;
  readonly files: readonly string[];
  /** every tensor written: name, dtype, shape */
  readonly tensors: readonly { name: string; dtype: string; shape: number[] }[];
}

/**
 * Writes a checkpoint folder for `program` with uniform random weights in ±1/√(last dim) (norm weights,
 * names ending in `norm.weight`, are 1 + small noise), so proposals are varied but deterministic.
 * `loadSpeculator({ model: dir, program })` and `arcticc propose --program FILE.ts --model DIR` run it.
 *
 * @example
 * ```ts
 * import { writeRandomCheckpoint } from 'arcticc';
 * import { myDrafter, defaults } from './my-drafter.ts';
 * writeRandomCheckpoint('my-drafter-random', myDrafter, { options: defaults, seed: 1 });
 * ```
 */
export function writeRandomCheckpoint(dir: string, program: Program | DrafterFactory, o: RandomCheckpointOptions = {}): RandomCheckpoint {
  if (typeof program === 'function' && !o.options) throw new TypeError('writeRandomCheckpoint: a factory needs options (the sizes to trace it with and write to config.json)');
  const prog = typeof program === 'function' ? program(o.options!) : program;
  const rng = new Xoshiro128(o.seed ?? 0);
  const tensors: { name: string; dtype: string; shape: number[] }[] = [];
  const entries = graphParams(prog.graph).map((p) => {
    const name = p.argOf<string>('name');
    const shape = p.shape.map((d) => {
      if (typeof d !== 'number') throw new TypeError(`writeRandomCheckpoint: param "${name}" has an unbound dim ${d}`);
      return d;
    });
    const t = hostTensor(p.dtype, shape);
    const put = writer(t);
    const norm = /norm\.weight$|^ln\.|\.ln\./.test(name) && shape.length === 1;
    const a = 1 / Math.sqrt(Math.max(1, shape[shape.length - 1] ?? 1));
    for (let i = 0, n = numel(shape); i < n; i++) put(i, norm ? 1 + 0.1 * (rng.next() * 2 - 1) : a * (rng.next() * 2 - 1));
    tensors.push({ name, dtype: p.dtype, shape });
    return safetensorsEntry(name, t);
  });
  const hidden = prog.graph.inputs.find((i) => i.argOf<string>('name') === 'hidden');
  const draft = prog.graph.outputs.find((x) => x.name === 'draft');
  const opt = o.options;
  const config = {
    arcticc_drafter: prog.graph.name,
    hidden_size: opt?.hiddenSize ?? hidden?.shape[1],
    width: opt?.width ?? hidden?.shape[1],
    vocab_size: opt?.vocabSize ?? Math.max(...tensors.map((t) => t.shape[0] ?? 1)),
    n_predict: opt?.nPredict ?? draft?.node.shape.find((d) => typeof d === 'number'),
    scale_input: opt?.scaleInput ?? false,
    tie_weights: opt?.tieWeights ?? false,
    ...o.extraConfig,
  };
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'config.json');
  const weightsFile = path.join(dir, 'model.safetensors');
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2) + '\n');
  writeSafetensors(weightsFile, entries);
  return { dir, files: [configFile, weightsFile], tensors };
}
