// Dispatch to a command; turn every failure into one clear line (or a JSON object with --json).
import { readFileSync } from 'node:fs';
import type { CommandContext } from './shared.ts';
import { UsageError } from './shared.ts';

type Command = (argv: string[], ctx: CommandContext) => Promise<void>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  propose: { summary: 'propose draft tokens with a speculator checkpoint', load: async () => (await import('./propose.ts')).propose },
  inspect: { summary: 'show a checkpoint: config, tensors, shapes, dtypes, bytes, ties', load: async () => (await import('./inspect.ts')).inspect },
  compile: { summary: 'compile a built-in speculator or a DSL file to PTX + manifest', load: async () => (await import('./compile.ts')).compile },
  opt: { summary: 'run passes on a textual IR file and print the result', load: async () => (await import('./opt.ts')).opt },
  new: { summary: 'scaffold a new draft architecture in the DSL', load: async () => (await import('./new.ts')).newArchitecture },
  generate: { summary: 'continue prompts with a Llama target model (CPU or CUDA)', load: async () => (await import('./generate.ts')).generate },
  bench: { summary: 'time proposals of a checkpoint on a device', load: async () => (await import('./bench.ts')).bench },
};

export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(9)} ${c.summary}`);
  return [
    `arcticc ${VERSION}: a compiler and runtime for speculative-decoding draft models`,
    '',
    'usage: arcticc <command> [options]    (every command takes --json and --help)',
    '',
    'commands:',
    ...lines,
    '',
    'examples:',
    '  arcticc propose --model tests/fixtures/speculators/lstm-tiny --input request.json --json',
    '  arcticc inspect tests/fixtures/speculators/mlp-tied',
    '  arcticc compile lstm --model DIR --out build/lstm --emit all',
  ].join('\n');
}

export async function main(argv: string[], ctx: CommandContext = { out: (s) => console.log(s), err: (s) => console.error(s) }): Promise<number> {
  const [name, ...rest] = argv;
  const json = rest.includes('--json');
  if (!name || name === '--help' || name === '-h' || name === 'help') { ctx.out(usage()); return 0; }
  if (name === '--version' || name === '-v' || name === 'version') { ctx.out(VERSION); return 0; }
  const cmd = COMMANDS[name];
  if (!cmd) { ctx.err(`arcticc: unknown command "${name}"\n\n${usage()}`); return 2; }
  try {
    await (await cmd.load())(rest, ctx);
    return 0;
  } catch (e) {
    const err = e as Error;
    if (json) ctx.out(JSON.stringify({ error: { name: err.name, message: err.message } }, null, 2));
    else ctx.err(`arcticc ${name}: ${err.name === 'Error' ? 'error' : err.name}: ${err.message}`);
    return e instanceof UsageError ? 2 : 1;
  }
}
