// Suffix decoding benchmark (CPU), side by side with ArcticInference's C++ SuffixTree.
//
// Two seeded serving workloads are written as op streams (start request with prompt / add generated tokens /
// stop / speculate from the last n tokens of the request's prompt + output):
//   agent      1,000 history requests (256-token prompts; 1,000-token responses that re-emit and lightly edit
//              earlier segments, added a few tokens per step), then 50 requests with 8,192-token prompts cut
//              from the history, decoded with a speculate call at every step: contexts of 8-9k tokens.
//   code-edit  1,300 requests over 8 files of ~1,000 tokens: each prompt resends a file's current version,
//              the response re-emits it with 1-4 small edits, decoded with a speculate call at every step
//              (contexts of 1-2k tokens); FIFO eviction at 1,000 cached requests.
//   tie-stress a 6-token vocabulary, 400 requests, eviction at 100: ties everywhere (a draft check only).
// Each stream is replayed by SuffixDecodingCache (this process's children, pinned with taskset -c 0 when it
// exists) and by bench/out/suffix-peer-replay (the peer's trees driven from C++ as cache.py drives them; see
// bench/suffix-peer/). Every draft must be identical (tokens and float32 score bits): a mismatch exits 1.
// Figures per workload: serving-path update µs per token (start/add/stop, eviction included), speculate
// median/p90/p99 µs per call (both trees), bytes of RSS growth per token stored in the global tree. Timed
// replays alternate ours/peer --repeat times; each time figure is the best of its side's runs.
//
//   node bench/suffix.ts [--json FILE] [--peer PATH] [--no-peer] [--small] [--repeat N (default 3)] [--only agent|code-edit|tie-stress]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SuffixDecodingCache, Xoshiro128 } from '../runtime/decoding/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, 'out');
const DEPTH = 64, SPEC_TOKENS = 16, FACTOR = 1, OFFSET = 0, MIN_PROB = 0.1, VOCAB = 32000;
const MAGIC = 0x53554658;
const OP_END = 0, OP_START = 1, OP_ADD = 2, OP_STOP = 3, OP_SPEC = 4;

// ---------- workloads ----------

function zipfSampler(rng: Xoshiro128, V: number, s = 1.1): () => number {
  const cdf = new Float64Array(V);
  let acc = 0;
  for (let i = 0; i < V; i++) { acc += 1 / Math.pow(i + 1, s); cdf[i] = acc; }
  return () => {
    const u = rng.next() * acc;
    let lo = 0, hi = V - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (cdf[mid] < u) lo = mid + 1; else hi = mid; }
    return lo;
  };
}
const int = (rng: Xoshiro128, lo: number, hi: number): number => lo + Math.floor(rng.next() * (hi - lo + 1));

// An agent transcript: mostly copies of earlier segments (files, tool output, its own previous text) with
// light edits (3% substitutions, 1% insertions, 1% deletions), interleaved with short fresh passages.
function agentCorpus(seed: number, count: number, len: number): Int32Array[] {
  const rng = new Xoshiro128(seed), zipf = zipfSampler(rng, VOCAB);
  const out: Int32Array[] = [];
  for (let r = 0; r < count; r++) {
    const resp: number[] = [];
    while (resp.length < len) {
      const copy = rng.next() < 0.75 && (out.length > 0 || resp.length > 64);
      if (!copy) { for (let i = int(rng, 8, 64); i > 0; i--) resp.push(zipf()); continue; }
      const fromSelf = out.length === 0 || rng.next() < 0.2;
      const src: ArrayLike<number> = fromSelf ? resp : out[out.length - 1 - Math.min(out.length - 1, Math.floor(-Math.log(1 - rng.next()) * 20))];
      const n = Math.min(int(rng, 16, 160), src.length);
      const start = int(rng, 0, src.length - n);
      const seg = Array.from({ length: n }, (_, i) => src[start + i]);
      for (const t of seg) {
        const u = rng.next();
        if (u < 0.03) resp.push(zipf());
        else if (u < 0.04) { resp.push(zipf()); resp.push(t); }
        else if (u < 0.05) continue;
        else resp.push(t);
      }
    }
    out.push(Int32Array.from(resp.slice(0, len)));
  }
  return out;
}

