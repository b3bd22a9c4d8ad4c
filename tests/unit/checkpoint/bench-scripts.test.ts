import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectedParams, loadCheckpoint } from '../../../runtime/checkpoint/index.ts';
import { tempDir } from './helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
// The bench scripts are plain .ts run by Node 24's type stripping (the repo's node, not the system one).
const node = (args: string[]): string => execFileSync(path.join(ROOT, 'node_modules/.bin/node'), args, { cwd: ROOT, encoding: 'utf8' });

describe('bench scripts', () => {
  it('make-checkpoint writes a loadable sum_lstm checkpoint; load-checkpoint reports it as JSON', () => {
    const dir = path.join(tempDir(), 'ckpt');
    node(['bench/make-checkpoint.ts', dir, '--hidden', '48', '--width', '32', '--vocab', '100']);
    const c = loadCheckpoint(dir);
    expect(c.config).toMatchObject({ kind: 'lstm', method: 'sum_lstm', hiddenSize: 48, width: 32, vocabSize: 100, nPredict: 3 });
    expect([...c.weights].map(([n, t]) => ({ name: n, shape: t.shape }))).toEqual(expectedParams(c.config));
    const report = JSON.parse(node(['bench/load-checkpoint.ts', dir, '--runs', '1', '--json']));
    expect(report).toMatchObject({ bytes: c.bytes, params: 8 });
    expect(report.runs).toHaveLength(1);
    expect(report.bestGbPerSec).toBeGreaterThan(0);
  });
});
