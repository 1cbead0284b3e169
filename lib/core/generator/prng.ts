// Seeded pseudo-random numbers for the workload generator.
//
// Hand-written rather than taken from a package, and never Math.random: Math.random cannot be
// seeded, and the generator's output must be byte-identical for a seed on every machine. sfc32
// (Chris Doty-Humphrey's Small Fast Counting generator, PractRand-clean to terabytes) uses only
// 32-bit integer operations, so its sequence is exact on every JavaScript engine; splitmix32
// spreads a small integer seed over its 128-bit state. Twenty lines, zero dependencies.
//
// The float helpers (normal, logNormal) call Math.log/sqrt/cos/exp, which V8 computes with its
// fdlibm port on every platform; another engine could differ in the last bit of an amount.

const TWO_POW_MINUS_32 = 1 / 4294967296;

/** A 32-bit integer hash (splitmix32 finaliser): close inputs give unrelated outputs. */
export function mix32(value: number): number {
  let z = (value + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * One seed from several integers, e.g. (seed, stream, day). Independent streams let one part of
 * the workload (a day, the population) be regenerated without replaying every draw before it.
 */
export function deriveSeed(...parts: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) h = mix32(h ^ mix32(part >>> 0));
  return h;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;
  /** Box–Muller yields normals in pairs; the second is kept for the next call. */
  private spare: number | undefined;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      return mix32(s);
    };
    this.a = next();
    this.b = next();
    this.c = next();
    // The first outputs of a freshly seeded sfc32 are still correlated with the seed.
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() * TWO_POW_MINUS_32;
  }

  /** Uniform integer in [0, n). The modulo bias of a 32-bit draw is below 1e-5 for n < 1e5. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Uniform integer in [low, high], both ends included. */
  intBetween(low: number, high: number): number {
    return low + this.int(high - low + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const spare = this.spare;
    if (spare !== undefined) {
      this.spare = undefined;
      return spare;
    }
    const u = 1 - this.next(); // (0, 1]: log(0) would be -Infinity
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** exp(N(mu, sigma²)): money amounts and activity levels are skewed this way. */
  logNormal(mu: number, sigma: number): number {
    return Math.exp(mu + sigma * this.normal());
  }

  /** Log-uniform in [low, high): as likely to be in 1–2 h as in 10–20 h. */
  logUniform(low: number, high: number): number {
    return low * Math.exp(Math.log(high / low) * this.next());
  }
}
