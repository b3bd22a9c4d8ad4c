// Which drafter to train: the built-in Arctic LSTM or MLP, or any DSL drafter file (FILE.ts exporting a
// Program factory), sized for a target; how its weights start; and how it is exported (ArcticTraining's
// format for the built-ins: config.json and tensor names as reference §2, so ArcticInference and
// loadSpeculator both load it; a drafter config for a DSL file, which loadSpeculator loads with program).
import path from 'node:path';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../compiler/ir/tensor-data.ts';
import { f32ToBf16 } from '../../compiler/ir/numerics.ts';
import type { Program } from '../../dsl/index.ts';
import { lstmSpeculator } from '../../speculators/lstm.ts';
import { mlpSpeculator } from '../../speculators/mlp.ts';
import { LSTM_GATES } from '../checkpoint/arctic-layout.ts';
import { Xoshiro128 } from '../decoding/rng.ts';
import { TrainDataError } from './data.ts';

export interface ArchOptions {
  /** 'lstm' | 'mlp' | a DSL drafter file */
  readonly arch: string;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  readonly width: number;
  readonly nPredict: number;
  /** the target folder, recorded as base_model_name_or_path */
  readonly target: string;
}

export interface Arch {
  /** 'lstm', 'mlp' or the file's absolute path */
  readonly id: string;
  readonly program: Program;
  readonly config: Record<string, unknown>;
  /** the exported tensors (bf16) from the f32 master weights by program name */
  exportTensors(weights: ReadonlyMap<string, Float32Array>): Map<string, HostTensor>;
}

const bf16 = (shape: readonly number[], a: Float32Array): HostTensor => hostTensor('bf16', shape, Uint16Array.from(a, (x) => f32ToBf16(x)));

export async function resolveArch(o: ArchOptions): Promise<Arch> {
  const { hiddenSize: H, vocabSize: V, width: D, nPredict: n } = o;
  if (!Number.isInteger(D) || D < 1) throw new TrainDataError(`--width must be a positive integer, got ${D}`);
  if (!Number.isInteger(n) || n < 1) throw new TrainDataError(`--n-predict must be a positive integer, got ${n}`);
  const base = path.basename(path.resolve(o.target));
  if (o.arch === 'lstm') {
    const program = lstmSpeculator({ hiddenSize: H, width: D, vocabSize: V, nPredict: n, scaleInput: true, weightDtype: () => 'f32' });
    const config = {
      architectures: ['ArcticLSTMSpeculatorPreTrainedModel'], model_type: 'mlp_speculator', base_model_name_or_path: base,
      input_hidden_dim: H, inner_dim: String(D), proj_dim: String(D), emb_dim: String(D), vocab_size: V, n_predict: n,
      n_candidates: n, top_k_tokens_per_head: Array(n).fill(1), tie_weights: true, scale_input: true, tie_lstm_embs: true,
      method: 'sum_lstm', torch_dtype: 'bfloat16',
    };
    return {
      id: 'lstm', program, config,
      exportTensors(w) {
        const out = new Map<string, HostTensor>();
        for (const [name, a] of w) {
          const m = /^projs\.(\d)\.weight$/.exec(name);
          if (m) {
            const cols = a.length / (4 * D);
            LSTM_GATES.forEach((g, k) => out.set(`${g}_proj.${m[1]}.weight`, bf16([D, cols], a.subarray(k * D * cols, (k + 1) * D * cols))));
          } else out.set(name, bf16(name.endsWith('bias') || name.includes('_ln.') ? [D] : [a.length / D, D], a));
        }
        return out;
      },
    };
  }
  if (o.arch === 'mlp') {
    if (n < 2) throw new TrainDataError(`--n-predict ${n}: the MLP speculator ties its weights across steps, which needs n_predict ≥ 2`);
    const program = mlpSpeculator({ hiddenSize: H, width: D, vocabSize: V, nPredict: n, scaleInput: true, tieWeights: true, weightDtype: () => 'f32' });
    const config = {
      architectures: ['ArcticMLPSpeculatorPreTrainedModel'], model_type: 'mlp_speculator', base_model_name_or_path: base,
      emb_dim: H, inner_dim: D, vocab_size: V, n_predict: n, n_candidates: n, top_k_tokens_per_head: Array(n).fill(1),
      tie_weights: true, scale_input: true, torch_dtype: 'bfloat16',
    };
    return { id: 'mlp', program, config, exportTensors: (w) => exportByShape(program, w) };
  }
  if (!/\.(ts|mts)$/.test(o.arch)) throw new TrainDataError(`--arch must be lstm, mlp or a DSL drafter file (FILE.ts), got ${JSON.stringify(o.arch)}`);
  const file = path.resolve(o.arch);
  const config = { hidden_size: H, width: D, vocab_size: V, n_predict: n, scale_input: false, tie_weights: false, base_model_name_or_path: base };
  // the DSL front end (ts-morph) loads only for a user's DSL file
  const { traceUserFile } = await import('../../compiler/frontend/user-file.ts');
  const { program } = await traceUserFile(file, undefined, {
    hiddenSize: H, width: D, vocabSize: V, nPredict: n, scaleInput: false, tieWeights: false, weightDtype: () => 'f32', config,
  });
  return { id: file, program, config, exportTensors: (w) => exportByShape(program, w) };
}

function exportByShape(p: Program, w: ReadonlyMap<string, Float32Array>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const shapes = paramShapes(p);
  for (const [name, a] of w) out.set(name, bf16(shapes.get(name)!, a));
  return out;
}

export function paramShapes(p: Program): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const seen = new Set<unknown>();
  const stack = p.graph.outputs.map((o) => o.node);
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x)) continue;
    seen.add(x);
    if (x.op === 'param') m.set(x.argOf<string>('name'), x.shape as number[]);
    stack.push(...x.src);
  }
  return m;
}

/**
 * Initial weights (ArcticTraining's init): every matrix ~ N(0, 1/√min(shape)); norm weights 1, biases 0.
 * Seeded: the same seed gives the same weights.
 */
export function initWeights(shapes: ReadonlyMap<string, readonly number[]>, seed: number): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  [...shapes.keys()].sort().forEach((name, k) => {
    const s = shapes.get(name)!;
    const a = new Float32Array(s.reduce((x, y) => x * y, 1));
    if (s.length === 1) a.fill(name.endsWith('bias') ? 0 : 1);
    else {
      const r = new Xoshiro128(seed, k + 1);
      const std = 1 / Math.sqrt(Math.min(...s));
      for (let i = 0; i < a.length; i += 2) {
        const u1 = Math.max(r.next(), 1e-12), u2 = r.next();
        const rad = Math.sqrt(-2 * Math.log(u1));
        a[i] = std * rad * Math.cos(2 * Math.PI * u2);
        if (i + 1 < a.length) a[i + 1] = std * rad * Math.sin(2 * Math.PI * u2);
      }
    }
    out.set(name, a);
  });
  return out;
}
