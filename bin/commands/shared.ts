// What every command shares: option parsing with zod, output in text or --json, error reporting.
import { parseArgs } from 'node:util';
import type { z } from 'zod';

export interface CommandContext {
  out: (s: string) => void;
  err: (s: string) => void;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** Parse argv for one command; zod validates and converts the values (so errors name the option). */
export function parseOptions<T extends z.ZodType>(command: string, argv: string[], spec: OptionSpec, schema: T): { values: z.infer<T>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...spec, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
  const r = schema.safeParse(parsed.values);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UsageError(`${command}: option --${issue.path.join('.')}: ${issue.message}`);
  }
  return { values: r.data, positionals: parsed.positionals };
}

export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.out(JSON.stringify(value, null, 2));
}
