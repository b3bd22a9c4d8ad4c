// The docs' code blocks run as written: every ```ts block of docs/decoding.md, and the README's
// "Writing a speculator" snippet (type-checked against the package and traced).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { traceUserFile } from '../../../compiler/frontend/user-file.ts';

const tmp = mkdtempSync(join(tmpdir(), 'arcticc-docs-'));
const blocks = (md: string): string[] => [...md.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
const repo = (p: string): string => new URL(`../../../${p}`, import.meta.url).pathname;

describe('docs/decoding.md', () => {
  const examples = blocks(readFileSync(repo('docs/decoding.md'), 'utf8'));
  it('has runnable examples', () => expect(examples.length).toBeGreaterThanOrEqual(4));
  it.each(examples.map((code, i) => [i + 1, code] as const))('example %i runs', async (i, code) => {
    const f = join(tmp, `decoding-${i}.ts`);
    writeFileSync(f, code);
    await import(f); // its asserts throw on a wrong claim
  });
});

describe('README', () => {
  const readme = readFileSync(repo('README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Writing a speculator'));
  const [snippet] = blocks(section);
  it('the authoring snippet type-checks and traces as written', async () => {
    expect(snippet).toContain("from 'arcticc/dsl'");
    const f = join(tmp, 'readme-snippet.ts');
    writeFileSync(f, snippet);
    const { program } = await traceUserFile(f, undefined, undefined);
    expect(program.graph.outputs[0].name).toBe('draft');
  });
});
