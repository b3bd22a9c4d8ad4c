// arcticc new NAME [--dir DIR]: scaffold a new draft architecture in the DSL, ready to compile.
import { existsSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { analyzeUserFile } from '../../compiler/frontend/user-file.ts';
import type { CommandContext } from './shared.ts';
import { parseOptions, printJson, UsageError } from './shared.ts';

const camel = (s: string): string => s.replace(/[-_]+(\w)/g, (_, c: string) => c.toUpperCase());

export function scaffold(name: string, dslImport: string): string {
  const fn = camel(name);
  return `// ${name}: a draft architecture for arcticc. Compile with
//   arcticc compile ${name}.ts --out build/${name} --emit all
import { defineProgram, embedding, rmsNorm, stack, unroll } from '${dslImport}';
import type { Program } from '${dslImport}';

export interface ${fn[0].toUpperCase()}${fn.slice(1)}Options { hiddenSize: number; width: number; vocabSize: number; nPredict: number }

/** One recurrent step per draft token: mix the state with the last token's embedding, norm, GELU, LM head. */
export function ${fn}(o = { hiddenSize: 64, width: 64, vocabSize: 512, nPredict: 3 }): Program {
  return defineProgram('${name.replace(/\W/g, '_')}', { H: o.hiddenSize, D: o.width, V: o.vocabSize }, (p) => {
    const hidden = p.input('hidden', ['B', 'H'], 'f32');
    const tokens = p.input('tokens', ['B'], 'i32');
    const inProj = p.param('in_proj.weight', ['D', 'H'], 'bf16');
    const emb = p.param('emb.weight', ['V', 'D'], 'bf16');
    const head = p.param('head.weight', ['V', 'D'], 'bf16');
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

export async function newArchitecture(argv: string[], ctx: CommandContext): Promise<void> {
  const { values: o, positionals } = parseOptions('new', argv, { dir: { type: 'string' } }, z.object({ dir: z.string().default('.'), json: z.boolean().default(false) }));
  const name = positionals[0];
  if (positionals.length !== 1 || !/^[A-Za-z][\w-]*$/.test(name)) throw new UsageError('new: expected one architecture name (letters, digits, - and _), e.g. arcticc new my-drafter');
  const file = join(o.dir, `${name}.ts`);
  if (existsSync(file)) throw new UsageError(`new: ${file} already exists`);
  const dsl = resolve(import.meta.dirname, '../../dsl/index.ts');
  let spec = relative(resolve(o.dir), dsl).split('\\').join('/');
  if (!spec.startsWith('.')) spec = `./${spec}`;
  writeFileSync(file, scaffold(name, spec));
  const defs = analyzeUserFile(file); // the scaffold must type-check as written
  if (o.json) printJson(ctx, { file, exports: defs });
  else ctx.out(`wrote ${file} (exports ${defs.map((d) => d.name).join(', ')}); compile it with: arcticc compile ${file} --out build/${name}`);
}
