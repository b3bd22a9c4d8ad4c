// arcticc new NAME: scaffold a draft architecture: the DSL file (importing arcticc/dsl), a random-weight
// checkpoint generator for it, and a test (node:test), all ready to run in a project that depends on arcticc.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { analyzeUserFile } from '../../compiler/frontend/user-file.ts';
import type { Command, CommandContext } from './shared.ts';
import { InputError, parseOptions, printJson, UsageError } from './shared.ts';

export const usage = `usage: arcticc new NAME [--dir DIR] [--json]

Write a new draft architecture, ready to compile and run:
  NAME.ts          the drafter: a factory (options: DrafterOptions) => Program written against arcticc/dsl
  NAME.weights.ts  a random-weight checkpoint generator: node NAME.weights.ts [OUT_DIR]
  NAME.test.ts     a test (node:test): random weights, propose on the CPU, compile to PTX: node --test NAME.test.ts

The project needs "type": "module" in its package.json and arcticc as a dependency (npm install arcticc).

      --dir DIR    where to write (default .)
      --json       print {"files": [...], "exports": [...]}
  -h, --help       show this help

exit codes: 0 written (and NAME.ts type-checks); 1 a file already exists or cannot be written; 2 usage (bad NAME)

example:
  arcticc new gru-drafter && node gru-drafter.weights.ts gru-random
  arcticc propose --program gru-drafter.ts --model gru-random --input request.json --device cpu`;

const camel = (s: string): string => s.replace(/[-_]+(\w)/g, (_, c: string) => c.toUpperCase());

/** The drafter file: one recurrent step per draft token (the Arctic MLP speculator's shape). */
export function scaffold(name: string, dslImport = 'arcticc/dsl'): string {
  const fn = camel(name);
  return `// ${name}: a draft architecture for arcticc.
//   node ${name}.weights.ts ${name}-random                      random weights (config.json + model.safetensors)
//   npx arcticc compile ${name}.ts --model ${name}-random --out build/${name} --dump-after all
//   npx arcticc propose --program ${name}.ts --model ${name}-random --input request.json --device cpu
//   node --test ${name}.test.ts
import { defineProgram, embedding, rmsNorm, stack, unroll } from '${dslImport}';
import type { DrafterOptions, Program } from '${dslImport}';

/** The sizes used without a checkpoint (\`arcticc compile ${name}.ts\` with no --model). */
export const defaults: DrafterOptions = {
  hiddenSize: 64, width: 64, vocabSize: 512, nPredict: 3, scaleInput: false, tieWeights: false,
  weightDtype: () => 'bf16', config: {},
};

/** One recurrent step per draft token: mix the state with the last token's embedding, norm, GELU, LM head. */
export function ${fn}(o: DrafterOptions = defaults): Program {
  return defineProgram('${name.replace(/\W/g, '_')}', { H: o.hiddenSize, D: o.width, V: o.vocabSize }, (p) => {
    const w = <const S extends readonly string[]>(n: string, shape: S) => p.param(n, shape, o.weightDtype(n));
    const hidden = p.input('hidden', ['B', 'H'], 'f32');
    const tokens = p.input('tokens', ['B'], 'i32');
    const inProj = w('in_proj.weight', ['D', 'H']);
    const emb = w('emb.weight', ['V', 'D']);
    const head = w('head.weight', ['V', 'D']);
    const { ys } = unroll(o.nPredict, { state: hidden.linear(inProj), token: tokens }, (c) => {
      const state = rmsNorm(c.state.add(embedding(emb, c.token))).gelu();
      const token = state.linear(head).argmax(-1);
      return [{ state, token }, token] as const;
    });
    p.output('draft', stack(ys));
  });
}
`;
}

/** The random-weight checkpoint generator. */
export function weightsScaffold(name: string, pkgImport = 'arcticc'): string {
  const fn = camel(name);
  return `// Writes a random-weight checkpoint for ${name}:  node ${name}.weights.ts [OUT_DIR] [SEED]
import { fileURLToPath } from 'node:url';
import { writeRandomCheckpoint } from '${pkgImport}';
import { defaults, ${fn} } from './${name}.ts';

/** config.json (the sizes of \`defaults\`) and model.safetensors with every param ${fn} declares. */
export function generate(dir: string, seed = 0) {
  return writeRandomCheckpoint(dir, ${fn}, { options: defaults, seed });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? '${name}-random';
  const { tensors } = generate(dir, Number(process.argv[3] ?? 0));
  console.log(\`wrote \${dir}: config.json and model.safetensors (\${tensors.map((t) => \`\${t.name} \${t.dtype}[\${t.shape.join(',')}]\`).join(', ')})\`);
}
`;
}

/** The test: random weights, propose on the CPU, compile to PTX. */
export function testScaffold(name: string, pkgImport = 'arcticc'): string {
  const fn = camel(name);
  return `// node --test ${name}.test.ts
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { compileProgram, loadSpeculator } from '${pkgImport}';
import { defaults, ${fn} } from './${name}.ts';
import { generate } from './${name}.weights.ts';

test('${name} proposes nPredict in-vocabulary tokens per request on the CPU', async () => {
  const dir = mkdtempSync(join(tmpdir(), '${name}-'));
  generate(dir);
  const spec = await loadSpeculator({ model: dir, program: ${fn}, device: 'cpu' });
  try {
    const B = 2;
    const hidden = Float32Array.from({ length: B * spec.hiddenSize }, (_, i) => Math.sin(i));
    const draft = await spec.propose({ hidden, tokens: Int32Array.of(1, 2) });
    assert.equal(draft.length, B * defaults.nPredict);
    for (const t of draft) assert.ok(t >= 0 && t < defaults.vocabSize);
  } finally {
    spec.close();
  }
});

test('${name} compiles to PTX', () => {
  const plan = compileProgram(${fn}().graph, { maxDims: { B: 8 } });
  assert.ok(plan.kernels.length > 0);
  assert.ok(Object.values(plan.modules).every((ptx) => ptx.includes('.target sm_90')));
});
`;
}

async function run(argv: string[], ctx: CommandContext): Promise<void> {
  const { values: o, positionals } = parseOptions('new', argv, { dir: { type: 'string' } }, z.object({ dir: z.string().default('.'), json: z.boolean().default(false) }));
  const name = positionals[0];
  if (positionals.length !== 1 || !/^[A-Za-z][\w-]*$/.test(name)) throw new UsageError('new: expected one architecture name (letters, digits, - and _), e.g. arcticc new my-drafter');
  const files = [
    [join(o.dir, `${name}.ts`), scaffold(name)],
    [join(o.dir, `${name}.weights.ts`), weightsScaffold(name)],
    [join(o.dir, `${name}.test.ts`), testScaffold(name)],
  ] as const;
  for (const [f] of files) if (existsSync(f)) throw new InputError(`new: ${f} already exists (nothing written)`);
  try {
    mkdirSync(o.dir, { recursive: true });
    for (const [f, text] of files) writeFileSync(f, text);
  } catch (e) {
    throw new InputError(`new: ${(e as Error).message}`);
  }
  const defs = analyzeUserFile(files[0][0]); // the drafter must type-check as written
  if (o.json) printJson(ctx, { files: files.map(([f]) => f), exports: defs });
  else {
    ctx.out(`wrote ${files.map(([f]) => f).join(', ')}`);
    ctx.out(`next: node ${files[1][0]} ${name}-random && arcticc compile ${files[0][0]} --model ${name}-random --out build/${name} --dump-after all`);
  }
}

export const command: Command = { usage, run };
