// Encode and decode equal the Python `tokenizers` package (the Rust crate) on the pycode-small tokenizer.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tokenizer } from '../../../runtime/tokenizer/index.ts';
import { buildHfTokenizer } from '../../../runtime/tokenizer/hf-tokenizer.ts';
import { fixtureTokenizer, reference, TOKENIZER_JSON } from './reference.ts';
import { readFileSync } from 'node:fs';

describe('tokenizer reference corpus', () => {
  it('has the cases the generator writes', () => {
    expect(reference.vocab_size).toBe(4096);
    expect(reference.encode.length).toBeGreaterThan(250);
    expect(reference.decode.length).toBeGreaterThan(250);
    expect(reference.encode.some((c) => c.ids.includes(0))).toBe(true);
    expect(reference.decode.some((c) => c.text.includes('\ufffd'))).toBe(true);
  });
});

describe('encode equals Python tokenizers', () => {
  it.each(reference.encode.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const tok = await fixtureTokenizer();
    expect(tok.encode(c.text, { addSpecialTokens: false })).toEqual(c.ids);
    expect(tok.encode(c.text)).toEqual(c.ids_special ?? c.ids);
  });

  it('decodes its own encodings as Python does (special tokens skipped by default, kept on request)', async () => {
    const tok = await fixtureTokenizer();
    for (const c of reference.encode) {
      expect(tok.decode(c.ids), c.name).toBe(c.decoded);
      expect(tok.decode(c.ids, { skipSpecialTokens: false }), c.name).toBe(c.decoded_special ?? c.decoded);
    }
  });

  it('round-trips text that holds no special-token string', async () => {
    const tok = await fixtureTokenizer();
    for (const c of reference.encode) {
      if (!c.text.includes('<|endoftext|>')) expect(tok.decode(c.ids), c.name).toBe(c.text);
    }
  });

  // The case that found the tokenizers.js whitespace difference (see hf-tokenizer.ts).
  it('treats U+0085 as whitespace and U+FEFF as not, like Oniguruma', async () => {
    const tok = await fixtureTokenizer();
    for (const name of ['unicode.spaces-before-nel', 'unicode.spaces-before-bom']) {
      const c = reference.encode.find((e) => e.name === name)!;
      expect(tok.encode(c.text)).toEqual(c.ids);
    }
  });
});

describe('decode equals Python tokenizers', () => {
  it.each(reference.decode.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const tok = await fixtureTokenizer();
    expect(tok.decode(c.ids)).toBe(c.text);
    expect(tok.decode(c.ids, { skipSpecialTokens: true })).toBe(c.text);
    expect(tok.decode(c.ids, { skipSpecialTokens: false })).toBe(c.text_special ?? c.text);
    expect(tok.decode(Int32Array.from(c.ids))).toBe(c.text);
  });

  // decode goes through the token bytes (the crate's ByteLevel rule); tokenizers.js's own decode must agree on
  // this vocabulary, which checks the byte table against an independent implementation.
  it('agrees with the tokenizers.js decoder on random id sequences', async () => {
    const tok = await fixtureTokenizer();
    const hf = buildHfTokenizer(JSON.parse(readFileSync(TOKENIZER_JSON, 'utf8')), TOKENIZER_JSON);
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 4095 }), { minLength: 1, maxLength: 40 }), fc.boolean(), (ids, skip) => {
      expect(tok.decode(ids, { skipSpecialTokens: skip })).toBe(hf.decode(ids, { skip_special_tokens: skip }));
    }), { numRuns: 2000 });
  });
});

describe('vocabulary', () => {
  it('maps ids and tokens both ways', async () => {
    const tok = await fixtureTokenizer();
    expect(tok.vocabSize).toBe(reference.vocab_size);
    expect(tok.idToToken(0)).toBe('<|endoftext|>');
    expect(tok.tokenToId('<|endoftext|>')).toBe(0);
    expect(tok.idToToken(257)).toBe('ĠĠ');
    expect(tok.tokenToId('ĠĠ')).toBe(257);
    expect(tok.idToToken(4096)).toBeUndefined();
    expect(tok.idToToken(-1)).toBeUndefined();
    expect(tok.idToToken(1.5)).toBeUndefined();
    expect(tok.tokenToId('no such token')).toBeUndefined();
    for (let id = 0; id < tok.vocabSize; id++) expect(tok.tokenToId(tok.idToToken(id)!)).toBe(id);
    expect([...tok.specialIds]).toEqual([0]);
  });

  it('fromFile and fromDir encode alike', async () => {
    const a = await Tokenizer.fromFile(TOKENIZER_JSON);
    const b = await fixtureTokenizer();
    const c = reference.encode.find((e) => e.name === 'python[0]')!;
    expect(a.encode(c.text)).toEqual(b.encode(c.text));
    expect(a.vocabSize).toBe(b.vocabSize);
  });
});
