// SuffixDecodingCache with deferUpdates (docs/suffix-overlap.md): what waits for flush(), and that after a
// flush the cache drafts exactly what an undeferred cache fed the same calls drafts.
import { describe, expect, it } from 'vitest';
import { DEFER_MODES, SuffixDecodingCache, type DeferMode } from '../../../runtime/decoding/index.ts';
import { Xoshiro128 } from '../../../runtime/decoding/rng.ts';

const opts = { maxSpecTokens: 8 };
const draft = (c: SuffixDecodingCache, id: string | number, ctx: number[]): number[] => [...c.speculate(id, ctx, opts).tokens];

describe('SuffixDecodingCache deferUpdates', () => {
  it("'global': the response reaches the local tree at once and the global tree at flush()", () => {
    const c = new SuffixDecodingCache({ maxTreeDepth: 16, deferUpdates: 'global' });
    c.startRequest('x', [9]); c.startRequest('y', [8]);
    c.flush();
    c.addActiveResponse('x', [1, 2, 3, 4]);
    expect(c.pendingUpdates).toBe(1);
    // x's own tokens answer from its local tree; y sees them only through the global tree
    expect(draft(c, 'x', [9, 1, 2])).toEqual([3, 4]);
    expect(draft(c, 'y', [0, 1, 2])).toEqual([]);
    c.flush();
    expect(c.pendingUpdates).toBe(0);
    expect(draft(c, 'y', [0, 1, 2])).toEqual([3, 4]);
    c.checkInvariants();
  });

  it("'all': the local tree waits too, and a prompt is in its tree after the first flush", () => {
    const c = new SuffixDecodingCache({ maxTreeDepth: 16, deferUpdates: 'all' });
    c.startRequest('a', [5, 6, 7, 8, 9, 5, 6]);
    expect(draft(c, 'a', [9, 5, 6])).toEqual([]);
    c.flush();
    expect(draft(c, 'a', [9, 5, 6])).toEqual([7, 8]);
    c.addActiveResponse('a', [1, 2, 3]);
    expect(draft(c, 'a', [6, 1, 2])).toEqual([]);
    c.flush();
    expect(draft(c, 'a', [6, 1, 2])).toEqual([3]);
  });

  it('a stop waits behind the response it seals; a stopped request drops its local updates', () => {
    const c = new SuffixDecodingCache({ maxTreeDepth: 16, deferUpdates: 'all' });
    c.startRequest(1, [0]);
    c.flush();
    c.addActiveResponse(1, [10, 11, 12, 13]);
    c.stopRequest(1);
    expect(c.activeRequests).toEqual([]);
    expect(c.pendingUpdates).toBe(3); // local (dropped at flush), global, seal
    c.flush();
    expect(c.globalTree.isSealed(0)).toBe(true);
    c.startRequest(2, [3]);
    c.flush();
    expect(draft(c, 2, [3, 10, 11])).toEqual([12, 13]);
    c.checkInvariants();
  });

  it('an eviction applies what waits first', () => {
    const c = new SuffixDecodingCache({ maxCachedRequests: 1, deferUpdates: 'global' });
    c.startRequest('r1', []); c.addActiveResponse('r1', [7, 8, 9]); c.stopRequest('r1');
    expect(c.pendingUpdates).toBe(2);
    c.startRequest('r2', []); // evicts r1's response, after applying it
    expect(c.cachedRequests).toEqual(['r2']);
    expect(c.globalTokens).toBe(0);
    c.checkInvariants();
  });

  it('rejects an unknown mode', () => {
    expect(() => new SuffixDecodingCache({ deferUpdates: 'later' as DeferMode })).toThrow(/deferUpdates must be one of off, global, all, got later/);
  });

  it.each(DEFER_MODES)("'%s': flushed before each speculation, drafts equal the undeferred cache's (random requests)", (mode) => {
    const rng = new Xoshiro128(11);
    const int = (n: number): number => Math.floor(rng.next() * n);
    const ref = new SuffixDecodingCache({ maxTreeDepth: 8, maxCachedRequests: 3 });
    const def = new SuffixDecodingCache({ maxTreeDepth: 8, maxCachedRequests: 3, deferUpdates: mode });
    const ctx = new Map<number, number[]>();
    let next = 0, compared = 0;
    for (let step = 0; step < 400; step++) {
      const active = [...ctx.keys()];
      const op = int(10);
      if (op === 0 || active.length === 0) {
        const id = next++ % 6; // ids come back: a finished id restarted evicts its old response
        if (ctx.has(id)) continue;
        const prompt = Array.from({ length: int(12) }, () => int(5));
        ref.startRequest(id, prompt); def.startRequest(id, prompt);
        ctx.set(id, [...prompt, int(5)]);
      } else if (op === 1) {
        const id = active[int(active.length)];
        ref.stopRequest(id); def.stopRequest(id);
        ctx.delete(id);
      } else {
        const id = active[int(active.length)];
        const toks = Array.from({ length: 1 + int(4) }, () => int(5));
        ref.addActiveResponse(id, toks); def.addActiveResponse(id, toks);
        ctx.get(id)!.push(...toks);
        def.flush();
        for (const a of ctx.keys()) {
          const c = ctx.get(a)!;
          expect(draft(def, a, c)).toEqual(draft(ref, a, c));
          compared++;
        }
      }
    }
    def.flush();
    def.checkInvariants();
    expect(def.cachedRequests).toEqual(ref.cachedRequests);
    expect(def.globalNodes).toBe(ref.globalNodes);
    expect(compared).toBeGreaterThan(500);
  });
});
