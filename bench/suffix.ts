// Suffix decoding benchmark (CPU): builds a global suffix tree of 1,000,000 tokens at depth 64 from an
// agent-like corpus (1,000 responses of 1,000 tokens that re-emit and lightly edit earlier segments), then
// measures append cost per token, memory per stored token, and speculate cost per call from 64-token
// contexts with maxSpecTokens 16 in three settings:
//   serving    SuffixDecodingCache.speculate while decoding 50 held-out requests against that history (local
//              + global tree; the context is the tail of the request's own sequence, as in serving);
//   unseen     SuffixTree.speculate on contexts cut from held-out responses (not in the tree);
//   in-corpus  SuffixTree.speculate on contexts cut from inside stored responses: every match length
//              succeeds, so every one is walked from the root (the slowest case).
// It also reports the acceptance length of suffix decoding on the agent workload vs plain Zipf text.
//
//   node_modules/.bin/node bench/suffix.ts [--json] [--responses N]
import { AcceptanceMetrics, SuffixDecodingCache, SuffixTree, Xoshiro128 } from '../runtime/decoding/index.ts';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const nArg = args.indexOf('--responses');
const RESPONSES = nArg >= 0 ? Number(args[nArg + 1]) : 1000;
const RESPONSE_LEN = 1000, DEPTH = 64, CONTEXT = 64, SPEC_TOKENS = 16, VOCAB = 32000;
const SPEC_CALLS = 5000, HELD_OUT = 50, PROMPT_LEN = 256;

// Zipf(1.1) over the vocabulary, sampled by binary search on the CDF.
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
function agentCorpus(seed: number, count: number): Int32Array[] {
  const rng = new Xoshiro128(seed), zipf = zipfSampler(rng, VOCAB);
  const out: Int32Array[] = [];
  for (let r = 0; r < count; r++) {
    const resp: number[] = [];
    while (resp.length < RESPONSE_LEN) {
      const copy = rng.next() < 0.75 && (out.length > 0 || resp.length > 64);
      if (!copy) { for (let i = int(rng, 8, 64); i > 0; i--) resp.push(zipf()); continue; }
      const fromSelf = out.length === 0 || rng.next() < 0.2;
      const src: ArrayLike<number> = fromSelf ? resp : out[out.length - 1 - Math.min(out.length - 1, Math.floor(-Math.log(1 - rng.next()) * 20))];
      const len = Math.min(int(rng, 16, 160), src.length);
      const start = int(rng, 0, src.length - len);
      const seg = Array.from({ length: len }, (_, i) => src[start + i]);
      for (const t of seg) {
        const u = rng.next();
        if (u < 0.03) resp.push(zipf());
        else if (u < 0.04) { resp.push(zipf()); resp.push(t); }
        else if (u < 0.05) continue;
        else resp.push(t);
      }
    }
    out.push(Int32Array.from(resp.slice(0, RESPONSE_LEN)));
  }
  return out;
}

function zipfCorpus(seed: number, count: number): Int32Array[] {
  const rng = new Xoshiro128(seed), zipf = zipfSampler(rng, VOCAB);
  return Array.from({ length: count }, () => Int32Array.from({ length: RESPONSE_LEN }, zipf));
}

