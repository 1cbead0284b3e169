// A tile level as one flat number array (stride 6: index, count, sum, max, sum of squares, night
// count), kept sorted by tile index. Hand-rolled rather than an array of objects: window sums
// then read contiguous memory, which is what the engine's per-event cost is made of when
// thousands of entities are interleaved (object tiles scattered over the heap miss the cache).
// A plain array rather than a Float64Array: V8 keeps its numbers unboxed all the same, and it
// grows in the JS heap, where each typed array is a malloc'd buffer, an ArrayBuffer object and
// work for the collector.

export const STRIDE = 6;
export const I = 0, TN = 1, TS = 2, TM = 3, TQ = 4, TZ = 5;

export interface TileLevel {
  /** STRIDE numbers per tile; past `len` tiles, room left by dropped ones (never read). */
  data: number[];
  /** Number of tiles. */
  len: number;
  /**
   * The number of tiles at which the engine drops those no window reaches before adding another;
   * it doubles when there were none to drop. A count rather than the array's room, so the canonical
   * pruning happens at the same points however the level was built.
   */
  cap: number;
}

export const emptyLevel = (cap = 4): TileLevel => ({ data: [], len: 0, cap });

/**
 * A level of `len` tiles read back from storage (`data`: STRIDE numbers each), with the cap every
 * reader gives it, so a read state prunes and grows at the same points as the state written.
 */
export const storedLevel = (data: number[], len: number): TileLevel => ({ data, len, cap: Math.max(4, len) });

export const cloneLevel = (l: TileLevel): TileLevel => ({ data: l.data.slice(0, l.len * STRIDE), len: l.len, cap: l.cap });

/** True when the level holds `cap` tiles: the engine prunes it before adding one. */
export const isFull = (level: TileLevel): boolean => level.len >= level.cap;

/** Offset of the tile with index `i`, creating it (zeroed) in sorted position if absent. */
export function tileAt(level: TileLevel, i: number): number {
  const d = level.data;
  const len = level.len;
  const last = (len - 1) * STRIDE;
  if (len > 0 && d[last + I] === i) return last;
  let pos = len;
  if (len > 0 && d[last + I]! > i) {
    // Out-of-order (late) event: find its place from the end.
    pos = len - 1;
    while (pos > 0 && d[(pos - 1) * STRIDE + I]! >= i) pos--;
    if (d[pos * STRIDE + I] === i) return pos * STRIDE;
  }
  if (len >= level.cap) level.cap = Math.max(8, len * 2);
  const o = pos * STRIDE;
  if (pos < len) d.splice(o, 0, i, 0, 0, 0, 0, 0);
  else if (d.length > o) {
    // Room left by dropped tiles: reused, where a push after shrinking would copy the array.
    d[o + I] = i;
    d[o + TN] = 0;
    d[o + TS] = 0;
    d[o + TM] = 0;
    d[o + TQ] = 0;
    d[o + TZ] = 0;
  } else d.push(i, 0, 0, 0, 0, 0);
  level.len = len + 1;
  return o;
}

/** Offset of the first tile with index ≥ i (the level's end when there is none): a binary search. */
export function firstTileFrom(level: TileLevel, i: number): number {
  const d = level.data;
  let a = 0;
  let b = level.len;
  while (a < b) {
    const k = (a + b) >>> 1;
    if (d[k * STRIDE + I]! < i) a = k + 1;
    else b = k;
  }
  return a * STRIDE;
}

/** Drops tiles with index < lo. */
export function dropBefore(level: TileLevel, lo: number): void {
  const d = level.data;
  const k = firstTileFrom(level, lo) / STRIDE;
  if (k === 0) return;
  // A loop rather than splice(), which would also build an array of the dropped numbers; the
  // array keeps its length, so the room is there for the tiles to come.
  const from = k * STRIDE;
  const keep = (level.len - k) * STRIDE;
  for (let j = 0; j < keep; j++) d[j] = d[from + j]!;
  level.len -= k;
}

export function levelToTuples(level: TileLevel): number[][] {
  const out: number[][] = [];
  for (let k = 0; k < level.len; k++) out.push(level.data.slice(k * STRIDE, (k + 1) * STRIDE));
  return out;
}

export function levelFromTuples(tuples: readonly (readonly number[])[]): TileLevel {
  const data: number[] = [];
  for (const t of tuples) data.push(...t);
  return storedLevel(data, tuples.length);
}
