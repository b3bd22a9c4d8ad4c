// GPT-2's byte-level alphabet: each byte 0..255 is spelled by one printable character, and a byte-level BPE
// token is a string of those characters. The Rust ByteLevel decoder turns a token back into bytes with this
// table and, when a token holds a character outside it (an added token such as "<|café|>"), uses the token's
// own UTF-8 bytes instead; the text is the lossy UTF-8 decoding of all the tokens' bytes concatenated.

const textEncoder = new TextEncoder();

/** Byte → character, as `bytes_to_unicode()` in GPT-2 and the `tokenizers` crate. */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const chars: string[] = new Array(256);
  for (const b of printable) chars[b] = String.fromCodePoint(b);
  let next = 0;
  for (let b = 0; b < 256; b++) if (chars[b] === undefined) chars[b] = String.fromCodePoint(256 + next++);
  return chars;
}

const BYTE_OF_CHAR: ReadonlyMap<string, number> = new Map(bytesToUnicode().map((c, b) => [c, b]));

/** The bytes the ByteLevel decoder produces for one token (the crate's rule, including its fallback). */
export function byteLevelTokenBytes(token: string): Uint8Array {
  const out: number[] = [];
  for (const ch of token) {
    const b = BYTE_OF_CHAR.get(ch);
    if (b === undefined) return textEncoder.encode(token);
    out.push(b);
  }
  return Uint8Array.from(out);
}
