// The group ristretto255, scalars, the protocol's framed hashes and the encodings the record
// uses (docs/spec/group.md §1-2; the Python twin is kiosk/core/verifiable/group.py).
//
// Points come from @noble/curves' ristretto255 (RFC 9496 §4): Point.fromBytes is §4.3.1
// DECODE, which refuses every non-canonical encoding (Appendix A.2), so a decoded point is a
// group element. Scalars are BigInts reduced mod ℓ; their encoding is 32 bytes little-endian.
import { ristretto255 } from '@noble/curves/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2';
import { bytesToHex, randomBytes } from '@noble/hashes/utils';

export const Point = ristretto255.Point;
/** ℓ = 2^252 + 27742317777372353535851937790883648493 (RFC 9496 §4). */
export const ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
export const G = Point.BASE;
export const IDENTITY = Point.ZERO;
const TAG_PREFIX = 'hanpyo/v2/';
const HEX64 = /^[0-9a-f]{64}$/;
const encoder = new TextEncoder();

/** A check that failed or a value that is not in the protocol's form; `where` says which. */
export class ProtocolError extends Error {
  constructor(message, where = null) {
    super(where ? `${where}: ${message}` : message);
    this.name = 'ProtocolError';
    this.where = where;
  }
}

export const utf8 = (text) => encoder.encode(text);
export const toHex = bytesToHex;

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Exactly 2n lowercase hexadecimal digits: one spelling per value (group.md §1). */
export function strictHex(text, bytes, where) {
  const ok = typeof text === 'string' && text.length === 2 * bytes && /^[0-9a-f]*$/.test(text);
  if (!ok) throw new ProtocolError(`not ${2 * bytes} lowercase hexadecimal digits`, where);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export const mod = (a) => ((a % ORDER) + ORDER) % ORDER;

export function leInt(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

export function scalarBytes(k) {
  let n = mod(k);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

export const scalarHex = (k) => bytesToHex(scalarBytes(k));

/** A canonical scalar: 64 lowercase hex digits of a value below ℓ (ballot-proofs.md). */
export function scalarFromHex(text, where = 'scalar') {
  if (!HEX64.test(text ?? '')) throw new ProtocolError('not 64 lowercase hexadecimal digits', where);
  const k = leInt(strictHex(text, 32, where));
  if (k >= ORDER) throw new ProtocolError('not reduced below the group order', where);
  return k;
}

/** RFC 9496 §4.3.1 DECODE of 64 lowercase hex digits; refuses anything non-canonical. */
export function pointFromHex(text, where = 'group element') {
  const bytes = strictHex(text, 32, where);
  try {
    return Point.fromBytes(bytes);
  } catch {
    throw new ProtocolError('not a canonical ristretto255 encoding', where);
  }
}

/** RFC 9496 §4.3.2 ENCODE. */
export const pointBytes = (p) => p.toBytes();
export const pointHex = (p) => bytesToHex(p.toBytes());

/** k·P for a secret k (noble's constant-time ladder); the identity for k = 0 as in group.py. */
export function mul(point, k) {
  const n = mod(k);
  if (n === 0n || point.is0()) return IDENTITY;
  return point.multiply(n);
}

/** k·P for public values only (verification): faster, not constant-time. */
export function mulPublic(point, k) {
  const n = mod(k);
  if (n === 0n || point.is0()) return IDENTITY;
  return point.multiplyUnsafe(n);
}

export const baseMul = (k) => mul(G, k);

/** A uniform non-zero scalar (ballot-proofs.md: "uniform" is 1..ℓ−1) from the platform's
 * crypto.getRandomValues: 64 bytes reduced, a bias below 2^-250. */
export function randomScalar() {
  return 1n + (leInt(randomBytes(64)) % (ORDER - 1n));
}

export function u32be(n) {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError('not a 32-bit count');
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function u64be(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

/** H(tag; p1..pn) = SHA-512("hanpyo/v2/" || tag || "\n" || [len p1]₈ || p1 || ...) (group.md §2). */
export function framedHash(tag, parts) {
  if (tag.includes('\n')) throw new RangeError('a hash tag holds no newline');
  const h = sha512.create().update(utf8(TAG_PREFIX + tag + '\n'));
  for (const part of parts) h.update(u64be(part.length)).update(part);
  return h.digest();
}

/** Hs(tag; parts): the 64-byte digest read little-endian, mod ℓ (group.md §2). */
export const hashToScalar = (tag, ...parts) => leInt(framedHash(tag, parts)) % ORDER;

export { sha256 };
