// StreamingDetokenizer: chunks concatenated equal decode(allIds), no chunk splits a character, every prefix of
// the stream is final (never retracted), and it never re-decodes the sequence.
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import type { Tokenizer } from '../../../runtime/tokenizer/index.ts';
import { fixtureTokenizer, reference } from './reference.ts';

const LONE_SURROGATE = /\p{Cs}/u;

interface Streamed { chunks: string[]; tail: string }

function stream(tok: Tokenizer, ids: readonly number[], skipSpecialTokens?: boolean): Streamed {
  const d = tok.streamingDetokenizer(skipSpecialTokens === undefined ? {} : { skipSpecialTokens });
  const chunks = ids.map((id) => d.push(id));
  return { chunks, tail: d.flush() };
}

/** Everything the property tests check for one id sequence. */
function checkStream(tok: Tokenizer, ids: readonly number[], skip: boolean): void {
  const { chunks, tail } = stream(tok, ids, skip);
  const full = tok.decode(ids, { skipSpecialTokens: skip });
  expect(chunks.join('') + tail).toBe(full);
  let emitted = '';
  for (const [k, chunk] of chunks.entries()) {
    expect(LONE_SURROGATE.test(chunk)).toBe(false);
    emitted += chunk;
    // What is out so far is final: decode of the prefix is it plus at most the U+FFFD of an unfinished character.
    const prefix = tok.decode(ids.slice(0, k + 1), { skipSpecialTokens: skip });
    expect(prefix.startsWith(emitted)).toBe(true);
    expect(prefix.slice(emitted.length)).toMatch(/^\ufffd?$/);
  }
}

describe('StreamingDetokenizer', () => {
  it('equals decode on every reference id sequence (special tokens skipped and kept)', async () => {
    const tok = await fixtureTokenizer();
    for (const c of reference.decode) {
      const skipped = stream(tok, c.ids);
      expect(skipped.chunks.join('') + skipped.tail, c.name).toBe(c.text);
      const kept = stream(tok, c.ids, false);
      expect(kept.chunks.join('') + kept.tail, c.name).toBe(c.text_special ?? c.text);
      checkStream(tok, c.ids, true);
      checkStream(tok, c.ids, false);
    }
  });

  it('streams every reference encoding back to its text, with no U+FFFD where the text has none', async () => {
    const tok = await fixtureTokenizer();
    for (const c of reference.encode) {
      const { chunks, tail } = stream(tok, c.ids);
      expect(chunks.join('') + tail, c.name).toBe(c.decoded);
      if (!c.decoded.includes('\ufffd')) for (const chunk of chunks) expect(chunk, c.name).not.toContain('\ufffd');
    }
  });

  it('holds back split characters until they complete', async () => {
    const tok = await fixtureTokenizer();
    const ids = tok.encode('😀');
    expect(ids.length).toBeGreaterThan(1); // the emoji spans several tokens in this vocabulary
    const { chunks, tail } = stream(tok, ids);
    expect(chunks.slice(0, -1).every((c) => c === '')).toBe(true);
    expect(chunks.at(-1)).toBe('😀');
    expect(tail).toBe('');
    // Cut short: flush gives the U+FFFD that decode gives.
    const cut = stream(tok, ids.slice(0, -1));
    expect(cut.chunks.join('') + cut.tail).toBe(tok.decode(ids.slice(0, -1)));
    expect(cut.tail).toBe('\ufffd');
  });

  it('equals decode on random id sequences over the whole vocabulary', async () => {
    const tok = await fixtureTokenizer();
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: tok.vocabSize - 1 }), { maxLength: 48 }), fc.boolean(),
      (ids, skip) => checkStream(tok, ids, skip)), { numRuns: 500 });
  });

  it('equals decode on random sequences of character fragments (tokens that are not whole UTF-8 text)', async () => {
    const tok = await fixtureTokenizer();
    const fragments = Array.from({ length: tok.vocabSize }, (_, id) => id).filter((id) => tok.decode([id]).includes('\ufffd'));
    expect(fragments.length).toBeGreaterThan(100);
    const id = fc.oneof(fc.constantFrom(...fragments), fc.constantFrom(...fragments), fc.integer({ min: 0, max: tok.vocabSize - 1 }));
    fc.assert(fc.property(fc.array(id, { maxLength: 32 }), fc.boolean(), (ids, skip) => checkStream(tok, ids, skip)), { numRuns: 1000 });
  });

  it('works per token from its own bytes: it never decodes the sequence again', async () => {
    const tok = await fixtureTokenizer();
    const ids = reference.decode.find((c) => c.name === 'workloads.repeat[0]')!.ids;
    const decode = vi.spyOn(tok, 'decode');
    const encode = vi.spyOn(tok, 'encode');
    const { chunks, tail } = stream(tok, ids);
    expect(decode).not.toHaveBeenCalled();
    expect(encode).not.toHaveBeenCalled();
    decode.mockRestore();
    encode.mockRestore();
    expect(chunks.join('') + tail).toBe(tok.decode(ids));
  });

  it('rejects an unknown id by id and index, and goes on as if it had not been pushed', async () => {
    const tok = await fixtureTokenizer();
    const ids = tok.encode('def 日本(x):');
    const d = tok.streamingDetokenizer();
    let out = d.push(ids[0]) + d.push(ids[1]);
    expect(() => d.push(4096)).toThrow(/token id 4096 at index 2 is not in the vocabulary of .*tokenizer\.json \(ids 0\.\.4095\)/);
    expect(() => d.push(-3)).toThrow(/token id -3 at index 2/);
    expect(() => d.push(2.5)).toThrow(/token id 2\.5 at index 2 is not an integer/);
    expect(() => d.push(Number.NaN)).toThrow(/token id NaN at index 2 is not an integer/);
    expect(d.tokenCount).toBe(2);
    for (const id of ids.slice(2)) out += d.push(id);
    expect(out + d.flush()).toBe('def 日本(x):');
    expect(d.tokenCount).toBe(ids.length);
  });

  it('ends at flush', async () => {
    const tok = await fixtureTokenizer();
    const a = tok.tokenToId('a')!;
    const d = tok.streamingDetokenizer();
    expect(d.push(a)).toBe('a');
    expect(d.flush()).toBe('');
    expect(d.flush()).toBe('');
    expect(() => d.push(a)).toThrow(new RegExp(`push\\(${a}\\) after flush\\(\\)`));
  });

  it('skips special tokens by default and keeps them on request', async () => {
    const tok = await fixtureTokenizer();
    const ids = [...tok.encode('a'), 0, ...tok.encode('b')];
    expect(stream(tok, ids).chunks.join('')).toBe('ab');
    expect(stream(tok, ids, false).chunks).toEqual(['a', '<|endoftext|>', 'b']);
  });
});
