// Loading a model folder: BOS/EOS and chat template from the config files, and clear errors naming the file,
// field or id for everything that can be wrong.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer, TokenizerError } from '../../../runtime/tokenizer/index.ts';
import { fixtureTokenizer, MODEL_DIR, TOKENIZER_JSON } from './reference.ts';

const tmp = mkdtempSync(join(tmpdir(), 'arcticc-tokenizer-'));
let n = 0;
/** A model folder with the fixture's tokenizer.json (unless `tokenizer` is given) and the given extra files. */
function modelDir(files: Record<string, string | object> = {}, tokenizer: string | null = null): string {
  const dir = join(tmp, `m${n++}`);
  mkdirSync(dir);
  if (tokenizer === null) copyFileSync(TOKENIZER_JSON, join(dir, 'tokenizer.json'));
  else writeFileSync(join(dir, 'tokenizer.json'), tokenizer);
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), typeof body === 'string' ? body : JSON.stringify(body));
  return dir;
}

const rejects = async (p: Promise<unknown>, message: RegExp): Promise<void> => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(TokenizerError);
  expect((err as Error).message).toMatch(message);
};

describe('Tokenizer.fromDir on pycode-small', () => {
  it('reads BOS/EOS from config.json and generation_config.json and finds no chat template', async () => {
    const tok = await fixtureTokenizer();
    expect(tok.path).toBe(join(MODEL_DIR, 'tokenizer.json'));
    expect(tok.vocabSize).toBe(4096);
    expect(tok.bosId).toBe(0);
    expect(tok.eosId).toBe(0);
    expect(tok.eosIds).toEqual([0]);
    expect(tok.hasChatTemplate).toBe(false);
    expect(tok.byteLevel).toBe(true);
  });

  it('fromFile knows no BOS/EOS (they live in the folder)', async () => {
    const tok = await Tokenizer.fromFile(TOKENIZER_JSON);
    expect(tok.bosId).toBeNull();
    expect(tok.eosId).toBeNull();
    expect(tok.hasChatTemplate).toBe(false);
  });
});

describe('config files', () => {
  it('prefers tokenizer_config.json tokens and adds generation_config stop ids', async () => {
    const dir = modelDir({
      'tokenizer_config.json': { bos_token: { content: 'ĠĠ', special: false }, eos_token: '<|endoftext|>' },
      'generation_config.json': { bos_token_id: 5, eos_token_id: [0, 7] },
      'config.json': { bos_token_id: 9, eos_token_id: 0 },
    });
    const tok = await Tokenizer.fromDir(dir);
    expect(tok.bosId).toBe(257);
    expect(tok.eosId).toBe(0);
    expect(tok.eosIds).toEqual([0, 7]);
  });

  it('falls back to config.json, and to null when nothing names a BOS/EOS', async () => {
    expect((await Tokenizer.fromDir(modelDir({ 'config.json': { bos_token_id: 3, eos_token_id: [4, 5] } }))).eosIds).toEqual([4, 5]);
    const none = await Tokenizer.fromDir(modelDir({ 'config.json': { bos_token_id: null, eos_token_id: null } }));
    expect(none.bosId).toBeNull();
    expect(none.eosId).toBeNull();
    expect(none.eosIds).toEqual([]);
  });

  it('sees a chat template in tokenizer_config.json or chat_template.jinja', async () => {
    const t = '{% for m in messages %}{{ m.content }}{% endfor %}';
    expect((await Tokenizer.fromDir(modelDir({ 'tokenizer_config.json': { chat_template: t } }))).hasChatTemplate).toBe(true);
    expect((await Tokenizer.fromDir(modelDir({ 'tokenizer_config.json': { chat_template: [{ name: 'default', template: t }] } }))).hasChatTemplate).toBe(true);
    expect((await Tokenizer.fromDir(modelDir({ 'chat_template.jinja': t }))).hasChatTemplate).toBe(true);
    expect((await Tokenizer.fromDir(modelDir({ 'tokenizer_config.json': { chat_template: '' } }))).hasChatTemplate).toBe(false);
    expect((await Tokenizer.fromDir(modelDir({ 'tokenizer_config.json': {} }))).hasChatTemplate).toBe(false);
  });

  it('rejects special tokens that are not in the vocabulary, naming the file and field', async () => {
    await rejects(Tokenizer.fromDir(modelDir({ 'tokenizer_config.json': { eos_token: '</s>' } })),
      /tokenizer_config\.json: field "eos_token": token "<\/s>" is not in the vocabulary/);
    await rejects(Tokenizer.fromDir(modelDir({ 'tokenizer_config.json': { bos_token: 7 } })),
      /tokenizer_config\.json: field "bos_token" must be a token string or an object with "content", found 7/);
    await rejects(Tokenizer.fromDir(modelDir({ 'generation_config.json': { eos_token_id: [0, 4096] } })),
      /generation_config\.json: field "eos_token_id"\[1\]: token id 4096 is not in the vocabulary/);
    await rejects(Tokenizer.fromDir(modelDir({ 'config.json': { bos_token_id: '0' } })),
      /config\.json: field "bos_token_id" must be an integer token id, found "0"/);
  });

  it('rejects a malformed optional file by name', async () => {
    await rejects(Tokenizer.fromDir(modelDir({ 'tokenizer_config.json': '{"bos_token": ' })),
      /tokenizer_config\.json: tokenizer_config\.json is not valid JSON/);
    await rejects(Tokenizer.fromDir(modelDir({ 'generation_config.json': '[1, 2]' })),
      /generation_config\.json: generation_config\.json must hold a JSON object, found an array/);
  });
});

