// Finding a checkpoint's files: config.json plus one of the three weight layouts Hugging Face uses.
import fs from 'node:fs';
import path from 'node:path';
import type { SpeculatorConfig } from './config.ts';
import { parseSpeculatorConfig } from './config.ts';
import { CheckpointError } from './errors.ts';
import type { TensorSet } from './raw-tensor.ts';
import { openSafetensors } from './safetensors.ts';
import { openSafetensorsIndex } from './safetensors-index.ts';
import { openTorchBin } from './torch-bin.ts';

export type WeightFormat = 'safetensors' | 'safetensors-sharded' | 'pytorch-bin';

// In preference order: safetensors needs no unpickling and is what conversions produce.
const LAYOUTS: readonly { file: string; format: WeightFormat; open: (p: string) => TensorSet }[] = [
  { file: 'model.safetensors', format: 'safetensors', open: openSafetensors },
  { file: 'model.safetensors.index.json', format: 'safetensors-sharded', open: openSafetensorsIndex },
  { file: 'pytorch_model.bin', format: 'pytorch-bin', open: openTorchBin },
];

export function checkDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new CheckpointError(dir, 'checkpoint folder does not exist');
  }
  if (!st.isDirectory()) throw new CheckpointError(dir, 'expected a checkpoint folder (with config.json and the weights), found a file');
}

export function readConfig(dir: string): { config: SpeculatorConfig; file: string } {
  const file = path.join(dir, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new CheckpointError(file, 'missing: a speculator checkpoint needs a config.json next to its weights');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(file, `not valid JSON: ${(e as Error).message}`);
  }
  return { config: parseSpeculatorConfig(json, file), file };
}

/** Open the weights of a checkpoint folder, autodetecting the layout; no tensor data is read yet. */
export function openWeights(dir: string): { set: TensorSet; format: WeightFormat } {
  for (const l of LAYOUTS) {
    const p = path.join(dir, l.file);
    if (fs.existsSync(p)) return { set: l.open(p), format: l.format };
  }
  const extra = fs.existsSync(path.join(dir, 'pytorch_model.bin.index.json')) ? ' (sharded pytorch_model.bin checkpoints are not supported)' : '';
  throw new CheckpointError(dir, `no weights found: expected ${LAYOUTS.slice(0, -1).map((l) => l.file).join(', ')} or ${LAYOUTS[LAYOUTS.length - 1].file}${extra}`);
}
