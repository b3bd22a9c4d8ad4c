// Decoder test cases shared by the PTX-machine tests (tests/unit/codegen) and the GPU tests (tests/gpu):
// a kv_write + attention graph over given requests, small random Llama programs, and inputs that place
// requests of different lengths in different slots (prefill of several prompts in one pass, decode
// rows, padding rows at position −1).
import type { FloatDType } from '../../../compiler/ir/dtype.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { graphParams, makeGraph } from '../../../compiler/ir/graph.ts';
import { Node } from '../../../compiler/ir/node.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor, writer } from '../../../compiler/ir/tensor-data.ts';
import type { LlamaShape } from '../../../models/llama.ts';
import { llamaProgram } from '../../../models/llama.ts';
import type { Rng } from '../../support/random-graph.ts';

export interface DecoderShape { Hq: number; Hk: number; D: number; S: number; L: number; kv: FloatDType }

/** kv_write of new k/v rows (k through an inlined tanh) into both caches, attention of −q over the updated caches. */
export function attentionGraph(c: DecoderShape): Graph {
  const q = Node.make('input', [], { name: 'q' }, 'f32', ['N', c.Hq, c.D]);
  const kn = Node.make('input', [], { name: 'k_new' }, 'f32', ['N', c.Hk, c.D]);
  const vn = Node.make('input', [], { name: 'v_new' }, 'f32', ['N', c.Hk, c.D]);
  const kc = Node.make('input', [], { name: 'k_cache' }, c.kv, [c.S, c.L, c.Hk, c.D]);
  const vc = Node.make('input', [], { name: 'v_cache' }, c.kv, [c.S, c.L, c.Hk, c.D]);
  const slots = Node.make('input', [], { name: 'slots' }, 'i32', ['N']);
  const pos = Node.make('input', [], { name: 'positions' }, 'i32', ['N']);
  // the new k rows go through an inlined expression (tanh), as RoPE does in the model
  const k2 = Node.make('kv_write', [kc, Node.make('tanh', [kn]), slots, pos]);
  const v2 = Node.make('kv_write', [vc, vn, slots, pos]);
  const att = Node.make('attention', [Node.make('neg', [q]), k2, v2, slots, pos], { scale: 1 / Math.sqrt(c.D) });
  return makeGraph('attn', [q, kn, vn, kc, vc, slots, pos], [
    { name: 'out', node: att },
    { name: 'k_cache_out', node: k2 },
    { name: 'v_cache_out', node: v2 },
  ]);
}

/** Row layout of one step: for each request (slot, first position, length), its rows; then padding rows. */
export interface Request { slot: number; start: number; len: number }

export function rowsOf(reqs: readonly Request[], padding: number): { slots: Int32Array; positions: Int32Array } {
  const slots: number[] = [], positions: number[] = [];
  for (const r of reqs) for (let i = 0; i < r.len; i++) { slots.push(r.slot); positions.push(r.start + i); }
  for (let i = 0; i < padding; i++) { slots.push(0); positions.push(-1); }
  return { slots: Int32Array.from(slots), positions: Int32Array.from(positions) };
}

export function randomTensor(r: Rng, dtype: FloatDType | 'i32', shape: number[], scale = 1): HostTensor {
  const t = hostTensor(dtype, shape);
  const w = writer(t);
  for (let i = 0; i < t.data.length; i++) w(i, (r.next() * 2 - 1) * scale);
  return t;
}

/** Inputs for attentionGraph: caches random everywhere (stale entries past each length must not be seen). */
export function attentionInputs(c: DecoderShape, r: Rng, reqs: readonly Request[], padding: number): Record<string, HostTensor> {
  const { slots, positions } = rowsOf(reqs, padding);
  const N = slots.length;
  return {
    q: randomTensor(r, 'f32', [N, c.Hq, c.D], 2),
    k_new: randomTensor(r, 'f32', [N, c.Hk, c.D], 2),
    v_new: randomTensor(r, 'f32', [N, c.Hk, c.D]),
    k_cache: randomTensor(r, c.kv, [c.S, c.L, c.Hk, c.D]),
    v_cache: randomTensor(r, c.kv, [c.S, c.L, c.Hk, c.D]),
    slots: hostTensor('i32', [N], slots),
    positions: hostTensor('i32', [N], positions),
  };
}

export function tinyLlama(o: Partial<LlamaShape> = {}): LlamaShape {
  return {
    hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, vocabSize: 100,
    rmsNormEps: 1e-5, tieWordEmbeddings: false, slots: 3, maxLen: 24, head: 'logits', ...o,
  };
}

/** Random weights for a llama program: linears ~ 1/√fan-in, norms near 1, rope tables from a real θ. */
export function llamaWeights(g: Graph, c: LlamaShape, r: Rng): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const p of graphParams(g)) {
    const name = p.argOf<string>('name');
    const shape = p.shape as number[];
    const t = hostTensor(p.dtype, shape);
    const w = writer(t);
    if (name === 'rope.cos' || name === 'rope.sin') {
      const half = shape[1];
      for (let pos = 0; pos < shape[0]; pos++) for (let i = 0; i < half; i++) {
        const a = pos / 10000 ** (i / half);
        w(pos * half + i, name === 'rope.cos' ? Math.cos(a) : Math.sin(a));
      }
    } else if (name.endsWith('norm.weight') || name.endsWith('layernorm.weight')) {
      for (let i = 0; i < t.data.length; i++) w(i, 1 + (r.next() - 0.5) * 0.2);
    } else {
      const fan = shape[shape.length - 1];
      const s = name.includes('embed') ? 1 : 1 / Math.sqrt(fan);
      for (let i = 0; i < t.data.length; i++) w(i, (r.next() * 2 - 1) * s * 1.7);
    }
    out.set(name, t);
  }
  void c;
  return out;
}

/** Token rows for a llama step over `reqs` (tokens random), rows = the last row of each request. */
export function llamaInputs(g: Graph, c: LlamaShape, r: Rng, reqs: readonly Request[], padding: number, caches: 'zero' | 'random'): Record<string, HostTensor> {
  const { slots, positions } = rowsOf(reqs, padding);
  const N = slots.length;
  const tokens = Int32Array.from({ length: N }, () => r.int(0, c.vocabSize - 1));
  const rows: number[] = [];
  let at = 0;
  for (const q of reqs) { at += q.len; rows.push(at - 1); }
  if (rows.length === 0) rows.push(0);
  const inputs: Record<string, HostTensor> = {
    tokens: hostTensor('i32', [N], tokens), positions: hostTensor('i32', [N], positions),
    slots: hostTensor('i32', [N], slots), rows: hostTensor('i32', [rows.length], Int32Array.from(rows)),
  };
  for (const n of g.inputs) {
    const name = n.argOf<string>('name');
    if (!name.startsWith('kv_')) continue;
    inputs[name] = caches === 'zero' ? hostTensor(n.dtype, n.shape as number[]) : randomTensor(r, n.dtype as FloatDType, n.shape as number[]);
  }
  return inputs;
}

export const llamaGraph = (c: LlamaShape): Graph => llamaProgram(c).graph;
