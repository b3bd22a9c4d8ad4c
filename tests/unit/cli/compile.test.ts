// arcticc compile: built-in speculators and DSL files to manifest + PTX (+ textual IR); errors.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { readArtifact } from '../../../compiler/artifact.ts';
import { parseGraph } from '../../../compiler/ir/parse/index.ts';
import { fixtureDir } from '../../support/fixtures.ts';

const run = runCli;
const tmp = mkdtempSync(join(tmpdir(), 'arcticc-compile-'));

describe('arcticc compile', () => {
  it('compiles the LSTM speculator of a checkpoint to a readable artifact', async () => {
    const out = join(tmp, 'lstm');
    const r = await run(['compile', 'lstm', '--model', fixtureDir('lstm-wide-input'), '--out', out, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.kernels).toBeGreaterThan(0);
    const plan = readArtifact(out);
    expect(plan.name).toBe('arctic_lstm');
    expect(Object.values(plan.modules).every((ptx) => ptx.includes('.target sm_90'))).toBe(true);
    expect(parseGraph(readFileSync(join(out, 'graph.air'), 'utf8')).name).toBe('arctic_lstm');
  });
  it('compiles the MLP speculator from a config file with --emit ir only', async () => {
    const out = join(tmp, 'mlp-ir');
    const r = await run(['compile', 'mlp', '--config', join(fixtureDir('mlp-untied'), 'config.json'), '--out', out, '--emit', 'ir']);
    expect(r.code).toBe(0);
    expect(existsSync(join(out, 'graph.air'))).toBe(true);
    expect(existsSync(join(out, 'manifest.json'))).toBe(false);
  });
  it('compiles a user DSL file and dumps IR after a pass', async () => {
    const out = join(tmp, 'gru');
    const r = await run(['compile', 'examples/drafters/gru-drafter.ts', '--out', out, '--dump-after', 'canonicalize', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.dumps[0].pass).toBe('canonicalize');
    expect(readArtifact(out).name).toBe('gru_drafter');
  });
  it('shows gate-fusion and lm-head-topk with --dump-after', async () => {
    const r = await run(['compile', 'examples/drafters/lstm-gates-drafter.ts', '--out', join(tmp, 'lstm-gates'), '--dump-after', 'gate-fusion', '--json']);
    expect(r.code, r.err).toBe(0);
    const [d] = JSON.parse(r.out).dumps;
    expect(d.pass).toBe('gate-fusion');
    expect(JSON.stringify(d)).toContain('param \\"gates(W_i.weight,W_f.weight,W_g.weight,W_o.weight)\\" : bf16[128,32]');
    // the derivation the pass returned, beside the manifest, for whoever binds the artifact's weights
    const gates = JSON.parse(readFileSync(join(tmp, 'lstm-gates', 'gate-weights.json'), 'utf8'));
    expect(gates.map((g: { name: string; from: string[]; shape: number[] }) => [g.name, g.from.length, g.shape])).toEqual([
      ['gates(W_i.weight,W_f.weight,W_g.weight,W_o.weight)', 4, [128, 32]], ['gates(U_i.weight,U_f.weight,U_g.weight,U_o.weight)', 4, [128, 32]],
    ]);
    const plan = readArtifact(join(tmp, 'lstm-gates'));
    for (const g of gates) expect(plan.buffers.some((b) => b.kind === 'param' && b.name === g.name)).toBe(true);
    const t = await run(['compile', 'examples/drafters/topk-heads-drafter.ts', '--out', join(tmp, 'tree'), '--dump-after', 'lm-head-topk', '--json']);
    expect(t.code, t.err).toBe(0);
    const [e] = JSON.parse(t.out).dumps;
    expect(e.pass).toBe('lm-head-topk');
    expect(JSON.stringify(e)).toContain('topk_indices %12 {epilogue = \\"linear\\", k = 4} : i32[B,4]');
  });
  it('refuses a config of the other kind and a missing config', async () => {
    const r = await run(['compile', 'lstm', '--model', fixtureDir('mlp-tied'), '--out', join(tmp, 'x')]);
    expect(r.code).toBe(1); // the input does not fit the command: bad input
    expect(r.err).toMatch(/describes an MLP speculator/);
    expect((await run(['compile', 'mlp', '--out', join(tmp, 'y')])).err).toMatch(/--model DIR or --config/);
    expect((await run(['compile', 'nonsense', '--out', join(tmp, 'z')])).err).toMatch(/neither lstm, mlp nor a \.ts DSL file/);
  });
});
