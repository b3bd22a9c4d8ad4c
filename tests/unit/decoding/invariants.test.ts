import { describe, expect, it } from 'vitest';
import { SuffixTree } from '../../../runtime/decoding/index.ts';

// checkInvariants() guards every other test, so it must notice each kind of corruption.
function build(): SuffixTree {
  const t = new SuffixTree(6);
  t.extend(0, [1, 2, 3, 1, 2, 4, 1, 2, 3, 5, 6, 1, 2]);
  t.extend(1, [2, 3, 1, 7, 8, 9, 10, 11, 1, 2, 3]);
  t.seal(1);
  t.checkInvariants();
  return t;
}

// The first child of the root that itself has two or more children.
function branching(t: SuffixTree): number {
  const N = t.nodes;
  for (let c = N.head[0]; c !== -1; c = N.next[c]) if (N.head[c] !== -1 && N.next[N.head[c]] !== -1) return c;
  throw new Error('no branching node');
}

describe('SuffixTree.checkInvariants detects corruption', () => {
  const cases: [string, (t: SuffixTree) => void, RegExp][] = [
    ['a count', (t) => { t.nodes.count[branching(t)]++; }, /count|not below|run/],
    ['the root count', (t) => { t.nodes.count[0]--; }, /root count/],
    ['sibling order', (t) => {
      const N = t.nodes, p = branching(t), a = N.head[p];
      N.count[a] = 1; // now smaller than its next sibling
    }, /not sorted by count|count/],
    ['a parent link', (t) => { const c = t.nodes.head[branching(t)]; t.nodes.parent[c] = 0; }, /parent/],
    ['an edge label', (t) => { const c = t.nodes.head[branching(t)]; t.nodes.refIdx[c] += 1; }, /label|key token|preceded/],
    ['an edge length', (t) => { const c = t.nodes.head[branching(t)]; t.nodes.len[c] += 1; }, /depth|label|endpoint|diverges|length/],
    ['an endpoint list', (t) => {
      const N = t.nodes;
      for (let n = 1; n < N.highWater; n++) if (N.ep[n] !== -1) { N.ep[n] = -1; return; }
    }, /endpoint|endings|count/],
    ['an active window', (t) => { const w = t.seqs.window[t.seqs.slotOf(0)]; w[0] = 0; }, /window|endpoints/],
    ['the wide flag', (t) => { t.nodes.wide[branching(t)] = 1; }, /wide|child index/],
    ['a group record', (t) => {
      const N = t.nodes;
      for (let c = N.head[0]; c !== -1; c = N.next[c]) if (N.group[c] !== -1) { N.group[c] = -1; return; }
      throw new Error('no group');
    }, /group|run/],
  ];

  it.each(cases)('%s', (_, corrupt, message) => {
    const t = build();
    corrupt(t);
    expect(() => t.checkInvariants()).toThrow(message);
  });
});
