// gate-fusion on DSL drafters written with separate gate linears (examples/drafters/lstm-gates-drafter.ts,
// the GRU example): the derivation the pass returns, the fused weight built from it, interpreter results
// equal to the unfused program bit for bit (f32 and bf16 weights, every gate value), one linear kernel per
// input instead of four, and errors that name the param.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FloatDType } from '../../../compiler/ir/dtype.ts';
import type { Graph } from '../../../compiler/ir/graph.ts';
import { graphNodes, graphParams, makeGraph } from '../../../compiler/ir/graph.ts';
import { interpret } from '../../../compiler/ir/interp.ts';
import { IRError } from '../../../compiler/ir/errors.ts';
import { Node } from '../../../compiler/ir/node.ts';
import { resolveShape } from '../../../compiler/ir/shape.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor, numel, reader, writer } from '../../../compiler/ir/tensor-data.ts';
import { gateFusionDerived } from '../../../compiler/passes/gate-fusion.ts';
import { runPipeline } from '../../../compiler/pipeline.ts';
import { scheduleGraph } from '../../../compiler/schedule/schedule.ts';
import { lstmGatesDrafter } from '../../../examples/drafters/lstm-gates-drafter.ts';
import { gruDrafter } from '../../../examples/drafters/gru-drafter.ts';
import { safetensorsEntry, writeSafetensors } from '../../../runtime/checkpoint/safetensors-write.ts';
import { speculatorPipeline } from '../../../runtime/compile-speculator.ts';
import { buildGateWeight, fuseGateWeights } from '../../../runtime/gate-weights.ts';
import { loadSpeculator } from '../../../runtime/speculator.ts';
import { rng } from '../../support/random-graph.ts';
import { runPlanSim } from '../codegen/ptx-sim/run-plan.ts';
import { compileSpeculator } from '../../../runtime/compile-speculator.ts';

const SIZES = { hiddenSize: 16, width: 8, vocabSize: 32, nPredict: 3, scaleInput: false, tieWeights: false, config: {} };
const lstm = (dt: FloatDType = 'bf16') => lstmGatesDrafter({ ...SIZES, weightDtype: () => dt }).graph;

function randomWeights(g: Graph, seed: number): Map<string, HostTensor> {
  const r = rng(seed);
  return new Map(graphParams(g).map((p) => {
    const t = hostTensor(p.dtype, resolveShape(p.shape, new Map()));
    const w = writer(t);
    for (let i = 0; i < numel(t.shape); i++) w(i, r.next() * 2 - 1);
    return [p.argOf<string>('name'), t];
  }));
}

function inputsFor(seed: number, batch: number): Record<string, HostTensor> {
  const r = rng(seed);
  const hidden = hostTensor('f32', [batch, SIZES.hiddenSize]);
  const w = writer(hidden);
  for (let i = 0; i < batch * SIZES.hiddenSize; i++) w(i, r.next() * 4 - 2);
  return { hidden, tokens: hostTensor('i32', [batch], Int32Array.from({ length: batch }, () => r.int(0, SIZES.vocabSize - 1))) };
}

/** The graph with every sigmoid and tanh (the gates) also returned, so values are compared, not just tokens. */
const withGates = (g: Graph): Graph =>
  makeGraph(g.name, g.inputs, [...g.outputs, ...graphNodes(g).filter((n) => n.op === 'sigmoid' || n.op === 'tanh').map((node, i) => ({ name: `g${i}`, node }))]);

