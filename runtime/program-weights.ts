// Loading the weights a user's drafter program declares, by name, straight from a checkpoint folder:
// every param is checked (present, shape, dtype) before the first byte is read.
import type { Graph } from '../compiler/ir/graph.ts';
import { graphParams } from '../compiler/ir/graph.ts';
import type { HostTensor } from '../compiler/ir/tensor-data.ts';
import { CheckpointError, loadRawTensor, openWeights } from './checkpoint/index.ts';
import type { LoadProgress } from './checkpoint/index.ts';
import { progressReporter } from './checkpoint/progress.ts';

export function loadProgramWeights(dir: string, graph: Graph, o: { onProgress?: (p: LoadProgress) => void; quiet?: boolean } = {}): Map<string, HostTensor> {
  const { set } = openWeights(dir);
  try {
    const file = set.files[0];
    const params = graphParams(graph);
    const problems: string[] = [];
    for (const p of params) {
      const name = p.argOf<string>('name');
      const raw = set.tensors.get(name);
      const want = `${p.dtype}[${p.shape.join(', ')}]`;
      if (!raw) { problems.push(`missing tensor "${name}" (the program declares ${want})`); continue; }
      const got = `${raw.dtype ?? raw.sourceDtype}[${raw.shape.join(', ')}]`;
      if (raw.shape.length !== p.shape.length || raw.shape.some((d, i) => d !== p.shape[i])) problems.push(`tensor "${name}" is ${got}, the program declares ${want}`);
      else if (raw.dtype !== p.dtype) problems.push(`tensor "${name}" is stored as ${raw.dtype ?? raw.sourceDtype}, the program declares ${p.dtype} (declare it with options.weightDtype(name))`);
    }
    if (problems.length) throw new CheckpointError(file, `does not fit program ${graph.name}:\n  ${problems.join('\n  ')}`);
    const total = params.reduce((a, p) => a + set.tensors.get(p.argOf<string>('name'))!.byteLength, 0);
    const progress = progressReporter(file, total, o.onProgress, o.quiet);
    try {
      return new Map(params.map((p) => [p.argOf<string>('name'), loadRawTensor(set.tensors.get(p.argOf<string>('name'))!, progress.onBytes)]));
    } finally {
      progress.finish();
    }
  } finally {
    set.close();
  }
}
