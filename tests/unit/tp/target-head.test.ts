// The target model's LM head, vocab-parallel (issue 16: "the same for the target model's LM head"): the
// real pycode-small program (tied embeddings: the embedding stays whole, the head reads its rank's rows),
// sharded over N = 2, 4 and 8 ranks and run by the interpreter in lockstep, continues two reference prompts
// (a prefill of both in one pass, then decode steps with the caches carried) with exactly the TP = 1 tokens
// on every rank.
import { expect, it } from 'vitest';
import { graphNodes } from '../../../compiler/ir/graph.ts';
import { interpret, interpretRanks } from '../../../compiler/ir/interp.ts';
import type { HostTensor } from '../../../compiler/ir/tensor-data.ts';
import { hostTensor } from '../../../compiler/ir/tensor-data.ts';
import { shardVocabParallel, shardWeights } from '../../../compiler/passes/tensor-parallel.ts';
import { loadLlamaCheckpoint } from '../../../runtime/checkpoint/load-llama.ts';
import { addRopeTables, targetProgram } from '../../../runtime/target/target-program.ts';
import { referenceCases, TARGET_DIR } from '../../support/target.ts';

it('pycode-small with its head sharded over 2, 4 and 8 ranks generates exactly the TP = 1 tokens', () => {
  const { config, weights } = loadLlamaCheckpoint(TARGET_DIR, { quiet: true });
  const maxLen = 32, P = 12, NEW = 4;
  addRopeTables(weights, config, maxLen);
  const g = targetProgram(config, weights, { slots: 2, maxLen, head: 'argmax' }).graph;
  const cases = referenceCases().slice(0, 2);
  const i32 = (x: number[]): HostTensor => hostTensor('i32', [x.length], Int32Array.from(x));
  const fresh = (): Record<string, HostTensor> => Object.fromEntries(g.inputs.filter((n) => n.argOf<string>('name').startsWith('kv_'))
    .map((n) => [n.argOf<string>('name'), hostTensor(n.dtype, n.shape as number[])]));
  const carried = (o: Record<string, HostTensor>): Record<string, HostTensor> =>
    Object.fromEntries(Object.entries(o).filter(([k]) => k.endsWith('_out')).map(([k, t]) => [k.slice(0, -4), t]));
  /** greedy continuation of both prompts (slot i = prompt i) by a step function over the row inputs and caches */
  const generate = (step: (x: Record<string, HostTensor>) => Record<string, HostTensor>[]): number[][] => {
    let caches = fresh();
    const outs: number[][] = [[], []];
    const prompts = cases.map((c) => c.prompt.slice(0, P));
    let x = { tokens: i32([...prompts[0], ...prompts[1]]), positions: i32([...Array(P).keys(), ...Array(P).keys()]), slots: i32([...Array(P).fill(0), ...Array(P).fill(1)]), rows: i32([P - 1, 2 * P - 1]) };
    for (let s = 0; s < NEW; s++) {
      const res = step({ ...x, ...caches });
      const toks = Array.from(res[0].next_tokens.data as Int32Array);
      for (const r of res.slice(1)) expect(Array.from(r.next_tokens.data as Int32Array)).toEqual(toks); // every rank agrees
      toks.forEach((t, i) => outs[i].push(t));
      caches = carried(res[0]);
      x = { tokens: i32(toks), positions: i32([P + s, P + s]), slots: i32([0, 1]), rows: i32([0, 1]) };
    }
    return outs;
  };
  const plain = generate((x) => [interpret(g, x, weights)]);
  for (const n of [2, 4, 8]) {
    const ranks = Array.from({ length: n }, (_, r) => shardVocabParallel(g, n, r));
    for (const p of ranks) expect(graphNodes(p.graph).filter((x) => x.op === 'all_gather').length).toBe(1);
    const params = ranks.map((p) => shardWeights(weights, p.shards));
    // the head's table is split: each rank holds 4096 / n rows of it for the head, the embedding whole
    expect(params[0].size).toBeGreaterThan(weights.size);
    const tp = generate((x) => interpretRanks(ranks.map((p) => p.graph), x, params));
    expect(tp, `TP=${n}`).toEqual(plain);
  }
}, 120_000);
