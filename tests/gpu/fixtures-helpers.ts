// Loading a fixture checkpoint, compiling its speculator for the GPU, and building batches from its cases.
import { readFileSync } from 'node:fs';
import type { ExecutionPlan } from '../../compiler/codegen/plan.ts';
import type { HostTensor } from '../../compiler/ir/tensor-data.ts';
import { loadCheckpoint } from '../../runtime/checkpoint/index.ts';
import type { SpeculatorConfig } from '../../runtime/checkpoint/index.ts';
import { programFor } from '../../runtime/speculator-program.ts';
import { ROOT } from './gpu-env.ts';

export const FIXTURES = ['lstm-tiny', 'lstm-tiny-bin', 'lstm-wide-input', 'mlp-tied', 'mlp-untied'] as const;

export interface FixtureCase { hidden: number[]; token: number; expected: number[] }

export interface CompiledFixture {
  config: SpeculatorConfig;
  weights: Map<string, HostTensor>;
  plan: ExecutionPlan;
  cases: FixtureCase[];
}

export async function compileFixture(name: string, maxB: number): Promise<CompiledFixture> {
  const dir = `${ROOT}tests/fixtures/speculators/${name}`;
  const { config, weights } = loadCheckpoint(dir, { quiet: true });
  const { compile } = await import('./compiled.ts');
  const plan = compile(programFor(config, weights).graph, { B: maxB });
  const cases = (JSON.parse(readFileSync(`${dir}/cases.json`, 'utf8')) as { cases: FixtureCase[] }).cases;
  return { config, weights, plan, cases };
}

/** A batch of B rows cycling through the cases from `start`; expected is B×n row-major. */
export function batchOf(f: CompiledFixture, B: number, start = 0): { hidden: Float32Array; tokens: Int32Array; expected: Int32Array } {
  const H = f.config.hiddenSize, n = f.config.nPredict;
  const hidden = new Float32Array(B * H), tokens = new Int32Array(B), expected = new Int32Array(B * n);
  for (let i = 0; i < B; i++) {
    const c = f.cases[(start + i) % f.cases.length];
    hidden.set(c.hidden, i * H);
    tokens[i] = c.token;
    expected.set(c.expected, i * n);
  }
  return { hidden, tokens, expected };
}
