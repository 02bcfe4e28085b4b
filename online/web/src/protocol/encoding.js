// Canonical JSON (RFC 8785), unpadded base64url and Crockford base-32: the same bytes as
// kiosk/core/encoding.py for every value a ballot, a block body or a context holds.
import { ProtocolError, utf8 } from './group.js';

// A UTF-16 surrogate without its partner: not a Unicode string, so I-JSON (RFC 7493 §2.1)
// and RFC 8785 §3.2.2.2 have no canonical form for it.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** RFC 8785 §3.2: strings and numbers serialized as ECMAScript's JSON.stringify does
 * (§3.2.2.2, §3.2.2.3), object members sorted by their names' UTF-16 code units (§3.2.3),
 * no whitespace. For our values (strings, integers, booleans, null, arrays, objects) this is
 * byte for byte what Python's rfc8785 and kiosk.core.encoding.canonical_json give. */
export function canonicalize(value) {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ProtocolError('NaN and infinities have no JSON form');
    return JSON.stringify(value);
  }
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) throw new ProtocolError('a string holds a lone surrogate');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(',')}]`;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined);
    keys.sort(); // Array.prototype.sort compares UTF-16 code units, as §3.2.3 asks
    return `{${keys.map((k) => `${canonicalize(k)}:${canonicalize(value[k])}`).join(',')}}`;
  }
  throw new ProtocolError(`a ${typeof value} has no canonical JSON form`);
}

export const canonicalBytes = (value) => utf8(canonicalize(value));

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Unpadded base64url (RFC 4648 §5), the project's only base64 (kiosk.core.encoding.b64e). */
export function b64e(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let j = 0; j < chars; j++) out += B64URL[(n >> (18 - 6 * j)) & 63];
  }
  return out;
}

/** Strict decoding: only the canonical unpadded base64url spelling (b64d in Python). */
export function b64d(text, length = null, name = 'value') {
  if (typeof text !== 'string' || text.length % 4 === 1 || /[^A-Za-z0-9_-]/.test(text)) {
    throw new ProtocolError('not unpadded base64url', name);
  }
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let bits = 0;
  let acc = 0;
  let at = 0;
  for (const c of text) {
    acc = (acc << 6) | B64URL.indexOf(c);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 0xff;
    }
  }
  if (b64e(out) !== text) throw new ProtocolError('not in canonical base64url form', name);
  if (length !== null && out.length !== length) {
    throw new ProtocolError(`must be ${length} bytes, found ${out.length}`, name);
  }
  return out;
}

export const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Crockford base-32 without padding: RFC 4648 §6's bit order with Crockford's alphabet. */
export function crockford32(bytes) {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc & 0xff) << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += CROCKFORD[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += CROCKFORD[(acc << (5 - bits)) & 31];
  return out;
}

export function groups(text, size) {
  const out = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.join('-');
}
