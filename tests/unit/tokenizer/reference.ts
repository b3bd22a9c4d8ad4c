// The pycode-small tokenizer fixture and what the Python `tokenizers` package computes on it
// (tests/fixtures/target/tokenizer-reference.json, written by make-tokenizer-reference.py).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '../../../runtime/tokenizer/index.ts';

export const TARGET_DIR = fileURLToPath(new URL('../../fixtures/target/', import.meta.url));
export const MODEL_DIR = TARGET_DIR + 'pycode-small';
export const TOKENIZER_JSON = MODEL_DIR + '/tokenizer.json';

export interface EncodeCase {
  name: string;
  text: string;
  ids: number[];
  ids_special?: number[];
  decoded: string;
  decoded_special?: string;
}

export interface DecodeCase {
  name: string;
  ids: number[];
  text: string;
  text_special?: string;
}

export interface Reference {
  tokenizers_version: string;
  vocab_size: number;
  encode: EncodeCase[];
  decode: DecodeCase[];
}

export const reference: Reference = JSON.parse(readFileSync(TARGET_DIR + 'tokenizer-reference.json', 'utf8'));

let shared: Promise<Tokenizer> | undefined;
/** The fixture's tokenizer, loaded once per test file. */
export const fixtureTokenizer = (): Promise<Tokenizer> => (shared ??= Tokenizer.fromDir(MODEL_DIR));
