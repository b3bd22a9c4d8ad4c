// Access to the bundled speculator fixtures (tests/fixtures/speculators, copied from shared/).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURE_ROOT = fileURLToPath(new URL('../fixtures/speculators/', import.meta.url));
export const FIXTURES = ['lstm-tiny', 'lstm-tiny-bin', 'lstm-wide-input', 'mlp-tied', 'mlp-untied'] as const;
export type FixtureName = (typeof FIXTURES)[number];

export interface FixtureCase { hidden: number[]; token: number; expected: number[]; min_margin_in_logit_std: number }
export interface FixtureCases { alpha: number; cases: FixtureCase[] }

export const fixtureDir = (name: FixtureName): string => FIXTURE_ROOT + name;

export function fixtureCases(name: FixtureName): FixtureCases {
  return JSON.parse(readFileSync(`${fixtureDir(name)}/cases.json`, 'utf8'));
}

/** The cases of a fixture as one batched request. */
export function fixtureBatch(name: FixtureName, count?: number): { hidden: Float32Array; tokens: Int32Array; expected: number[][] } {
  const cases = fixtureCases(name).cases.slice(0, count);
  return {
    hidden: Float32Array.from(cases.flatMap((c) => c.hidden)),
    tokens: Int32Array.from(cases.map((c) => c.token)),
    expected: cases.map((c) => c.expected),
  };
}

export const rows = (flat: Int32Array, k: number): number[][] =>
  Array.from({ length: flat.length / k }, (_, r) => Array.from(flat.subarray(r * k, (r + 1) * k)));
