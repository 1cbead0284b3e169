// SeenIds against a Map of "id@ts" keys as the oracle, over random adds, lookups and horizon drops.
import { describe, expect, it } from 'vitest';
import { SeenIds } from '../../lib/core/features/seen-ids';

/** Deterministic PRNG (mulberry32), so a failure replays. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('SeenIds', () => {
  it('agrees with a Map over 20,000 random operations, mostly in time order as a stream is', () => {
    const r = rng(3);
    const s = new SeenIds();
    const oracle = new Map<string, [string, number]>();
    let now = 0;
    for (let op = 0; op < 20_000; op++) {
      const x = r();
      if (x < 0.6) {
        // Usually newer than all, sometimes behind (disorder), ids drawn from a small pool so that
        // one id recurs with several times.
        now += Math.floor(r() * 3);
        const ts = r() < 0.8 ? now : now - Math.floor(r() * 50);
        const id = `e${Math.floor(r() * 400)}`;
        if (!s.has(id, ts)) s.add(id, ts);
        oracle.set(`${id}@${ts}`, [id, ts]);
      } else if (x < 0.98) {
        const ts = now - Math.floor(r() * 80);
        const id = `e${Math.floor(r() * 400)}`;
        expect(s.has(id, ts)).toBe(oracle.has(`${id}@${ts}`));
      } else {
        const lo = now - 60;
        s.dropBefore(lo);
        for (const [k, [, ts]] of oracle) if (ts < lo) oracle.delete(k);
      }
      expect(s.size).toBe(oracle.size);
    }
    const byTimeThenId = (a: readonly [string, number], b: readonly [string, number]) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    expect([...s]).toEqual([...oracle.values()].sort(byTimeThenId));
  });

  it('from() takes pairs in any order and keeps a repeated pair once', () => {
    const s = SeenIds.from([
      ['b', 2],
      ['a', 2],
      ['c', 1],
      ['a', 2],
      ['a', 5],
    ]);
    expect([...s]).toEqual([
      ['c', 1],
      ['a', 2],
      ['b', 2],
      ['a', 5],
    ]);
    expect(s.has('a', 5)).toBe(true);
    expect(s.has('a', 3)).toBe(false);
    s.dropBefore(2);
    expect([...s]).toEqual([
      ['a', 2],
      ['b', 2],
      ['a', 5],
    ]);
    s.dropBefore(6);
    expect(s.size).toBe(0);
    expect(s.has('a', 5)).toBe(false);
  });
});
