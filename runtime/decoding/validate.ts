// Input checks shared by the trees, the cache and the proposers. They read the whole input before anything
// mutates, so a rejected call cannot leave half a sequence appended.
import { DecodingError, showValue } from './errors.ts';

export const MAX_TOKEN_ID = 0x7fffffff; // token ids are stored in Int32Array; 2^31 and above do not fit

export type TokenInput = ArrayLike<number>;

// Accepts number[] or any typed array; every element must be an integer in [0, 2^31). Only positions
// from `from` on are checked (a caller that reads just the tail of a long input checks just the tail); the
// error names the position in the whole input.
export function checkTokens(tokens: unknown, what: string, from = 0): asserts tokens is TokenInput {
  if (tokens === null || typeof tokens !== 'object' || typeof (tokens as { length?: unknown }).length !== 'number') {
    throw new DecodingError(`${what}: expected an array of token ids, got ${showValue(tokens)}`);
  }
  if (tokens instanceof Int32Array) {
    // Int32 elements are integers below 2^31: only the sign needs a look.
    for (let i = from; i < tokens.length; i++) if (tokens[i] < 0) badToken(what, i, tokens[i]);
    return;
  }
  const arr = tokens as ArrayLike<unknown>;
  for (let i = from; i < arr.length; i++) {
    const t = arr[i];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > MAX_TOKEN_ID) badToken(what, i, t);
  }
}

function badToken(what: string, i: number, t: unknown): never {
  throw new DecodingError(`${what}: token at position ${i} is ${showValue(t)}; token ids must be integers in [0, 2^31)`);
}

export function checkToken(t: unknown, what: string): asserts t is number {
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > MAX_TOKEN_ID) {
    throw new DecodingError(`${what}: token ${showValue(t)} is not an integer in [0, 2^31)`);
  }
}

export function checkInt(v: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new DecodingError(`${what} must be an integer ${range}, got ${showValue(v)}`);
  }
}

export function checkFinite(v: unknown, what: string, min = -Infinity, max = Infinity): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new DecodingError(`${what} must be a finite number in [${min}, ${max}], got ${showValue(v)}`);
  }
}
