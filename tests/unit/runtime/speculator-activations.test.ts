// loadSpeculator({ activations }) and the CLI flags on the CPU backend: 'bf16' runs the bf16-activations
// pass (every linear reads a bf16-rounded input; the description says so), bad values and combinations are
// refused before any weight is read, and `arcticc propose|compile --activations` take it.
import { describe, expect, it } from 'vitest';
import { loadSpeculator } from '../../../index.ts';
import { graphNodes } from '../../../compiler/ir/graph.ts';
import { bf16Exact } from '../../../compiler/passes/bf16-activations.ts';
import { runCli } from '../../support/cli.ts';
import { fixtureBatch, fixtureDir } from '../../support/fixtures.ts';

describe('loadSpeculator activations', () => {
  it('bf16: every linear of the program the CPU runs reads a bf16-rounded input; f32 (default): none', async () => {
    for (const activations of ['f32', 'bf16'] as const) {
      const spec = await loadSpeculator({ model: fixtureDir('lstm-tiny'), device: 'cpu', activations });
      try {
        const linears = graphNodes(spec.program.graph).filter((n) => n.op === 'linear');
        expect(linears.length).toBeGreaterThan(0);
        expect(linears.map((n) => bf16Exact(n.src[0]))).toEqual(linears.map(() => activations === 'bf16'));
        expect(spec.deviceDescription.includes('bf16 activations')).toBe(activations === 'bf16');
      } finally {
        spec.close();
      }
    }
  });

  it('refuses an unknown mode and tensorParallel with bf16, naming the option', async () => {
    await expect(loadSpeculator({ model: fixtureDir('lstm-tiny'), device: 'cpu', activations: 'f16' as never })).rejects.toThrow(/activations must be one of f32, bf16, got "f16"/);
    await expect(loadSpeculator({ model: fixtureDir('lstm-tiny'), device: 'cpu', activations: 'bf16', tensorParallel: 2 })).rejects.toThrow(/tensorParallel does not combine with activations "bf16"/);
  });

  it('arcticc propose --activations bf16 drafts; --activations f16 is a usage error (exit 2)', async () => {
    const { hidden, tokens } = fixtureBatch('mlp-tied', 2);
    const H = hidden.length / 2;
    const stdin = JSON.stringify({ hidden: [Array.from(hidden.subarray(0, H)), Array.from(hidden.subarray(H))], tokens: Array.from(tokens) });
    const ok = await runCli(['propose', '--model', fixtureDir('mlp-tied'), '--input', '-', '--device', 'cpu', '--activations', 'bf16', '--json'], { stdin });
    expect(ok.code, ok.err).toBe(0);
    const j = JSON.parse(ok.out) as { draft: number[][]; deviceDescription: string };
    expect(j.draft.length).toBe(2);
    expect(j.deviceDescription).toMatch(/bf16 activations/);
    const bad = await runCli(['propose', '--model', fixtureDir('mlp-tied'), '--input', '-', '--device', 'cpu', '--activations', 'f16'], { stdin });
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/activations/);
  });
});