class OpWriter {
  buf = new Int32Array(1 << 20);
  n = 0;
  constructor(maxCached: number) {
    const f = new Float32Array(3); f.set([FACTOR, OFFSET, MIN_PROB]);
    const bits = new Int32Array(f.buffer);
    this.push(MAGIC, DEPTH, maxCached, SPEC_TOKENS, bits[0], bits[1], bits[2]);
  }
  push(...xs: number[]): void { for (const x of xs) { this.room(1); this.buf[this.n++] = x; } }
  tokens(t: ArrayLike<number>): void { this.room(t.length + 1); this.buf[this.n++] = t.length; for (let i = 0; i < t.length; i++) this.buf[this.n++] = t[i]; }
  private room(k: number): void { if (this.n + k > this.buf.length) { const b = new Int32Array(2 * (this.n + k)); b.set(this.buf); this.buf = b; } }
  done(): Int32Array { this.push(OP_END); return this.buf.slice(0, this.n); }
}

const specOpts = { maxSpecTokens: SPEC_TOKENS, maxSpecFactor: FACTOR, maxSpecOffset: OFFSET, minTokenProb: MIN_PROB };

// Decode `response` after `prompt` as serving does: speculate from the whole sequence so far, accept the
// matching prefix plus one token, append it. Writes the ops; `cache` supplies the drafts (acceptance only).
function decode(w: OpWriter, cache: SuffixDecodingCache, id: number, prompt: Int32Array, response: Int32Array): { steps: number; drafted: number; accepted: number } {
  cache.startRequest(id, prompt);
  w.push(OP_START, id); w.tokens(prompt);
  let len = prompt.length, steps = 0, drafted = 0, accepted = 0;
  const seq = new Int32Array(prompt.length + response.length);
  seq.set(prompt);
  for (let pos = 0; pos < response.length;) {
    const d = cache.speculate(id, seq.subarray(0, len), specOpts);
    w.push(OP_SPEC, id, len);
    let a = 0;
    while (a < d.tokens.length && pos + a < response.length - 1 && d.tokens[a] === response[pos + a]) a++;
    drafted += Math.min(d.tokens.length, response.length - 1 - pos); accepted += a;
    const step = response.subarray(pos, pos + a + 1);
    cache.addActiveResponse(id, step);
    w.push(OP_ADD, id); w.tokens(step);
    seq.set(step, len); len += step.length; pos += step.length; steps++;
  }
  cache.stopRequest(id);
  w.push(OP_STOP, id);
  return { steps, drafted, accepted };
}

function agentWorkload(small: boolean): { ops: Int32Array; acceptance: object } {
  const H = small ? 100 : 1000, Q = small ? 10 : 50, PROMPT = small ? 2048 : 8192;
  const corpus = agentCorpus(1, H + Q, 1000);
  const rng = new Xoshiro128(3);
  const w = new OpWriter(100000);
  const cache = new SuffixDecodingCache({ maxTreeDepth: DEPTH });
  const zipf = zipfSampler(rng, VOCAB);
  for (let i = 0; i < H; i++) {
    const prompt = Int32Array.from({ length: 256 }, zipf);
    cache.startRequest(i, prompt); w.push(OP_START, i); w.tokens(prompt);
    const r = corpus[i];
    for (let p = 0; p < r.length;) { const n = Math.min(int(rng, 1, 5), r.length - p); const s = r.subarray(p, p + n); cache.addActiveResponse(i, s); w.push(OP_ADD, i); w.tokens(s); p += n; }
    cache.stopRequest(i); w.push(OP_STOP, i);
  }
  const all = new Int32Array(H * 1000);
  corpus.slice(0, H).forEach((r, i) => all.set(r, i * 1000));
  let steps = 0, drafted = 0, accepted = 0, tokens = 0;
  for (let q = 0; q < Q; q++) {
    const start = int(rng, 0, all.length - PROMPT);
    const s = decode(w, cache, H + q, all.slice(start, start + PROMPT), corpus[H + q]);
    steps += s.steps; drafted += s.drafted; accepted += s.accepted; tokens += corpus[H + q].length;
  }
  return { ops: w.done(), acceptance: { tokensPerStep: tokens / steps, draftAcceptanceRate: accepted / drafted, steps } };
}

