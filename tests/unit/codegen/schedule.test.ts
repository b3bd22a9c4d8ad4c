// The scheduler: how the speculators split into kernels, what is inlined and what is materialized.
import { lmHeadArgmax } from '../../../compiler/passes/lm-head-argmax.ts';
import { describe, expect, it } from 'vitest';
import { makeGraph } from '../../../compiler/ir/graph.ts';
import { Node } from '../../../compiler/ir/node.ts';
import { scheduleGraph } from '../../../compiler/schedule/schedule.ts';
import type { Schedule } from '../../../compiler/schedule/types.ts';
import { lstmSpeculator } from '../../../speculators/lstm.ts';
import { mlpSpeculator } from '../../../speculators/mlp.ts';

const summary = (s: Schedule): string[] =>
  s.kernels.map((k) => `${k.kind}[${k.shape.join(',')}]${k.axis === null ? '' : `@${k.axis}`}: ${k.items.map((i) => `${i.node.op}${i.store ? '*' : ''}`).join(' ')}`);

describe('LSTM speculator', () => {
  const s = scheduleGraph(lmHeadArgmax(lstmSpeculator({ hiddenSize: 64, width: 64, vocabSize: 512, nPredict: 3, scaleInput: true }).graph));

  it('is 3 kernels per step: gate GEMV, one row kernel for the whole cell, head GEMV fused with its argmax', () => {
    expect(summary(s)).toEqual([
      'row[B,64]@1: rms_norm div*', // scale_input: ln0(h)/√2, stored for the first GEMV
      'linear[B,256]: linear*',
      'row[B,64]@1: rms_norm mul* rms_norm mul*', // cell_ln → c (stored: next step reads it) → state_ln → s
      'linear[B,512]: linear argmax*', // logits stay in the kernel: per-block (max, index) partials
      'linear[B,256]: linear*',
      'row[B,64]@1: rms_norm add* rms_norm mul*', // f⊙c + i⊙ĉ
      'linear[B,512]: linear argmax*',
      'linear[B,256]: linear*',
      'row[B,64]@1: rms_norm rms_norm mul*', // last step: the cell has one user, so it is recomputed inline
      'linear[B,512]: linear argmax*',
      'map[B,3]: concat*', // the draft [B, n]
    ]);
  });

  it('inlines the gate pre-activation and the embedding mix into the cell kernel', () => {
    const inlined = [...s.inlined].map((n) => n.op);
    // pre = P + α·[e,e,e,e] is read by four slices: cheap enough to recompute, never stored
    const pre = [...s.inlined].filter((n) => n.op === 'add' && n.shape[1] === 256);
    expect(pre).toHaveLength(3);
    for (const op of ['gather', 'concat', 'slice', 'sigmoid', 'gelu', 'broadcast', 'cast']) expect(inlined).toContain(op);
    // the cell kernel reads the gate GEMV output, the embedding table and the norm weights directly
    const cell = s.kernels[2];
    // per step: gates, c, s, two argmax partial buffers, the token (no logits)
    expect(s.buffers.filter((b) => b.kind === 'temp')).toHaveLength(18);
    expect(cell.items.map((i) => i.node.toString())).toEqual([
      'rms_norm{eps=0.000001}:f32[B,64]', 'mul:f32[B,64]', 'rms_norm{eps=0.000001}:f32[B,64]', 'mul:f32[B,64]',
    ]);
  });
});

describe('MLP speculator', () => {
  it('is 3 kernels per step: projection GEMV (+ the embedding mix in its epilogue), norm + GELU row kernel, head GEMV fused with its argmax', () => {
    const s = scheduleGraph(lmHeadArgmax(mlpSpeculator({ hiddenSize: 64, width: 48, vocabSize: 512, nPredict: 3, scaleInput: false, tieWeights: true }).graph));
    expect(summary(s)).toEqual([
      'linear[B,48]: linear add*', 'row[B,48]@1: rms_norm gelu*', 'linear[B,512]: linear argmax*',
      'linear[B,48]: linear add*', 'row[B,48]@1: rms_norm gelu*', 'linear[B,512]: linear argmax*',
      'linear[B,48]: linear add*', 'row[B,48]@1: rms_norm gelu*', 'linear[B,512]: linear argmax*',
      'map[B,3]: concat*',
    ]);
  });
});