const quantile = (xs: number[], q: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

function buildTree(corpus: Int32Array[]): { tree: SuffixTree; usPerToken: number } {
  const tree = new SuffixTree(DEPTH);
  let tokens = 0;
  const t0 = process.hrtime.bigint();
  corpus.forEach((resp, id) => { for (let i = 0; i < resp.length; i++) tree.append(id, resp[i]); tokens += resp.length; });
  const ns = Number(process.hrtime.bigint() - t0);
  return { tree, usPerToken: ns / 1e3 / tokens };
}

function timeSpeculate(tree: SuffixTree, heldOut: Int32Array[], seed: number): { median: number; p90: number; meanScore: number } {
  const rng = new Xoshiro128(seed);
  const samples: number[] = [];
  let score = 0;
  for (let c = 0; c < SPEC_CALLS; c++) {
    const r = heldOut[c % heldOut.length];
    const p = int(rng, CONTEXT, r.length - 1);
    const ctx = r.subarray(p - CONTEXT, p);
    const t0 = process.hrtime.bigint();
    const d = tree.speculate(ctx, { maxSpecTokens: SPEC_TOKENS });
    samples.push(Number(process.hrtime.bigint() - t0) / 1e3);
    score += d.score;
  }
  return { median: quantile(samples, 0.5), p90: quantile(samples, 0.9), meanScore: score / SPEC_CALLS };
}

// Decode held-out requests with a cache whose global tree holds the history (1M tokens): each step drafts
// from the last 64 tokens, accepts the matching prefix plus one token, and appends them. This is the call
// pattern of serving, so its per-call timings are the ones to compare with the peer's.
function serve(history: Int32Array[], heldOut: Int32Array[], seed: number) {
  const rng = new Xoshiro128(seed);
  const cache = new SuffixDecodingCache({ maxTreeDepth: DEPTH });
  history.forEach((r, i) => { cache.startRequest(`h${i}`, []); cache.addActiveResponse(`h${i}`, r); cache.stopRequest(`h${i}`); });
  const m = new AcceptanceMetrics();
  const specUs: number[] = [];
  let steps = 0, tokens = 0, updateNs = 0;
  heldOut.forEach((r, i) => {
    const src = history[int(rng, 0, history.length - 1)];
    const start = int(rng, 0, src.length - PROMPT_LEN);
    const prompt = src.subarray(start, start + PROMPT_LEN);
    const id = `q${i}`;
    cache.startRequest(id, prompt);
    const seq = new Int32Array(PROMPT_LEN + r.length);
    seq.set(prompt);
    let len = PROMPT_LEN;
    for (let pos = 0; pos < r.length;) {
      const t0 = process.hrtime.bigint();
      const d = cache.speculate(id, seq.subarray(len - DEPTH, len), { maxSpecTokens: SPEC_TOKENS });
      specUs.push(Number(process.hrtime.bigint() - t0) / 1e3);
      let a = 0;
      while (a < d.tokens.length && pos + a < r.length - 1 && d.tokens[a] === r[pos + a]) a++;
      m.observe(Math.min(d.tokens.length, r.length - 1 - pos), a);
      const step = r.subarray(pos, pos + a + 1);
      const t1 = process.hrtime.bigint();
      cache.addActiveResponse(id, step);
      updateNs += Number(process.hrtime.bigint() - t1);
      seq.set(step, len); len += step.length;
      pos += step.length; steps++; tokens += step.length;
    }
    cache.stopRequest(id);
  });
  // FIFO eviction of the 20 oldest responses, per token removed.
  const t2 = process.hrtime.bigint();
  for (let i = 0; i < 20; i++) cache.evictCachedResponse(`h${i}`);
  const evictUsPerToken = Number(process.hrtime.bigint() - t2) / 1e3 / (20 * RESPONSE_LEN);
  cache.globalTree.checkInvariants();
  return {
    meanAcceptanceLength: m.meanAcceptanceLength, tokensPerStep: tokens / steps, draftAcceptanceRate: m.draftAcceptanceRate,
    speculateUs: { median: quantile(specUs, 0.5), p90: quantile(specUs, 0.9), calls: specUs.length },
    updateUsPerToken: updateNs / 1e3 / tokens, evictUsPerToken,
    globalBytesPerToken: cache.globalTree.bytes() / cache.globalTree.numTokens,
  };
}

function run() {
  const agent = agentCorpus(1, RESPONSES + HELD_OUT);
  const history = agent.slice(0, RESPONSES), heldOut = agent.slice(RESPONSES);
  buildTree(history.slice(0, 20)); // warm the JIT on a small tree first
  const { tree, usPerToken } = buildTree(history);
  timeSpeculate(tree, heldOut, 99); // warm-up pass
  const spec = timeSpeculate(tree, heldOut, 7);
  // Contexts cut from the indexed history itself: every match length succeeds, the slowest case.
  const specInCorpus = timeSpeculate(tree, history, 8);
  const N = tree.nodes;
  const mem = {
    bytes: tree.bytes(), tokens: tree.numTokens, nodes: tree.numNodes,
    // What the live entries occupy, without the slack of capacity doubling.
    usedBytes: 45 * N.live + 4 * tree.children.entries / 0.6 + 8 * tree.order.live + 16 * tree.endpoints.live + 8 * tree.numTokens,
    nodeBytes: N.bytes(), indexBytes: tree.children.bytes(), groupBytes: tree.order.bytes(),
    endpointBytes: tree.endpoints.bytes(), sequenceBytes: tree.seqs.bytes(),
  };
  const zipf = zipfCorpus(2, RESPONSES + HELD_OUT);
  const serveAgent = serve(history, heldOut, 3);
  const serveZipf = serve(zipf.slice(0, RESPONSES), zipf.slice(RESPONSES), 4);
  return {
    config: { responses: RESPONSES, responseLen: RESPONSE_LEN, depth: DEPTH, context: CONTEXT, maxSpecTokens: SPEC_TOKENS, vocab: VOCAB, node: process.version },
    appendUsPerToken: usPerToken,
    speculateServingUs: serveAgent.speculateUs,
    speculateHeldOutUs: { median: spec.median, p90: spec.p90, meanDraftScore: spec.meanScore },
    speculateInCorpusUs: { median: specInCorpus.median, p90: specInCorpus.p90, meanDraftScore: specInCorpus.meanScore },
    bytesPerToken: mem.bytes / mem.tokens, usedBytesPerToken: mem.usedBytes / mem.tokens, nodesPerToken: mem.nodes / mem.tokens, memory: mem,
    serving: { agent: serveAgent, zipf: serveZipf },
    targets: { appendUsPerToken: 5, speculateMedianUs: 20, speculateP90Us: 150, bytesPerToken: 150 },
    peer: { appendUsPerToken: 6.0, speculateMedianUs: 21, speculateP90Us: 240, bytesPerToken: 400 },
  };
}

const r = run();
if (asJson) console.log(JSON.stringify(r, null, 2));
else {
  const f = (x: number, d = 2) => x.toFixed(d);
  const a = r.serving.agent, z = r.serving.zipf;
  console.log(`suffix tree: ${r.memory.tokens} tokens, ${r.memory.nodes} nodes, depth ${DEPTH} (node ${process.version})`);
  console.log(`append      ${f(r.appendUsPerToken)} µs/token                 target ≤ 5     peer 6.0`);
  console.log(`speculate   ${f(r.speculateServingUs.median)} µs median, ${f(r.speculateServingUs.p90)} µs p90 (serving, local+global)   target ≤ 20 / ≤ 150   peer 21 / 240`);
  console.log(`            ${f(r.speculateHeldOutUs.median)} µs median, ${f(r.speculateHeldOutUs.p90)} µs p90 (tree, unseen contexts)`);
  console.log(`            ${f(r.speculateInCorpusUs.median)} µs median, ${f(r.speculateInCorpusUs.p90)} µs p90 (tree, contexts from inside stored sequences)`);
  console.log(`memory      ${f(r.bytesPerToken, 1)} B/token allocated, ${f(r.usedBytesPerToken, 1)} in use, ${f(r.nodesPerToken)} nodes/token   target ≤ 150   peer ~400`);
  console.log(`serving     update ${f(a.updateUsPerToken)} µs/token (both trees), FIFO eviction ${f(a.evictUsPerToken)} µs/token removed`);
  console.log(`acceptance  agent: ${f(a.meanAcceptanceLength)} mean length, ${f(a.tokensPerStep)} tokens/step, ${f(100 * a.draftAcceptanceRate, 1)}% of drafted`);
  console.log(`            zipf:  ${f(z.meanAcceptanceLength)} mean length, ${f(z.tokensPerStep)} tokens/step, ${f(100 * z.draftAcceptanceRate, 1)}% of drafted`);
}