function codeEditWorkload(small: boolean): { ops: Int32Array; acceptance: object } {
  const FILES = 8, REQUESTS = small ? 150 : 1300, MAX_CACHED = small ? 100 : 1000;
  const rng = new Xoshiro128(5), zipf = zipfSampler(rng, VOCAB);
  const files: number[][] = Array.from({ length: FILES }, () => Array.from({ length: int(rng, 800, 1200) }, zipf));
  const w = new OpWriter(MAX_CACHED);
  const cache = new SuffixDecodingCache({ maxTreeDepth: DEPTH, maxCachedRequests: MAX_CACHED });
  let steps = 0, drafted = 0, accepted = 0, tokens = 0;
  for (let r = 0; r < REQUESTS; r++) {
    const f = int(rng, 0, FILES - 1);
    const instruction = Array.from({ length: int(rng, 8, 40) }, zipf);
    const prompt = Int32Array.from([...instruction, ...files[f]]);
    // 1-4 edits: replace a span of 1-30 tokens by 0-30 fresh ones.
    const next = [...files[f]];
    for (let e = int(rng, 1, 4); e > 0; e--) {
      const at = int(rng, 0, next.length - 1), del = Math.min(int(rng, 1, 30), next.length - at);
      next.splice(at, del, ...Array.from({ length: int(rng, 0, 30) }, zipf));
    }
    files[f] = next;
    const s = decode(w, cache, r, prompt, Int32Array.from(next));
    steps += s.steps; drafted += s.drafted; accepted += s.accepted; tokens += next.length;
  }
  return { ops: w.done(), acceptance: { tokensPerStep: tokens / steps, draftAcceptanceRate: accepted / drafted, steps } };
}

// Not a performance workload: a 6-token vocabulary makes equal counts (ties in sibling order) the rule, with
// evictions lowering counts, so the exact-draft check covers the tie rules far more densely than real text.
function tieStressWorkload(small: boolean): { ops: Int32Array; acceptance: object } {
  const REQUESTS = small ? 60 : 400, MAX_CACHED = small ? 20 : 100, V = 6;
  const rng = new Xoshiro128(11);
  const w = new OpWriter(MAX_CACHED);
  const cache = new SuffixDecodingCache({ maxTreeDepth: DEPTH, maxCachedRequests: MAX_CACHED });
  const motifs = Array.from({ length: 5 }, () => Array.from({ length: int(rng, 3, 12) }, () => int(rng, 0, V - 1)));
  const text = (n: number) => { const t: number[] = []; while (t.length < n) { if (rng.next() < 0.6) t.push(...motifs[int(rng, 0, motifs.length - 1)]); else t.push(int(rng, 0, V - 1)); } return Int32Array.from(t.slice(0, n)); };
  let steps = 0, drafted = 0, accepted = 0, tokens = 0;
  for (let r = 0; r < REQUESTS; r++) {
    const resp = text(int(rng, 20, 200));
    const s = decode(w, cache, r, text(int(rng, 1, 80)), resp);
    steps += s.steps; drafted += s.drafted; accepted += s.accepted; tokens += resp.length;
  }
  return { ops: w.done(), acceptance: { tokensPerStep: tokens / steps, draftAcceptanceRate: accepted / drafted, steps } };
}

// ---------- replay (ours) ----------

interface ReplayResult {
  updateUsPerToken: number; updateTokens: number; evictUsPerToken: number; evictTokens: number;
  speculateUs: { median: number; p90: number; p99: number; mean: number; calls: number };
  rssGrowthBytes: number; storedTokens: number; bytesPerStoredToken: number; typedArrayBytesPerToken?: number; globalNodesPerToken?: number;
}

const quantile = (s: Float64Array, q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))];