describe('gate-fusion', () => {
  it('returns the derivation of each fused weight as data: parts in the order written, stacked along rows', () => {
    const { graph, derived } = gateFusionDerived(lstm());
    expect(derived).toEqual(['W', 'U'].map((m) => ({
      name: `gates(${['i', 'f', 'g', 'o'].map((x) => `${m}_${x}.weight`).join(',')})`, axis: 0,
      from: ['i', 'f', 'g', 'o'].map((x) => `${m}_${x}.weight`), dtype: 'bf16', shape: [32, 8],
    })));
    const names = graphParams(graph).map((p) => p.argOf<string>('name'));
    expect(names.filter((n) => /^[WU]_/.test(n))).toEqual([]);
    // the head (argmax) and the single input projection are untouched
    expect(names).toContain('head.weight');
    expect(names).toContain('in_proj.weight');
    expect(gateFusionDerived(gruDrafter().graph).derived.map((d) => d.from)).toEqual([['wz.weight', 'wh.weight']]);
    expect(gateFusionDerived(graph).graph).toBe(graph); // idempotent
  });

  it('builds the fused weight from the derivation: the parts\' rows, in order', () => {
    const g = lstm('f32');
    const w = randomWeights(g, 3);
    const [d] = gateFusionDerived(g).derived;
    const fused = buildGateWeight(d, w);
    expect(fused.shape).toEqual([32, 8]);
    const f = reader(fused);
    d.from.forEach((name, j) => {
      const part = reader(w.get(name)!);
      for (let i = 0; i < 64; i++) expect(f(j * 64 + i)).toBe(part(i));
    });
  });

  it.each(['f32', 'bf16'] as const)('interpreter results equal the unfused program exactly (%s weights)', (dt) => {
    const g = withGates(lstm(dt));
    for (const seed of [1, 2]) {
      const weights = randomWeights(g, seed);
      const fused = fuseGateWeights(g, weights);
      expect(fused.derived).toHaveLength(2);
      // the separate gate weights are dropped: exactly the fused graph's params are bound
      expect([...fused.weights.keys()].sort()).toEqual(graphParams(fused.graph).map((p) => p.argOf<string>('name')).sort());
      const inputs = inputsFor(seed, 1 + 2 * seed);
      const want = interpret(g, inputs, weights), got = interpret(fused.graph, inputs, fused.weights);
      expect(Object.keys(got)).toEqual(Object.keys(want));
      for (const k of Object.keys(want)) expect(got[k], k).toEqual(want[k]);
    }
  });

  it('after the speculator pipeline each step runs one linear kernel per input (state, embedding), not four', () => {
    const count = (g: Graph): number => scheduleGraph(g).kernels.filter((k) => k.kind === 'linear').length;
    const g = lstm();
    const unfused = runPipeline(g, speculatorPipeline().filter((p) => p !== 'gate-fusion'), { verify: true });
    const fused = runPipeline(g, speculatorPipeline(), { verify: true });
    // per step: 8 gate linears + head unfused, 2 + head fused; plus the input projection
    expect(count(unfused)).toBe(1 + SIZES.nPredict * 9);
    expect(count(fused)).toBe(1 + SIZES.nPredict * 3);
    const weights = randomWeights(g, 5);
    const f = fuseGateWeights(g, weights);
    const inputs = inputsFor(5, 4);
    expect(interpret(fused, inputs, f.weights)).toEqual(interpret(g, inputs, weights));
  });

  it('gates concatenated again are the fused projection itself after canonicalize (concat of adjacent slices)', () => {
    const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', 4]);
    const ws = ['i', 'f', 'g', 'o'].map((n) => Node.make('param', [], { name: `W_${n}` }, 'bf16', [3, 4]));
    const cat = Node.make('concat', ws.map((w) => Node.make('linear', [x, w])), { axis: 1 });
    const g = makeGraph('cat', [x], [{ name: 'y', node: Node.make('tanh', [cat]) }]);
    const out = runPipeline(g, 'gate-fusion,canonicalize', { verify: true });
    const y = out.outputs[0].node;
    expect(y.op).toBe('tanh');
    expect(y.src[0].op).toBe('linear');
    expect(y.src[0].src[1].argOf<string>('name')).toBe('gates(W_i,W_f,W_g,W_o)');
    expect(graphNodes(out).filter((n) => n.op === 'slice' || n.op === 'concat')).toEqual([]);
    const weights = randomWeights(g, 4);
    const f = fuseGateWeights(g, weights);
    const inputs = { x: hostTensor('f32', [2, 4], Float32Array.from([1, -2, 0.5, 3, 0.25, 7, -1, 2])) };
    expect(interpret(out, inputs, f.weights)).toEqual(interpret(g, inputs, weights));
  });

  it.each([1, 6])('the fused plan (as the CUDA backend compiles it) drafts what the unfused program drafts on the PTX machine, batch %i', (batch) => {
    const g = lstm();
    const weights = randomWeights(g, 11);
    const f = fuseGateWeights(g, weights);
    const { plan } = compileSpeculator(f.graph, { maxBatch: 8 });
    const inputs = inputsFor(11, batch);
    expect([...runPlanSim(plan, inputs, f.weights).draft.data]).toEqual([...interpret(g, inputs, weights).draft.data]);
  });

  it('names the param on bad input', () => {
    const x = Node.make('input', [], { name: 'x' }, 'f32', ['B', 4]);
    const a = Node.make('param', [], { name: 'a' }, 'f32', [2, 4]), b = Node.make('param', [], { name: 'b' }, 'f32', [2, 4]);
    const taken = Node.make('param', [], { name: 'gates(a,b)' }, 'f32', [4]);
    const sum = Node.make('add', [Node.make('linear', [x, a]), Node.make('linear', [x, b])]);
    const g = makeGraph('clash', [x], [{ name: 'y', node: sum }, { name: 'z', node: taken }]);
    expect(() => gateFusionDerived(g)).toThrow(IRError);
    expect(() => gateFusionDerived(g)).toThrow(/param "gates\(a,b\)".*already declares/);
    const ok = makeGraph('ok', [x], [{ name: 'y', node: sum }]);
    const [d] = gateFusionDerived(ok).derived;
    const t = hostTensor('f32', [2, 4]);
    expect(() => buildGateWeight(d, new Map([['a', t]]))).toThrow(/"gates\(a,b\)" needs tensor "b"/);
    expect(() => buildGateWeight(d, new Map([['a', t], ['b', hostTensor('bf16', [2, 4])]]))).toThrow(/part "b" is bf16/);
    expect(() => buildGateWeight(d, new Map([['a', t], ['b', hostTensor('f32', [2, 3])]]))).toThrow(/part "b" of "gates\(a,b\)" is \[2, 3\]/);
  });
});

