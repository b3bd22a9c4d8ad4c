// Loading a speculator checkpoint folder into the canonical weights the compiled programs bind.
// Order matters for the failure modes: config, headers and the whole name/shape plan are checked
// before the first tensor byte is read, and nothing partial is ever returned.
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import type { WeightPlan } from './arctic-weights.ts';
import { materialize, planArcticWeights } from './arctic-weights.ts';
import type { SpeculatorConfig } from './config.ts';
import { checkDir, openWeights, readConfig } from './open-weights.ts';
import type { LoadProgress } from './progress.ts';
import { progressReporter } from './progress.ts';
import type { RawTensor, TensorSet } from './raw-tensor.ts';

export interface LoadOptions {
  /** Called after every chunk read (at most 64 MiB apart). */
  onProgress?: (p: LoadProgress) => void;
  /** Suppress the stderr progress line that big loads show on a terminal. */
  quiet?: boolean;
}

/** A loaded checkpoint: its config and the canonical weights the built-in program binds. */
export interface LoadedCheckpoint {
  config: SpeculatorConfig;
  /** Exactly the names of expectedParams(config). */
  weights: Map<string, HostTensor>;
  /** config.json and every weight file read (index and shards for sharded checkpoints). */
  files: string[];
  /** Size of the weight files in bytes. */
  bytes: number;
  /** Groups of stored tensor names that share one storage (pytorch_model.bin ties). */
  tied: string[][];
}

const sameBytes = (a: RawTensor, b: RawTensor): boolean => a.storageKey === b.storageKey && a.storageOffset === b.storageOffset;

/** Bytes the materialization will actually read: every part, plus aliases that are separate copies. */
function bytesToRead(plan: WeightPlan, set: TensorSet): number {
  const get = (n: string): RawTensor => set.tensors.get(n) as RawTensor;
  const parts = plan.params.reduce((a, p) => a + p.parts.reduce((b, q) => b + q.byteLength, 0), 0);
  return plan.aliases.reduce((a, x) => a + (sameBytes(get(x.stored), get(x.ofStored)) ? 0 : get(x.stored).byteLength), parts);
}

/** Load `dir` (config.json + model.safetensors | model.safetensors.index.json | pytorch_model.bin). Synchronous. */
export function loadCheckpoint(dir: string, options: LoadOptions = {}): LoadedCheckpoint {
  checkDir(dir);
  const { config, file: configFile } = readConfig(dir);
  const { set } = openWeights(dir);
  try {
    const file = set.files[0];
    const plan = planArcticWeights(config, set.tensors, file);
    const progress = progressReporter(file, bytesToRead(plan, set), options.onProgress, options.quiet);
    const get = (n: string): RawTensor => set.tensors.get(n) as RawTensor;
    let weights: Map<string, HostTensor>;
    try {
      weights = materialize(plan, {
        read: (n, dst, offset) => get(n).read(dst, progress.onBytes, offset),
        shares: (a, b) => sameBytes(get(a), get(b)),
      }, file);
    } finally {
      progress.finish(); // ends the progress line, so an error message starts on a line of its own
    }
    return { config, weights, files: [configFile, ...set.files], bytes: set.bytes, tied: set.tied };
  } finally {
    set.close();
  }
}