function replay(ops: Int32Array, draftsOut: Int32Array[] | null): { cache: SuffixDecodingCache; r: Omit<ReplayResult, 'rssGrowthBytes' | 'bytesPerStoredToken'> } {
  const depth = ops[1], maxCached = ops[2];
  const bits = new Float32Array(ops.buffer.slice(ops.byteOffset + 16, ops.byteOffset + 28));
  const o = { maxSpecTokens: ops[3], maxSpecFactor: bits[0], maxSpecOffset: bits[1], minTokenProb: bits[2] };
  const cache = new SuffixDecodingCache({ maxTreeDepth: depth, maxCachedRequests: maxCached });
  let evictNs = 0, evictTokens = 0;
  const evict = cache.evictCachedResponse.bind(cache);
  cache.evictCachedResponse = (id) => {
    const before = cache.globalTokens, t0 = performance.now();
    evict(id);
    evictNs += (performance.now() - t0) * 1e6; evictTokens += before - cache.globalTokens;
  };
  const seqs = new Map<number, { buf: Int32Array; len: number }>();
  const spec: number[] = [];
  let updateNs = 0, updateTokens = 0;
  const out: number[] = [];
  const score = new Float32Array(1), scoreBits = new Int32Array(score.buffer);
  for (let p = 7; ;) {
    const op = ops[p++];
    if (op === OP_END) break;
    const req = ops[p++];
    if (op === OP_START) {
      const n = ops[p++], toks = ops.subarray(p, p + n); p += n;
      const t0 = performance.now();
      cache.startRequest(req, toks);
      updateNs += (performance.now() - t0) * 1e6; updateTokens += n;
      const buf = new Int32Array(Math.max(16, 2 * n)); buf.set(toks);
      seqs.set(req, { buf, len: n });
    } else if (op === OP_ADD) {
      const n = ops[p++], toks = ops.subarray(p, p + n); p += n;
      const t0 = performance.now();
      cache.addActiveResponse(req, toks);
      updateNs += (performance.now() - t0) * 1e6; updateTokens += n;
      const s = seqs.get(req)!;
      if (s.len + n > s.buf.length) { const b = new Int32Array(2 * (s.len + n)); b.set(s.buf.subarray(0, s.len)); s.buf = b; }
      s.buf.set(toks, s.len); s.len += n;
    } else if (op === OP_STOP) {
      const t0 = performance.now();
      cache.stopRequest(req);
      updateNs += (performance.now() - t0) * 1e6;
      seqs.delete(req);
    } else if (op === OP_SPEC) {
      const n = ops[p++], s = seqs.get(req)!;
      const ctx = s.buf.subarray(s.len - n, s.len);
      const t0 = performance.now();
      const d = cache.speculate(req, ctx, o);
      spec.push((performance.now() - t0) * 1e3);
      if (draftsOut) {
        score[0] = d.score;
        out.push(d.tokens.length, scoreBits[0], d.matchLength);
        for (let i = 0; i < d.tokens.length; i++) out.push(d.tokens[i]);
      }
    } else throw new Error(`bad op ${op} at ${p}`);
  }
  if (draftsOut) draftsOut.push(Int32Array.from(out));
  const s = Float64Array.from(spec).sort();
  return {
    cache,
    r: {
      updateUsPerToken: updateNs / 1e3 / updateTokens, updateTokens,
      evictUsPerToken: evictTokens ? evictNs / 1e3 / evictTokens : 0, evictTokens,
      speculateUs: { median: quantile(s, 0.5), p90: quantile(s, 0.9), p99: quantile(s, 0.99), mean: spec.reduce((a, b) => a + b, 0) / spec.length, calls: spec.length },
      storedTokens: cache.globalTokens,
    },
  };
}

// Child modes: `--replay-time OPS DRAFTS` (warm-up replay, then the timed one, drafts written) and
// `--replay-mem OPS` (one cold replay; RSS growth after a full GC).
function child(mode: string, opsPath: string, draftsPath?: string): void {
  const ops = new Int32Array(readFileSync(opsPath).buffer.slice(0));
  if (mode === '--replay-time') {
    replay(ops, null);
    const drafts: Int32Array[] = [];
    const { r } = replay(ops, drafts);
    writeFileSync(draftsPath!, drafts[0]);
    console.log(JSON.stringify(r));
  } else {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('--replay-mem needs --expose-gc');
    gc(); gc();
    const rss0 = process.memoryUsage().rss;
    const { cache, r } = replay(ops, null);
    gc(); gc();
    const rss1 = process.memoryUsage().rss;
    console.log(JSON.stringify({ ...r, rssGrowthBytes: rss1 - rss0, bytesPerStoredToken: (rss1 - rss0) / r.storedTokens, typedArrayBytesPerToken: cache.bytes() / r.storedTokens, globalNodesPerToken: cache.globalNodes / r.storedTokens }));
  }
}