describe('materialization rules', () => {
  const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', 8]);
  const graph = (out: Node) => makeGraph('g', [x], [{ name: 'y', node: out }]);

  it('computes an expensive shared subexpression once and recomputes a cheap one', () => {
    const e = Node.make('exp', [Node.make('tanh', [x])]);
    const cheap = Node.make('add', [x, x]);
    const y = Node.make('add', [Node.make('mul', [e, cheap]), Node.make('sub', [e, cheap])]);
    const s = scheduleGraph(graph(y));
    expect(summary(s)).toEqual(['map[B,8]: exp* add*']);
    expect(s.inlined.has(cheap)).toBe(true);
  });

  it('puts a reduction over a non-last axis in a row kernel over that axis', () => {
    const s = scheduleGraph(graph(Node.make('sum', [Node.make('exp', [x])], { axis: 0 })));
    expect(summary(s)).toEqual(['row[B,8]@0: sum*']);
  });

  it('keeps a row statistic in the kernel and reads it back at the same row only', () => {
    const m = Node.make('reduce_max', [x], { axis: 1 });
    const back = Node.make('broadcast', [Node.make('reshape', [m], { shape: ['B', 1] })], { shape: ['B', 8] });
    const sameRow = scheduleGraph(graph(Node.make('sub', [x, back])));
    expect(summary(sameRow)).toEqual(['row[B,8]@1: reduce_max sub*']);
    // element (r, c) reading max of row c is another block's value: store the maximum, read it later
    const sq = Node.make('input', [], { name: 'q' }, 'f32', [4, 4]);
    const mq = Node.make('reduce_max', [sq], { axis: 1 });
    const across = Node.make('broadcast', [Node.make('reshape', [mq], { shape: [1, 4] })], { shape: [4, 4] });
    const other = scheduleGraph(makeGraph('g', [sq], [{ name: 'y', node: Node.make('sub', [sq, across]) }]));
    expect(summary(other)).toEqual(['row[4,4]@1: reduce_max*', 'map[4,4]: sub*']);
    // a transpose and back is the same row again
    const twice = Node.make('permute', [Node.make('broadcast', [m], { shape: [8, 'B'] })], { perm: [1, 0] });
    expect(summary(scheduleGraph(graph(Node.make('sub', [x, twice]))))).toEqual(['row[B,8]@1: reduce_max sub*']);
  });

  it('computes a light elementwise x used only by its linear in the x load; materializes other contraction operands', () => {
    const w = Node.make('param', [], { name: 'w' }, 'bf16', [4, 8]);
    const sq = Node.make('mul', [x, x]);
    const s = scheduleGraph(graph(Node.make('linear', [sq, w])));
    expect(summary(s)).toEqual(['linear[B,4]: linear*']);
    expect(s.kernels[0].operand?.x).toBe(sq);
    // x also read elsewhere (an output here), or holding a division (a call in PTX): stored by a map kernel
    const shared = scheduleGraph(makeGraph('g', [x], [{ name: 'y', node: Node.make('linear', [sq, w]) }, { name: 'sq', node: sq }]));
    expect(summary(shared)).toEqual(['map[B,8]: mul*', 'linear[B,4]: linear*']);
    expect(summary(scheduleGraph(graph(Node.make('linear', [Node.make('div', [x, sq]), w]))))).toEqual(['map[B,8]: div*', 'linear[B,4]: linear*']);
    const view = scheduleGraph(graph(Node.make('linear', [Node.make('reshape', [x], { shape: ['B', 8] }), w])));
    expect(summary(view)).toEqual(['linear[B,4]: linear*']);
  });

  it('copies an input that is also an output', () => {
    expect(summary(scheduleGraph(graph(x)))).toEqual(['map[B,8]: input*']);
  });
});
