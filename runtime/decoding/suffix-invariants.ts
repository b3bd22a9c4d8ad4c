// Full structural check of a SuffixTree, for tests: it walks every node and every stored suffix, so it costs
// O(tokens · maxDepth). Throws an Error naming the node (or sequence and suffix) and what is wrong.
import { SCAN } from './child-index.ts';
import { NIL, ROOT } from './node-store.ts';
import type { SuffixTree } from './suffix-tree.ts';

export function checkTreeInvariants(tree: SuffixTree): void {
  const N = tree.nodes, kids = tree.children, order = tree.order, eps = tree.endpoints, seqs = tree.seqs;
  const D = tree.maxDepth;
  const fail = (msg: string): never => { throw new Error(`suffix tree invariant: ${msg}`); };
  const endNodeOf = new Int32Array(Math.max(1, eps.slot.length)).fill(NIL);
  const depth = new Int32Array(N.capacity);
  // Suffixes still in an open sequence's window end where the window says and are on no list.
  const windowEndings = new Int32Array(N.capacity);
  let windowSuffixes = 0;
  const linkedBelow = (s: number): number => (seqs.open.has(s) ? seqs.length[s] - D : seqs.length[s]);
  for (const s of seqs.open) {
    const L = seqs.length[s];
    for (let j = Math.max(0, L - D); j < L; j++) {
      const w = seqs.window[s][j % D];
      if (!N.isLive(w)) fail(`slot ${s}: window holds dead node ${w} for suffix ${j}`);
      windowEndings[w]++;
      windowSuffixes++;
    }
  }
  let reached = 0, entries = 0, runs = 0, indexed = 0;
  const liveSlot = (s: number): boolean => s >= 0 && s < seqs.idOf.length && seqs.idOf[s] !== NIL;
  const labelAt = (node: number, i: number): number => seqs.tokens[N.refSeq[node]][N.refIdx[node] + i];

  if (N.parent[ROOT] !== NIL || N.len[ROOT] !== 0) fail('root has a parent or an edge');
  if (N.count[ROOT] !== seqs.storedTokens) fail(`root count ${N.count[ROOT]} != stored tokens ${seqs.storedTokens}`);
  const stack = [ROOT];
  while (stack.length > 0) {
    const n = stack.pop()!;
    reached++;
    // Endpoints: every entry names a live suffix whose depth-limited length equals this node's depth.
    let endings = 0;
    for (let e = N.ep[n], prev = NIL; e !== NIL; prev = e, e = eps.next[e]) {
      if (eps.prev[e] !== prev) fail(`node ${n}: endpoint list back link broken at entry ${e}`);
      const s = eps.slot[e], start = eps.start[e];
      if (!liveSlot(s)) fail(`node ${n}: endpoint ${e} refers to dead slot ${s}`);
      const end = Math.min(start + D, seqs.length[s]);
      if (end - start !== depth[n]) fail(`node ${n}: endpoint (slot ${s}, start ${start}) has length ${end - start}, node depth ${depth[n]}`);
      if (seqs.entry[s][start] !== e) fail(`node ${n}: entry ${e} is not the entry of (slot ${s}, start ${start})`);
      if (start >= linkedBelow(s)) fail(`node ${n}: suffix (slot ${s}, start ${start}) is still in its window but linked`);
      endNodeOf[e] = n;
      endings++;
    }
    entries += endings;
    if (n === ROOT && endings + windowEndings[n] !== 0) fail('root has endpoints outside an append');
    endings += windowEndings[n];
    if (n !== ROOT) {
      if (N.len[n] <= 0) fail(`node ${n}: edge length ${N.len[n]}`);
      if (N.count[n] <= 0) fail(`node ${n}: count ${N.count[n]}`);
      if (depth[n] > D) fail(`node ${n}: depth ${depth[n]} exceeds max depth ${D}`);
      const s = N.refSeq[n], r = N.refIdx[n];
      if (!liveSlot(s)) fail(`node ${n}: label refers to dead slot ${s}`);
      if (r < 0 || r + N.len[n] > seqs.length[s]) fail(`node ${n}: label [${r}, ${r + N.len[n]}) outside slot ${s} of length ${seqs.length[s]}`);
      if (labelAt(n, 0) !== N.token[n]) fail(`node ${n}: key token ${N.token[n]} != label's first token ${labelAt(n, 0)}`);
      // The label must be part of a full occurrence of the root-to-node path, or later splits read garbage.
      let pos = r, a = N.parent[n];
      while (a !== ROOT) {
        for (let i = N.len[a] - 1; i >= 0; i--) {
          pos--;
          if (pos < 0 || seqs.tokens[s][pos] !== labelAt(a, i)) fail(`node ${n}: label occurrence in slot ${s} at ${r} is not preceded by its path`);
        }
        a = N.parent[a];
      }
      const found = kids.find(N.parent[n], N.token[n]);
      if (N.wide[N.parent[n]] === 1 ? found !== n : found !== NIL) fail(`node ${n}: child index maps (parent ${N.parent[n]}, token ${N.token[n]}) to ${found}, parent wide = ${N.wide[N.parent[n]]}`);
      if (tree.childOf(N.parent[n], N.token[n]) !== n) fail(`node ${n}: a sibling shares its first token ${N.token[n]}`);
    }
    // Children: parent links, sorted by count, circular prev at the head, groups = maximal equal-count runs.
    let sum = 0, kidCount = 0;
    const h = N.head[n];
    if (h !== NIL) {
      let c = h, last = NIL;
      while (c !== NIL) {
        if (N.parent[c] !== n) fail(`node ${c}: parent is ${N.parent[c]}, but it is in the child list of ${n}`);
        if (c !== h && N.prev[c] !== last) fail(`node ${c}: prev sibling ${N.prev[c]} != ${last}`);
        if (last !== NIL && N.count[last] < N.count[c]) fail(`node ${n}: children not sorted by count (${last}:${N.count[last]} before ${c}:${N.count[c]})`);
        if (n !== ROOT && N.count[c] >= N.count[n]) fail(`node ${c}: count ${N.count[c]} not below its parent's ${N.count[n]}`);
        // Runs of two or more equal counts share a group record; a node alone in its run has none.
        const g = N.group[c];
        const startsRun = last === NIL || N.count[last] !== N.count[c];
        const endsRun = N.next[c] === NIL || N.count[N.next[c]] !== N.count[c];
        if (startsRun && endsRun) { if (g !== NIL) fail(`node ${c}: alone in its run but in group ${g}`); }
        else if (g === NIL) fail(`node ${c}: in a run of count ${N.count[c]} but has no group`);
        else {
          if (startsRun) { runs++; if (order.gHead[g] !== c) fail(`node ${c}: starts a run of count ${N.count[c]} but is not its group's head`); }
          else if (N.group[last] !== g) fail(`node ${c}: same count as ${last} but a different group`);
          if (endsRun && order.gTail[g] !== c) fail(`node ${c}: ends a run but is not its group's tail`);
        }
        depth[c] = depth[n] + N.len[c];
        sum += N.count[c];
        kidCount++;
        if (N.wide[n] === 1) indexed++;
        stack.push(c);
        last = c;
        c = N.next[c];
      }
      if (N.prev[h] !== last) fail(`node ${n}: head's prev ${N.prev[h]} is not the tail ${last}`);
    }
    if ((N.wide[n] === 1) !== (kidCount > SCAN)) fail(`node ${n}: ${kidCount} children but wide = ${N.wide[n]}`);
    if (N.count[n] !== sum + endings) fail(`node ${n}: count ${N.count[n]} != children ${sum} + endings ${endings}`);
  }
  if (reached !== N.live) fail(`${N.live} live nodes but ${reached} reachable`);
  if (kids.entries !== indexed) fail(`child index holds ${kids.entries} entries for ${indexed} children of wide nodes`);
  if (entries + windowSuffixes !== seqs.storedTokens || eps.live !== entries) {
    fail(`${entries} endpoints linked (${eps.live} live) + ${windowSuffixes} in windows != ${seqs.storedTokens} suffixes stored`);
  }
  if (order.live !== runs) fail(`${order.live} live groups but ${runs} runs of equal counts`);
  // Every suffix of every sequence is a path ending at the node that holds its endpoint; the window holds
  // the end nodes of the last maxDepth suffixes.
  for (const id of seqs.ids()) {
    const s = seqs.slotOf(id), L = seqs.length[s], toks = seqs.tokens[s];
    for (let i = 0; i < L; i++) {
      const end = Math.min(i + D, L);
      let n = ROOT, idx = i;
      while (idx < end) {
        const c = tree.childOf(n, toks[idx]);
        if (c === NIL) fail(`sequence ${id}: suffix ${i} has no child for token ${toks[idx]} at ${idx}`);
        for (let k = 0; k < N.len[c]; k++) {
          if (idx + k >= end || toks[idx + k] !== labelAt(c, k)) fail(`sequence ${id}: suffix ${i} diverges from node ${c}'s label at ${idx + k}`);
        }
        idx += N.len[c];
        n = c;
      }
      if (i < linkedBelow(s)) {
        if (endNodeOf[seqs.entry[s][i]] !== n) fail(`sequence ${id}: suffix ${i} ends at node ${n} but its endpoint is elsewhere`);
      } else if (seqs.window[s][i % D] !== n) fail(`sequence ${id}: window slot for suffix ${i} is ${seqs.window[s][i % D]}, not ${n}`);
    }
  }
}