// ---------- driver ----------

function pinned(cmd: string, args: string[]): string {
  let hasTaskset = true;
  try { execFileSync('taskset', ['-c', '0', 'true']); } catch { hasTaskset = false; }
  return hasTaskset ? execFileSync('taskset', ['-c', '0', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 }) : execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
}

// Drafts as [len, score bits, match length, tokens...] per speculate call: how many calls differ, and the first.
function compareDrafts(a: Int32Array, b: Int32Array): { calls: number; mismatches: number; firstMismatch: string | null } {
  let i = 0, j = 0, call = 0, mismatches = 0, first: string | null = null;
  const f = new Float32Array(1), fb = new Int32Array(f.buffer);
  const show = (x: Int32Array, k: number) => { fb[0] = x[k + 1]; return `tokens [${[...x.subarray(k + 3, k + 3 + x[k])].join(',')}] score ${f[0]} match ${x[k + 2]}`; };
  while (i < a.length && j < b.length) {
    const n = a[i], m = b[j];
    let same = n === m && a[i + 1] === b[j + 1];
    for (let k = 0; same && k < n; k++) same = a[i + 3 + k] === b[j + 3 + k];
    if (!same) { mismatches++; first ??= `speculate call ${call}: ours ${show(a, i)}; peer ${show(b, j)}`; }
    i += 3 + n; j += 3 + m; call++;
  }
  if (i !== a.length || j !== b.length) { mismatches++; first ??= `draft streams differ in length after ${call} calls`; }
  return { calls: call, mismatches, firstMismatch: first };
}

