// ECDSA on NIST P-256 over a precomputed SHA-256 digest, for the local KMS endpoint's
// `MessageType: DIGEST`. node:crypto can only sign a message (it hashes whatever it is given, so a
// digest would be hashed twice); KMS signs the digest itself. Signatures are DER, as KMS returns
// them, and verify with node:crypto's `verify('sha256', message, …)` over the original message.
// A stand-in's code: random nonces from node:crypto, no constant-time guarantees.
import { randomBytes, type KeyObject } from 'node:crypto';

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const A = P - 3n;
const G: Affine = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};

interface Affine {
  readonly x: bigint;
  readonly y: bigint;
}
/** Jacobian coordinates (X/Z², Y/Z³); z = 0 is the point at infinity. */
interface Jacobian {
  readonly x: bigint;
  readonly y: bigint;
  readonly z: bigint;
}
const INFINITY: Jacobian = { x: 1n, y: 1n, z: 0n };

const mod = (a: bigint, m: bigint): bigint => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error('not invertible');
  return mod(s0, m);
}

function double(p: Jacobian): Jacobian {
  if (p.z === 0n || p.y === 0n) return INFINITY;
  const yy = mod(p.y * p.y, P);
  const s = mod(4n * p.x * yy, P);
  const zz = mod(p.z * p.z, P);
  const m = mod(3n * p.x * p.x + A * zz * zz, P);
  const x = mod(m * m - 2n * s, P);
  const y = mod(m * (s - x) - 8n * yy * yy, P);
  return { x, y, z: mod(2n * p.y * p.z, P) };
}

function add(p: Jacobian, q: Jacobian): Jacobian {
  if (p.z === 0n) return q;
  if (q.z === 0n) return p;
  const pz2 = mod(p.z * p.z, P);
  const qz2 = mod(q.z * q.z, P);
  const u1 = mod(p.x * qz2, P);
  const u2 = mod(q.x * pz2, P);
  const s1 = mod(p.y * qz2 * q.z, P);
  const s2 = mod(q.y * pz2 * p.z, P);
  if (u1 === u2) return s1 === s2 ? double(p) : INFINITY;
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  const h2 = mod(h * h, P);
  const h3 = mod(h2 * h, P);
  const x = mod(r * r - h3 - 2n * u1 * h2, P);
  const y = mod(r * (u1 * h2 - x) - s1 * h3, P);
  return { x, y, z: mod(h * p.z * q.z, P) };
}

function multiply(k: bigint, point: Affine): Jacobian {
  let result = INFINITY;
  let addend: Jacobian = { ...point, z: 1n };
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) result = add(result, addend);
    addend = double(addend);
  }
  return result;
}

function toAffine(p: Jacobian): Affine | undefined {
  if (p.z === 0n) return undefined;
  const zi = inverse(p.z, P);
  const zi2 = mod(zi * zi, P);
  return { x: mod(p.x * zi2, P), y: mod(p.y * zi2 * zi, P) };
}

const toBigInt = (bytes: Uint8Array): bigint => (bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`));
const fromBase64Url = (s: string | undefined): bigint => toBigInt(Buffer.from(s ?? '', 'base64url'));

function derInteger(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  // A set high bit would read as negative: DER integers are signed.
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

/** (r, s) as the DER SEQUENCE KMS returns. */
export function encodeDerSignature(r: bigint, s: bigint): Uint8Array {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** (r, s) from a DER SEQUENCE; undefined for anything else (a P-256 signature fits in short-form lengths). */
export function decodeDerSignature(der: Uint8Array): { r: bigint; s: bigint } | undefined {
  const b = Buffer.from(der);
  if (b.length < 8 || b[0] !== 0x30 || b[1] !== b.length - 2) return undefined;
  const read = (at: number): { value: bigint; next: number } | undefined => {
    const length = b[at + 1];
    if (b[at] !== 0x02 || length === undefined || length === 0 || length > 33 || at + 2 + length > b.length) return undefined;
    return { value: toBigInt(b.subarray(at + 2, at + 2 + length)), next: at + 2 + length };
  };
  const r = read(2);
  const s = r && read(r.next);
  if (!r || !s || s.next !== b.length) return undefined;
  return { r: r.value, s: s.value };
}

function curveOf(key: KeyObject): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('the key is not an ECC_NIST_P256 key');
  }
}

/** Signs a 32-byte SHA-256 digest with a P-256 private key; DER-encoded. */
export function signDigest(privateKey: KeyObject, digest: Uint8Array): Uint8Array {
  curveOf(privateKey);
  if (digest.length !== 32) throw new Error('a SHA-256 digest is 32 bytes');
  const d = fromBase64Url(privateKey.export({ format: 'jwk' }).d);
  const z = toBigInt(digest);
  for (;;) {
    const k = mod(toBigInt(randomBytes(40)), N - 1n) + 1n;
    const point = toAffine(multiply(k, G));
    if (!point) continue;
    const r = mod(point.x, N);
    if (r === 0n) continue;
    let s = mod(inverse(k, N) * (z + r * d), N);
    if (s === 0n) continue;
    // Low-s form, as most signers emit; verifiers accept either.
    if (s > N / 2n) s = N - s;
    return encodeDerSignature(r, s);
  }
}

/** Verifies a DER ECDSA signature over a 32-byte SHA-256 digest with a P-256 public key. */
export function verifyDigest(publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  curveOf(publicKey);
  const parsed = decodeDerSignature(signature);
  if (!parsed || digest.length !== 32) return false;
  const { r, s } = parsed;
  if (r <= 0n || r >= N || s <= 0n || s >= N) return false;
  const jwk = publicKey.export({ format: 'jwk' });
  const q: Affine = { x: fromBase64Url(jwk.x), y: fromBase64Url(jwk.y) };
  const w = inverse(s, N);
  const z = toBigInt(digest);
  const point = toAffine(add(multiply(mod(z * w, N), G), multiply(mod(r * w, N), q)));
  return point !== undefined && mod(point.x, N) === r;
}
