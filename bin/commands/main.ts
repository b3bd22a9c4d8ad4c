// Dispatch to a command; `--help` prints the command's usage without running it; every failure becomes
// one clear line (or a JSON object with --json) and an exit code by one rule (exitCodeFor):
// 0 success, 1 bad input or a failure while running, 2 a usage error.
//
// Adding a command: write bin/commands/NAME.ts exporting `command: Command` (its usage text and run
// function, see shared.ts) and add one line to COMMANDS below. Modules load lazily, so a command's
// imports cost nothing to the others.
import { VERSION } from '../../compiler/version.ts';
import type { Command, CommandContext } from './shared.ts';
import { exitCodeFor, terminalProgress } from './shared.ts';

interface Entry { readonly summary: string; readonly load: () => Promise<{ command: Command }> }

export const COMMANDS: Readonly<Record<string, Entry>> = {
  propose: { summary: 'propose draft tokens with a speculator checkpoint (or your own program)', load: () => import('./propose.ts') },
  inspect: { summary: 'show a checkpoint: config, tensors, shapes, dtypes, bytes, ties, problems', load: () => import('./inspect.ts') },
  compile: { summary: 'compile a built-in speculator or a DSL file to PTX + manifest', load: () => import('./compile.ts') },
  opt: { summary: 'run passes on a textual IR file and print the result', load: () => import('./opt.ts') },
  new: { summary: 'scaffold a draft architecture: DSL file, random-weight generator, test', load: () => import('./new.ts') },
  generate: { summary: 'continue prompts with a Llama target model, with or without speculation', load: () => import('./generate.ts') },
  serve: { summary: 'an OpenAI-compatible server (vLLM routes) with speculative decoding', load: () => import('./serve.ts') },
  bench: { summary: 'time proposals of a checkpoint on a device', load: () => import('./bench.ts') },
  train: { summary: 'train a draft model for a target (self-distillation, the compiler\'s own autodiff)', load: () => import('./train.ts') },
  'eval-acceptance': { summary: 'offline greedy acceptance length of a speculator on a target', load: () => import('./eval-acceptance.ts') },
};

export { VERSION };

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
    'exit codes: 0 success, 1 bad input or a failure while running, 2 a usage error',
    '',
    'examples:',
    '  arcticc propose --model tests/fixtures/speculators/lstm-tiny --input request.json --json',
    '  arcticc inspect tests/fixtures/speculators/mlp-tied',
    '  arcticc compile lstm --model DIR --out build/lstm --emit all',
    '  arcticc new my-drafter && arcticc new --help',
    '',
    'arcticc <command> --help shows the options of one command.',
  ].join('\n');
}

/** True when argv asks for help (before a `--` that ends the options). */
function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

const defaultContext = (): CommandContext => ({ out: (s) => console.log(s), err: (s) => console.error(s), progress: terminalProgress() });

/** Runs `arcticc ARGV` and returns the exit code. */
export async function main(argv: string[], ctx: CommandContext = defaultContext()): Promise<number> {
  const [name, ...rest] = argv;
  const json = rest.includes('--json');
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0] && COMMANDS[rest[0]]) return main([rest[0], '--help'], ctx);
    ctx.out(usage());
    return 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') { ctx.out(VERSION); return 0; }
  const entry = COMMANDS[name];
  if (!entry) { ctx.err(`arcticc: unknown command "${name}"\n\n${usage()}`); return 2; }
  try {
    const { command } = await entry.load();
    if (wantsHelp(rest)) { ctx.out(command.usage); return 0; }
    return (await command.run(rest, ctx)) ?? 0;
  } catch (e) {
    ctx.progress?.(null);
    const err = e instanceof Error ? e : new Error(String(e));
    const code = exitCodeFor(e);
    if (json) ctx.out(JSON.stringify({ error: { name: err.name, message: err.message, exitCode: code } }, null, 2));
    else ctx.err(`arcticc ${name}: ${err.name === 'Error' ? 'error' : err.name}: ${err.message}${code === 2 ? `\n(arcticc ${name} --help shows the options)` : ''}`);
    return code;
  }
}