// Per figure, the lowest over runs (memory figures come from the one run that measures them).
function best(runs: ReplayResult[]): ReplayResult {
  const min = (f: (r: ReplayResult) => number) => Math.min(...runs.map(f));
  return {
    ...runs[0],
    updateUsPerToken: min((r) => r.updateUsPerToken), evictUsPerToken: min((r) => r.evictUsPerToken),
    speculateUs: { median: min((r) => r.speculateUs.median), p90: min((r) => r.speculateUs.p90), p99: min((r) => r.speculateUs.p99), mean: min((r) => r.speculateUs.mean), calls: runs[0].speculateUs.calls },
  };
}

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] === '--replay-time' || args[0] === '--replay-mem') { child(args[0], args[1], args[2]); return; }
  const small = args.includes('--small'), noPeer = args.includes('--no-peer');
  const jsonAt = args.indexOf('--json'), peerAt = args.indexOf('--peer'), repeatAt = args.indexOf('--repeat');
  const repeat = repeatAt >= 0 ? Number(args[repeatAt + 1]) : 3;
  const peer = peerAt >= 0 ? args[peerAt + 1] : join(outDir, 'suffix-peer-replay');
  if (!noPeer && !existsSync(peer)) {
    console.error(`peer driver ${peer} not found: build it with bench/suffix-peer/build.sh (see bench/NOTES.md), or pass --no-peer`);
    process.exit(2);
  }
  mkdirSync(outDir, { recursive: true });
  const node = process.execPath, self = fileURLToPath(import.meta.url);
  const results: Record<string, unknown> = {};
  let failed = false;
  const onlyAt = args.indexOf('--only'), only = onlyAt >= 0 ? args[onlyAt + 1] : null;
  for (const [name, make] of [['agent', agentWorkload], ['code-edit', codeEditWorkload], ['tie-stress', tieStressWorkload]] as const) {
    if (only !== null && name !== only) continue;
    const { ops, acceptance } = make(small);
    const opsPath = join(outDir, `suffix-${name}.ops`), oursDrafts = join(outDir, `suffix-${name}.ours.drafts`), peerDrafts = join(outDir, `suffix-${name}.peer.drafts`);
    writeFileSync(opsPath, ops);
    // Timed replays alternate between the two sides, `repeat` times each; each figure is the best of its
    // side's runs (the machine is shared, so noise only ever adds time). Every run's drafts are checked.
    const oursRuns: ReplayResult[] = [], peerRuns: ReplayResult[] = [];
    let drafts: ReturnType<typeof compareDrafts> | null = null;
    for (let k = 0; k < repeat; k++) {
      oursRuns.push(JSON.parse(pinned(node, [self, '--replay-time', opsPath, oursDrafts])) as ReplayResult);
      if (noPeer) continue;
      peerRuns.push(JSON.parse(pinned(peer, [opsPath, peerDrafts])) as ReplayResult);
      drafts = compareDrafts(new Int32Array(readFileSync(oursDrafts).buffer.slice(0)), new Int32Array(readFileSync(peerDrafts).buffer.slice(0)));
      if (drafts.firstMismatch !== null) { failed = true; console.error(`DRAFT MISMATCH (${name}): ${drafts.mismatches} of ${drafts.calls} speculate calls differ; first: ${drafts.firstMismatch}`); break; }
    }
    const mem = JSON.parse(pinned(node, ['--expose-gc', self, '--replay-mem', opsPath])) as ReplayResult;
    const ours = { ...best(oursRuns), rssGrowthBytes: mem.rssGrowthBytes, bytesPerStoredToken: mem.bytesPerStoredToken, typedArrayBytesPerToken: mem.typedArrayBytesPerToken, globalNodesPerToken: mem.globalNodesPerToken };
    const theirs = noPeer ? null : best(peerRuns);
    results[name] = { opsInts: ops.length, acceptance, ours, peer: theirs, identicalDrafts: drafts === null ? null : drafts.firstMismatch === null, comparedCalls: drafts?.calls ?? 0, mismatchedCalls: drafts?.mismatches ?? 0, firstMismatch: drafts?.firstMismatch ?? null, runs: { ours: oursRuns, peer: peerRuns } };
  }
  const report = { config: { depth: DEPTH, maxSpecTokens: SPEC_TOKENS, factor: FACTOR, offset: OFFSET, minTokenProb: MIN_PROB, small, repeat, node: process.version, date: new Date().toISOString() }, workloads: results };
  if (jsonAt >= 0) writeFileSync(args[jsonAt + 1], JSON.stringify(report, null, 2) + '\n');
  const f = (x: number | undefined, d = 2) => (x === undefined ? '—' : x.toFixed(d));
  for (const [name, w] of Object.entries(results) as [string, { ours: ReplayResult; peer: ReplayResult | null; identicalDrafts: boolean | null; comparedCalls: number }][]) {
    const o = w.ours, p = w.peer;
    console.log(`${name}: ${o.speculateUs.calls} speculate calls, ${o.updateTokens} tokens appended, ${o.storedTokens} stored at the end; drafts identical to the peer: ${w.identicalDrafts ?? 'not checked'} (${w.comparedCalls} calls)`);
    console.log(`  update µs/token       ours ${f(o.updateUsPerToken)}   peer ${f(p?.updateUsPerToken)}   (eviction µs/token removed: ours ${f(o.evictUsPerToken)}, peer ${f(p?.evictUsPerToken)})`);
    console.log(`  speculate µs          ours ${f(o.speculateUs.median)} / ${f(o.speculateUs.p90)} / ${f(o.speculateUs.p99)}   peer ${f(p?.speculateUs.median)} / ${f(p?.speculateUs.p90)} / ${f(p?.speculateUs.p99)}   (median / p90 / p99)`);
    console.log(`  B per stored token    ours ${f(o.bytesPerStoredToken, 1)} (typed arrays ${f(o.typedArrayBytesPerToken, 1)})   peer ${f(p?.bytesPerStoredToken, 1)}   (RSS growth)`);
  }
  if (failed) { console.error('FAILED: drafts differ from the peer'); process.exit(1); }
}

main();