describe('loadSpeculator with a separate-gate DSL drafter', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-fusion-'));
  const g = lstm();
  const weights = randomWeights(g, 9);
  beforeAll(() => { // a checkpoint with the per-gate tensors, as the user's program names them
    writeSafetensors(path.join(tmp, 'model.safetensors'), [...weights].map(([n, t]) => safetensorsEntry(n, t)));
    fs.writeFileSync(path.join(tmp, 'config.json'), JSON.stringify({ hidden_size: 16, width: 8, vocab_size: 32, n_predict: 3 }));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('loads the per-gate checkpoint tensors, runs the fused program, and drafts what the unfused program drafts', async () => {
    const spec = await loadSpeculator({ model: tmp, program: (o) => lstmGatesDrafter(o), device: 'cpu', quiet: true });
    try {
      expect(graphParams(spec.program.graph).map((p) => p.argOf<string>('name')).filter((n) => n.startsWith('gates('))).toHaveLength(2);
      const inputs = inputsFor(9, 3);
      const want = interpret(g, inputs, weights).draft.data;
      const got = await spec.propose({ hidden: inputs.hidden.data as Float32Array, tokens: inputs.tokens.data as Int32Array });
      expect([...got]).toEqual([...want]);
    } finally {
      spec.close();
    }
  });

  it('with quantize fp8-all, fp8-matmul quantizes the fused weights (named by the gate derivation)', async () => {
    const spec = await loadSpeculator({ model: tmp, program: (o) => lstmGatesDrafter(o), device: 'cpu', quiet: true, quantize: 'fp8-all' });
    try {
      const names = graphParams(spec.program.graph).map((p) => p.argOf<string>('name'));
      expect(names).toContain('gates(W_i.weight,W_f.weight,W_g.weight,W_o.weight).fp8');
      expect(names.filter((n) => /^[WU]_/.test(n))).toEqual([]);
      const draft = await spec.propose({ hidden: new Float32Array(16).fill(0.5), tokens: Int32Array.of(3) });
      expect(draft).toHaveLength(3);
    } finally {
      spec.close();
    }
  });
});
