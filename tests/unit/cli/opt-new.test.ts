// arcticc opt (passes on textual IR) and arcticc new (scaffold that type-checks and traces).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { traceUserFile } from '../../../compiler/frontend/user-file.ts';

const run = runCli;
const tmp = mkdtempSync(join(tmpdir(), 'arcticc-opt-'));

describe('arcticc opt', () => {
  const ir = `graph g(%x: f32[B,4]) {
  %0 = const 1 : f32[B,4]
  %1 = mul %x, %0 : f32[B,4]
  %2 = exp %1 : f32[B,4]
  return y = %2
}
`;
  it('runs the named passes and prints the result', async () => {
    const f = join(tmp, 'g.air');
    writeFileSync(f, ir);
    const r = await run(['opt', f, '--passes', 'simplify']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('%0 = exp %x : f32[B,4]');
    expect(r.out).not.toContain('mul');
  });
  it('dumps after a pass in --json mode', async () => {
    const f = join(tmp, 'g2.air');
    writeFileSync(f, ir);
    const r = await run(['opt', f, '--passes', 'simplify,canonicalize', '--dump-after', 'simplify', '--json']);
    const j = JSON.parse(r.out);
    expect(j.dumps).toHaveLength(1);
    expect(j.dumps[0].pass).toBe('simplify');
  });
  it('reports parse errors with line:column', async () => {
    const f = join(tmp, 'bad.air');
    writeFileSync(f, 'graph g(%x: f32[4]) {\n  %0 = add %x, %nope : f32[4]\n  return y = %0\n}\n');
    const r = await run(['opt', f]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad\.air:2:\d+: undefined value %nope/);
  });
  it('rejects an unknown pass, listing the known ones', async () => {
    const f = join(tmp, 'g3.air');
    writeFileSync(f, ir);
    const r = await run(['opt', f, '--passes', 'frobnicate']);
    expect(r.code).toBe(2); // the pipeline is part of the command line
    expect(r.err).toMatch(/frobnicate/);
    expect(r.err).toMatch(/simplify/);
  });
});

describe('arcticc new', () => {
  it('scaffolds an architecture that type-checks and traces', async () => {
    const r = await run(['new', 'tiny-drafter', '--dir', tmp]);
    expect(r.code).toBe(0);
    const file = join(tmp, 'tiny-drafter.ts');
    expect(readFileSync(file, 'utf8')).toContain('export function tinyDrafter');
    expect(readFileSync(file, 'utf8')).toContain("from 'arcticc/dsl'");
    expect(readFileSync(join(tmp, 'tiny-drafter.weights.ts'), 'utf8')).toContain("from 'arcticc'");
    expect(readFileSync(join(tmp, 'tiny-drafter.test.ts'), 'utf8')).toContain("from 'node:test'");
    const { program } = await traceUserFile(file, undefined, undefined);
    expect(program.graph.outputs[0].node.shape).toEqual(['B', 3]);
  });
  it('refuses to overwrite and rejects bad names', async () => {
    const again = await run(['new', 'tiny-drafter', '--dir', tmp]);
    expect(again.err).toMatch(/already exists/);
    expect(again.code).toBe(1);
    expect((await run(['new', '9lives', '--dir', tmp])).code).toBe(2);
  });
  it('reports type errors of a user file as file:line', async () => {
    const file = join(tmp, 'broken.ts');
    writeFileSync(file, readFileSync(join(tmp, 'tiny-drafter.ts'), 'utf8').replace("hidden.linear(inProj)", "hidden.linear(emb)"));
    await expect(traceUserFile(file, undefined, undefined)).rejects.toThrow(/broken\.ts:\d+: .*shape error/s);
  });
});
