// A tile level as one flat, growable Float64Array (stride 6: index, count, sum, max, sum of
// squares, night count), kept sorted by tile index. Hand-rolled rather than an array of objects:
// window scans then read contiguous memory, which is what the engine's per-event cost is made of
// when thousands of entities are interleaved (object tiles scattered over the heap miss the cache).

export const STRIDE = 6;
export const I = 0, TN = 1, TS = 2, TM = 3, TQ = 4, TZ = 5;

export interface TileLevel {
  data: Float64Array;
  /** Number of tiles in use. */
  len: number;
}

export const emptyLevel = (capacity = 4): TileLevel => ({ data: new Float64Array(capacity * STRIDE), len: 0 });

export const cloneLevel = (l: TileLevel): TileLevel => ({ data: l.data.slice(), len: l.len });

/** Offset of the tile with index `i`, creating it (zeroed) in sorted position if absent. */
export function tileAt(level: TileLevel, i: number): number {
  const d = level.data;
  const last = (level.len - 1) * STRIDE;
  if (level.len > 0 && d[last + I] === i) return last;
  let pos = level.len;
  if (level.len > 0 && d[last + I]! > i) {
    // Out-of-order (late) event: find its place from the end.
    pos = level.len - 1;
    while (pos > 0 && d[(pos - 1) * STRIDE + I]! >= i) pos--;
    if (d[pos * STRIDE + I] === i) return pos * STRIDE;
  }
  if ((level.len + 1) * STRIDE > d.length) {
    const grown = new Float64Array(Math.max(8, level.len * 2) * STRIDE);
    grown.set(d.subarray(0, level.len * STRIDE));
    level.data = grown;
  }
  const g = level.data;
  if (pos < level.len) g.copyWithin((pos + 1) * STRIDE, pos * STRIDE, level.len * STRIDE);
  const o = pos * STRIDE;
  g.fill(0, o, o + STRIDE);
  g[o + I] = i;
  level.len++;
  return o;
}

/** Drops tiles with index < lo. */
export function dropBefore(level: TileLevel, lo: number): void {
  const d = level.data;
  let k = 0;
  while (k < level.len && d[k * STRIDE + I]! < lo) k++;
  if (k === 0) return;
  d.copyWithin(0, k * STRIDE, level.len * STRIDE);
  level.len -= k;
}

export function levelToTuples(level: TileLevel): number[][] {
  const out: number[][] = [];
  for (let k = 0; k < level.len; k++) out.push(Array.from(level.data.subarray(k * STRIDE, (k + 1) * STRIDE)));
  return out;
}

export function levelFromTuples(tuples: readonly (readonly number[])[]): TileLevel {
  const level = emptyLevel(Math.max(4, tuples.length));
  tuples.forEach((t, k) => level.data.set(t, k * STRIDE));
  level.len = tuples.length;
  return level;
}
