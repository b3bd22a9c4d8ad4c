// A new user, following only the README's "Writing a speculator": scaffold with `arcticc new`, write the
// README's GRU drafter into the file, generate random weights with the scaffolded generator, compile it
// with the IR dumped at every stage, propose on the CPU, and run the library path on the same program.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpeculator } from '../../../index.ts';
import { readArtifact } from '../../../compiler/artifact.ts';
import { runCli } from '../../support/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'arcticc-author-'));
const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Writing a speculator'), readme.indexOf('## Layout'));
const gruSnippet = [...section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)][0][1];

describe('the README authoring path, scripted', () => {
  it('new → GRU drafter → random weights → compile with every IR stage → propose on the CPU', async () => {
    expect(section).toContain('npx arcticc new gru-drafter');
    const made = await runCli(['new', 'gru-drafter', '--dir', tmp]);
    expect(made.code, made.err).toBe(0);
    const file = join(tmp, 'gru-drafter.ts');
    writeFileSync(file, gruSnippet); // "Edit gru-drafter.ts into your architecture"

    // node gru-drafter.weights.ts gru-random (the scaffolded generator, imported in-process here)
    const ckpt = join(tmp, 'gru-random');
    const { generate } = await import(join(tmp, 'gru-drafter.weights.ts')) as { generate: (dir: string) => { tensors: { name: string }[] } };
    expect(generate(ckpt).tensors.map((t) => t.name).sort()).toEqual(['emb.weight', 'head.weight', 'in_proj.weight', 'wh.weight', 'wz.weight']);
    expect(JSON.parse(readFileSync(join(ckpt, 'config.json'), 'utf8'))).toMatchObject({ hidden_size: 64, width: 32, vocab_size: 256, n_predict: 4 });

    // arcticc compile gru-drafter.ts --model gru-random --out build/gru --dump-after all
    const out = join(tmp, 'build', 'gru');
    const c = await runCli(['compile', file, '--model', ckpt, '--out', out, '--dump-after', 'all']);
    expect(c.code, c.err).toBe(0);
    expect(c.err).toContain('// -----// IR Dump Before any pass (traced) //----- //\ngraph gru_drafter(%hidden: f32[B,64], %tokens: i32[B])');
    expect(c.err).toContain('// -----// IR Dump After canonicalize //----- //');
    expect(c.err).toMatch(/\/\/ -----\/\/ Scheduled kernels \/\/----- \/\/\nschedule gru_drafter: \d+ kernels/);
    expect(c.err).toMatch(/kernel 0 \(linear over \[B, 32\]\)/);
    expect(readArtifact(out).name).toBe('gru_drafter');

    // echo '{...}' | arcticc propose --program gru-drafter.ts --model gru-random --input - --device cpu
    const hidden = [Array.from({ length: 64 }, (_, i) => Math.sin(i)), Array.from({ length: 64 }, (_, i) => Math.cos(3 * i))];
    const p = await runCli(['propose', '--program', file, '--model', ckpt, '--input', '-', '--device', 'cpu', '--json'], { stdin: JSON.stringify({ hidden, tokens: [7, 200] }) });
    expect(p.code, p.err).toBe(0);
    const { draft } = JSON.parse(p.out) as { draft: number[][] };
    expect(draft.map((d) => d.length)).toEqual([4, 4]);
    expect(draft.flat().every((t) => Number.isInteger(t) && t >= 0 && t < 256)).toBe(true);

    // the library, with the factory itself: the same drafts
    const { gruDrafter } = await import(file);
    const spec = await loadSpeculator({ model: ckpt, program: gruDrafter, device: 'cpu' });
    expect(spec.numSpeculativeTokens).toBe(4);
    const lib = await spec.propose({ hidden: Float32Array.from(hidden.flat()), tokens: Int32Array.of(7, 200) });
    expect([...lib]).toEqual(draft.flat());
    spec.close();
  });
});
