// Reading the JSON files of a Hugging Face model folder, with errors that name the file.
import { readFile } from 'node:fs/promises';
import { TokenizerError } from './errors.ts';

export type JsonObject = Record<string, unknown>;

async function readText(path: string, what: string, optional: boolean): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && optional) return undefined;
    if (code === 'ENOENT') throw new TokenizerError(`${what} not found`, path);
    if (code === 'EISDIR') throw new TokenizerError(`${what} is a directory, not a file`, path);
    throw new TokenizerError(`cannot read ${what}: ${(e as Error).message}`, path);
  }
}

/** Parse `path` as a JSON object; a missing file is an error unless `optional` (then `undefined`). */
export async function readJsonObject(path: string, what: string, optional = false): Promise<JsonObject | undefined> {
  const text = await readText(path, what, optional);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${what} is not valid JSON (${(e as Error).message})`, path);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokenizerError(`${what} must hold a JSON object, found ${Array.isArray(value) ? 'an array' : typeof value}`, path);
  }
  return value as JsonObject;
}

/** Read a text file that may be absent. */
export const readOptionalText = (path: string, what: string): Promise<string | undefined> => readText(path, what, true);
