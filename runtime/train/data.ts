// Training data by self-distillation from the target (reference §7.1): 64-token prompts (rows of a .u16
// file, or text from a .jsonl file tokenized and cut into non-overlapping 64-token chunks), the target's
// 256 generated tokens at temperature 1 / top-k 10 (no early stop), and the target's final-norm hidden
// state at every position of prompt + generation (one forward over the whole sequence, want 'all'), and
// the target's greedy choice after every position (the argmax of that same forward: labels for
// `--labels greedy`). Cached on disk (cache.json + tokens.i32 + greedy.i32 + hidden.bf16) so training
// runs again without regenerating.
import fs from 'node:fs';
import path from 'node:path';
import { f32ToBf16 } from '../../compiler/ir/numerics.ts';
import { generate } from '../engine/generate.ts';
import type { TargetModel } from '../target/target-model.ts';

export class TrainDataError extends Error {
  override name = 'TrainDataError';
}

export const PROMPT_LEN = 64;
export const GEN_LEN = 256;

/** Rows of `len` little-endian uint16 ids; every id checked against the vocabulary. */
export function readPromptsU16(file: string, vocabSize: number, len = PROMPT_LEN): number[][] {
  let buf: Buffer;
  try { buf = fs.readFileSync(file); } catch (e) { throw new TrainDataError(`${file}: cannot read the prompts file (${(e as Error).message})`); }
  if (buf.length === 0) throw new TrainDataError(`${file}: empty (expected rows of ${len} little-endian uint16 token ids)`);
  if (buf.length % (2 * len) !== 0) throw new TrainDataError(`${file}: ${buf.length} bytes is not a whole number of ${len}-token rows (${2 * len} bytes each): truncated or not a .u16 prompts file`);
  const rows: number[][] = [];
  for (let r = 0; r < buf.length / (2 * len); r++) {
    const row: number[] = [];
    for (let j = 0; j < len; j++) {
      const id = buf.readUInt16LE((r * len + j) * 2);
      if (id >= vocabSize) throw new TrainDataError(`${file}: row ${r}, token ${j} is ${id}, outside the target's vocabulary [0, ${vocabSize})`);
      row.push(id);
    }
    rows.push(row);
  }
  return rows;
}

/** JSONL text ({"text": ...} per line, or a bare JSON string) tokenized and cut into non-overlapping chunks. */
export function readPromptsJsonl(file: string, encode: (text: string) => number[], vocabSize: number, len = PROMPT_LEN): number[][] {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) { throw new TrainDataError(`${file}: cannot read the data file (${(e as Error).message})`); }
  const rows: number[][] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try { v = JSON.parse(line); } catch (e) { throw new TrainDataError(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`); }
    const s = typeof v === 'string' ? v : typeof v === 'object' && v !== null && typeof (v as { text?: unknown }).text === 'string' ? (v as { text: string }).text : undefined;
    if (s === undefined) throw new TrainDataError(`${file}:${i + 1}: expected {"text": "..."} or a JSON string`);
    const ids = encode(s);
    for (let at = 0; at + len <= ids.length; at += len) {
      const row = ids.slice(at, at + len);
      row.forEach((id, j) => { if (!(id >= 0 && id < vocabSize)) throw new TrainDataError(`${file}:${i + 1}: token ${at + j} is ${id}, outside the target's vocabulary [0, ${vocabSize})`); });
      rows.push(row);
    }
  });
  if (rows.length === 0) throw new TrainDataError(`${file}: no ${len}-token chunk (empty, or every text is shorter than ${len} tokens)`);
  return rows;
}

/** Sequences of prompt + generation with the target's hidden state at every position. */
export interface TrainData {
  readonly count: number;
  /** tokens per sequence (prompt + generation) */
  readonly seqLen: number;
  readonly promptLen: number;
  readonly hiddenSize: number;
  /** count × seqLen ids */
  readonly tokens: Int32Array;
  /** count × seqLen: the target's argmax after each position (its greedy prediction of the next id) */
  readonly greedy: Int32Array;
  /** count × seqLen × H final-norm hidden states, bf16 bits */
  readonly hidden: Uint16Array;
  /** what produced it (target folder, lengths, seed), to match a cache against a request */
  readonly key: Readonly<Record<string, string | number>>;
}

