// What every command shares: the Command shape, option parsing with zod, the exit-code rule, reading
// --input (a file or - for stdin), output in text or --json, and a progress line on terminals.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { z } from 'zod';

/** Where a command writes; tests pass their own (see tests/support/cli.ts). */
export interface CommandContext {
  /** stdout: results (text, or the --json object) */
  out: (s: string) => void;
  /** stderr: errors, dumps, notes */
  err: (s: string) => void;
  /** reads all of stdin (for `--input -`); default process.stdin */
  readStdin?: () => Promise<string>;
  /**
   * Draws a transient status line (stderr on a terminal); called with null to end it. Absent when
   * stderr is not a terminal, so logs and pipes stay clean.
   */
  progress?: (line: string | null) => void;
}

/**
 * One `arcticc` command. A command file exports `command: Command`; bin/commands/main.ts lists it with
 * its one-line summary. `main` prints `usage` for `--help`/`-h` without calling `run`.
 */
export interface Command {
  /** the full help text: synopsis, options, exit codes specific to the command, an example */
  readonly usage: string;
  /** runs the command; returns the exit code (default 0) or throws (see exitCodeFor) */
  run(argv: string[], ctx: CommandContext): Promise<number | void>;
}

/**
 * A mistake in how the command was called (unknown or missing option, bad option value, wrong number of
 * positionals): exit code 2.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Bad input data (a request file that is not valid JSON, a field of the wrong type or shape, a file that
 * does not exist): exit code 1, like every other failure.
 */
export class InputError extends Error {
  override name = 'InputError';
}

/** The one exit-code rule: 0 success, 1 bad input or a failure while running, 2 usage. */
export const exitCodeFor = (e: unknown): 1 | 2 => (e instanceof UsageError ? 2 : 1);

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** Parse argv for one command; zod validates and converts the values (so errors name the option). */
export function parseOptions<T extends z.ZodType>(command: string, argv: string[], spec: OptionSpec, schema: T): { values: z.infer<T>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...spec, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
  const { help: _help, ...values } = parsed.values;
  const r = schema.safeParse(values);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UsageError(`${command}: option --${issue.path.join('.')}: ${issue.message}`);
  }
  return { values: r.data, positionals: parsed.positionals };
}

const readProcessStdin = async (): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

/** The text of an --input: a file, or stdin for `-`. A missing file is bad input (exit 1). */
export async function readInputText(file: string, ctx: CommandContext): Promise<string> {
  if (file === '-') return (ctx.readStdin ?? readProcessStdin)();
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.out(JSON.stringify(value, null, 2));
}

/** A status line for long commands: a no-op without a terminal (or with --json). */
export function progress(ctx: CommandContext, enabled = true): { update: (line: string) => void; done: () => void } {
  const draw = enabled ? ctx.progress : undefined;
  let drawn = false;
  return {
    update: (line) => { if (draw) { draw(line); drawn = true; } },
    done: () => { if (draw && drawn) draw(null); drawn = false; },
  };
}

/** The default progress drawer of the real CLI: one self-overwriting stderr line, only on a terminal. */
export function terminalProgress(): ((line: string | null) => void) | undefined {
  if (process.stderr.isTTY !== true) return undefined;
  return (line) => process.stderr.write(line === null ? '\r\x1b[K' : `\r\x1b[K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`);
}