describe('missing or malformed tokenizer.json', () => {
  it('names the missing file', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    await rejects(Tokenizer.fromDir(empty), new RegExp(`${join(empty, 'tokenizer.json')}: tokenizer.json not found`));
    await rejects(Tokenizer.fromFile(join(empty, 'nope.json')), /nope\.json: tokenizer\.json not found/);
    await rejects(Tokenizer.fromFile(empty), /empty: tokenizer\.json is a directory, not a file/);
    writeFileSync(join(empty, 'tokenizer.model'), 'sentencepiece');
    await rejects(Tokenizer.fromDir(empty), /tokenizer\.json not found \(the folder has only a SentencePiece tokenizer\.model/);
  });

  it('names the file and what is wrong with it', async () => {
    await rejects(Tokenizer.fromDir(modelDir({}, '{"model": {"type": "BPE", "vocab": {}')), /tokenizer\.json: tokenizer\.json is not valid JSON/);
    await rejects(Tokenizer.fromDir(modelDir({}, '"text"')), /tokenizer\.json must hold a JSON object, found string/);
    await rejects(Tokenizer.fromDir(modelDir({}, '{"version": "1.0"}')), /tokenizer\.json: field "model" must be an object/);
    await rejects(Tokenizer.fromDir(modelDir({}, '{"model": {"vocab": {}}}')), /field "model\.type" must be a string/);
    await rejects(Tokenizer.fromDir(modelDir({}, '{"model": {"type": "BPE", "vocab": {}, "merges": []}, "added_tokens": {}}')),
      /field "added_tokens" must be a list/);
    await rejects(Tokenizer.fromDir(modelDir({}, '{"model": {"type": "BPE", "vocab": {}, "merges": []}, "added_tokens": [{"id": -1, "content": "x"}]}')),
      /field "added_tokens"\[0\] must have a string "content" and a non-negative integer "id"/);
    await rejects(Tokenizer.fromDir(modelDir({}, '{"model": {"type": "NoSuchModel"}}')), /tokenizer\.json: cannot build the tokenizer: .*NoSuchModel/);
  });
});

describe('bad ids and inputs', () => {
  it('decode names the unknown id and its index', async () => {
    const tok = await fixtureTokenizer();
    expect(() => tok.decode([1, 2, 4096])).toThrow(/token id 4096 at index 2 is not in the vocabulary of .*pycode-small\/tokenizer\.json \(ids 0\.\.4095\)/);
    expect(() => tok.decode([-1])).toThrow(/token id -1 at index 0 is not in the vocabulary/);
    expect(() => tok.decode([5, 1.5])).toThrow(/token id 1\.5 at index 1 is not an integer/);
    expect(() => tok.decode([5, '7' as unknown as number])).toThrow(/token id "7" \(string\) at index 1 is not an integer/);
    expect(() => tok.decode(null as unknown as number[])).toThrow(/token ids must be an array of integers, got null/);
    expect(tok.decode([])).toBe('');
  });

  it('encode wants a string', async () => {
    const tok = await fixtureTokenizer();
    expect(() => tok.encode(42 as unknown as string)).toThrow(/encode expects a string, got 42/);
    expect(tok.encode('')).toEqual([]);
  });
});