export interface GenerateDataOptions {
  readonly prompts: readonly (readonly number[])[];
  readonly genLen?: number;
  readonly temperature?: number;
  readonly topK?: number;
  readonly seed?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/** Generate with the target, then run one forward per sequence for its hidden states. */
export async function generateData(t: TargetModel, o: GenerateDataOptions): Promise<Omit<TrainData, 'key'>> {
  const genLen = o.genLen ?? GEN_LEN;
  const promptLen = o.prompts[0].length;
  const seqLen = promptLen + genLen;
  if (seqLen > t.maxModelLen) throw new TrainDataError(`prompt ${promptLen} + generation ${genLen} tokens exceed the target's max-model-len ${t.maxModelLen}`);
  const seed = o.seed ?? 0;
  const count = o.prompts.length;
  const H = t.hiddenSize;
  const tokens = new Int32Array(count * seqLen);
  const greedy = new Int32Array(count * seqLen);
  const hidden = new Uint16Array(count * seqLen * H);
  const chunk = Math.max(1, t.maxNumSeqs * 4);
  for (let at = 0; at < count; at += chunk) {
    const part = o.prompts.slice(at, at + chunk);
    const { outputs } = await generate(t, part, {
      temperature: o.temperature ?? 1, topK: o.topK ?? 10, maxNewTokens: genLen, stopTokenIds: [],
      seeds: part.map((_, i) => seed * 1_000_003 + at + i),
    });
    const seqs = part.map((p, i) => {
      const out = outputs[i].tokenIds;
      if (out.length !== genLen) throw new TrainDataError(`prompt ${at + i}: the target generated ${out.length} tokens, expected ${genLen}`);
      return [...p, ...out];
    });
    // hidden states: forwards over whole sequences, as many at once as there are slots
    for (let s = 0; s < seqs.length; s += t.maxNumSeqs) {
      const group = seqs.slice(s, s + t.maxNumSeqs);
      const handles = group.map(() => t.newSequence('train-data'));
      try {
        const res = await t.forward(group.map((toks, i) => ({ seq: handles[i], tokens: toks, want: 'all' as const })));
        res.forEach((r, i) => {
          const row = at + s + i;
          tokens.set(group[i], row * seqLen);
          greedy.set(r.nextTokens, row * seqLen);
          const base = row * seqLen * H;
          for (let j = 0; j < seqLen * H; j++) hidden[base + j] = f32ToBf16(r.hidden[j]);
        });
      } finally { handles.forEach((h) => h.close()); }
    }
    o.onProgress?.(Math.min(count, at + chunk), count);
  }
  return { count, seqLen, promptLen, hiddenSize: H, tokens, greedy, hidden };
}

/** The cache's binary files: name and the array it holds (fs read/write calls stop at 2 GiB: chunked). */
const CHUNK = 1 << 30;
const cacheFiles = (d: Pick<TrainData, 'tokens' | 'greedy' | 'hidden'>): [string, Int32Array | Uint16Array][] =>
  [['tokens.i32', d.tokens], ['greedy.i32', d.greedy], ['hidden.bf16', d.hidden]];

function readBytes(file: string, into: ArrayBufferView): void {
  const fd = fs.openSync(file, 'r');
  try {
    for (let at = 0; at < into.byteLength;) {
      const n = fs.readSync(fd, new Uint8Array(into.buffer, into.byteOffset + at, Math.min(CHUNK, into.byteLength - at)), 0, Math.min(CHUNK, into.byteLength - at), at);
      if (n <= 0) throw new TrainDataError(`${file}: ended after ${at} of ${into.byteLength} bytes (truncated?); delete the folder to regenerate`);
      at += n;
    }
  } finally { fs.closeSync(fd); }
}

/**
 * Writes the cache on the thread pool, so training runs while gigabytes of hidden states go to disk (16k
 * sequences are 2.7 GB); cache.json last, so a cache cut short is never taken for a whole one.
 */
export async function saveDataInBackground(dir: string, d: TrainData): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true });
  await fs.promises.rm(path.join(dir, 'cache.json'), { force: true });
  for (const [f, a] of cacheFiles(d)) {
    const fh = await fs.promises.open(path.join(dir, f), 'w');
    try {
      for (let at = 0; at < a.byteLength; at += CHUNK) await fh.write(new Uint8Array(a.buffer, a.byteOffset + at, Math.min(CHUNK, a.byteLength - at)));
    } finally { await fh.close(); }
  }
  await fs.promises.writeFile(path.join(dir, 'cache.json'), JSON.stringify({ count: d.count, seqLen: d.seqLen, promptLen: d.promptLen, hiddenSize: d.hiddenSize, key: d.key }, null, 1));
}

