// Sharded safetensors: model.safetensors.index.json maps each tensor name to the shard that holds it.
// The index and the shards must agree exactly; a mismatch usually means a partial download.
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError } from './errors.ts';
import type { RawTensor, TensorSet } from './raw-tensor.ts';
import { openSafetensors } from './safetensors.ts';

function readWeightMap(indexPath: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw new CheckpointError(indexPath, `cannot read the index: ${(e as Error).message}`);
  }
  const wm = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) {
    throw new CheckpointError(indexPath, 'expected an object mapping tensor names to shard files', { field: 'weight_map' });
  }
  const map = new Map<string, string>();
  for (const [name, shard] of Object.entries(wm)) {
    // Shards must sit next to the index: a path here could point anywhere on disk.
    if (typeof shard !== 'string' || shard === '' || shard !== path.basename(shard) || shard === '..') {
      throw new CheckpointError(indexPath, `tensor ${name}: expected a shard file name in the same folder, found ${JSON.stringify(shard)}`, { field: 'weight_map' });
    }
    map.set(name, shard);
  }
  return map;
}

/** Open every shard named by a model.safetensors.index.json; no tensor data is read yet. */
export function openSafetensorsIndex(indexPath: string): TensorSet {
  const weightMap = readWeightMap(indexPath);
  const dir = path.dirname(indexPath);
  const shards: TensorSet[] = [];
  const closeAll = (): void => { for (const s of shards) s.close(); };
  try {
    const tensors = new Map<string, RawTensor>();
    for (const shard of [...new Set(weightMap.values())].sort()) {
      const set = openSafetensors(path.join(dir, shard));
      shards.push(set);
      for (const [name, t] of set.tensors) {
        const listed = weightMap.get(name);
        if (listed !== shard) {
          const why = listed === undefined ? 'is not listed in the index' : `is listed in the index under ${listed}`;
          throw new CheckpointError(set.files[0], `found in this shard but ${why}`, { tensor: name });
        }
        tensors.set(name, t);
      }
    }
    for (const [name, shard] of weightMap) {
      if (!tensors.has(name)) throw new CheckpointError(path.join(dir, shard), 'listed in the index but missing from this shard', { tensor: name });
    }
    return {
      files: [indexPath, ...shards.flatMap((s) => s.files)],
      bytes: shards.reduce((a, s) => a + s.bytes, 0),
      tensors, tied: [], close: closeAll,
    };
  } catch (e) {
    closeAll();
    throw e;
  }
}