/** The cached data in `dir` when it was made for `key`; undefined when absent or made for something else. */
export function loadData(dir: string, key: Readonly<Record<string, string | number>>): TrainData | undefined {
  const meta = path.join(dir, 'cache.json');
  if (!fs.existsSync(meta)) return undefined;
  let m: { count: number; seqLen: number; promptLen: number; hiddenSize: number; key: Record<string, string | number> };
  try { m = JSON.parse(fs.readFileSync(meta, 'utf8')); } catch (e) { throw new TrainDataError(`${meta}: corrupt data cache (${(e as Error).message}); delete the folder to regenerate`); }
  if (JSON.stringify(m.key) !== JSON.stringify(key)) return undefined;
  const n = m.count * m.seqLen;
  const tokens = new Int32Array(n), greedy = new Int32Array(n), hidden = new Uint16Array(n * m.hiddenSize);
  for (const [f, a] of cacheFiles({ tokens, greedy, hidden })) {
    const file = path.join(dir, f);
    let size: number;
    try { size = fs.statSync(file).size; } catch { throw new TrainDataError(`${dir}: data cache lacks ${f}; delete the folder to regenerate`); }
    if (size !== a.byteLength) throw new TrainDataError(`${file}: ${size} bytes, cache.json says ${a.byteLength} (truncated?); delete the folder to regenerate`);
    readBytes(file, a);
  }
  return { ...m, tokens, greedy, hidden };
}

/**
 * Training rows of one sequence (reference §7.1 alignment): row t uses h_t with the token x_{t+1} that
 * the target produced from it, and head k predicts x_{t+2+k}. Rows start at the last prompt position
 * (its state produced the first generated token), so every row has target-generated labels.
 */
export function rowsPerSequence(d: Pick<TrainData, 'seqLen' | 'promptLen'>, nPredict: number): number {
  return d.seqLen - nPredict - d.promptLen;
}

/**
 * What head k learns at row t: 'sampled' the generated token x_{t+2+k} itself (ArcticTraining's recipe),
 * 'greedy' the target's argmax after x_{t+1+k} (what a greedy verifier accepts; the same as 'sampled'
 * for data generated at temperature 0).
 */
export type LabelSource = 'sampled' | 'greedy';

export interface Batch { hidden: Uint16Array; tokens: Int32Array; labels: Int32Array }

/** Fill hidden (bf16 bits, as cached)/tokens/labels for the given sequences (rows per sequence × sequences rows). */
export function fillBatch(d: TrainData, seqs: readonly number[], nPredict: number, out: Batch, labels: LabelSource = 'sampled'): void {
  const R = rowsPerSequence(d, nPredict), H = d.hiddenSize, L = d.seqLen;
  const src = labels === 'greedy' ? d.greedy : d.tokens, shift = labels === 'greedy' ? 1 : 2;
  let row = 0;
  for (const s of seqs) {
    // the rows of one sequence are consecutive positions: one copy of their hidden states
    const t0 = d.promptLen - 1;
    out.hidden.set(d.hidden.subarray((s * L + t0) * H, (s * L + t0 + R) * H), row * H);
    for (let r = 0; r < R; r++, row++) {
      const t = t0 + r;
      out.tokens[row] = d.tokens[s * L + t + 1];
      for (let k = 0; k < nPredict; k++) out.labels[row * nPredict + k] = src[s * L + t + shift + k];
    }
  }
}
