// The election as the page confirms it before it derives anything (docs/spec/online.md §3.3;
// review F3): the package's public part, with each roll replaced by its hash, signed by the
// authority (Python: kiosk/core/election.py public_part and sign_package). The page trusts
// the authority's key only when the letter vouches for it: the QR link carries the key, and
// a member who types the code by hand types the letter's short election check too.
import { ed25519 } from '@noble/curves/ed25519';
import { ProtocolError, concat, sha256, toHex, utf8 } from './group.js';
import { CROCKFORD, b64d, canonicalBytes, crockford32, groups } from './encoding.js';

const PUBLIC_DOMAIN = 'hanpyo/election-public/v2\n';
const CHECK_DOMAIN = 'hanpyo/election-check/v2\n';
const CHECK_BYTES = 10; // 80 bits: 16 Crockford symbols, printed as four groups of four

/** The authority's Ed25519 signature (RFC 8032 §5.1.7, with §5.1.3's canonical encodings:
 * noble's zip215 off, as libsodium checks) over "hanpyo/election-public/v2\n" ||
 * canonical(part). Returns the part; throws a ProtocolError when it does not verify. */
export function verifyPublicPart(part, signature, authorityKey) {
  if (part === null || typeof part !== 'object' || Array.isArray(part)) {
    throw new ProtocolError('the public part is not an object');
  }
  const key = authorityKey instanceof Uint8Array ? authorityKey : b64d(authorityKey, 32, 'authority');
  if (key.length !== 32) throw new ProtocolError('the authority key is 32 bytes');
  const sig = b64d(String(signature ?? ''), 64, 'public_signature');
  const message = concat(utf8(PUBLIC_DOMAIN), canonicalBytes(part));
  let good = false;
  try {
    good = ed25519.verify(sig, message, key, { zip215: false });
  } catch {
    good = false;
  }
  if (!good) throw new ProtocolError('the public part is not signed by the authority key');
  return part;
}

/** The hex SHA-256 of a roll's canonical JSON: what the public part's roll_hash and
 * test_roll_hash hold. */
export const rollHash = (roll) => toHex(sha256(canonicalBytes(roll)));

/** The test roll the platform sent, checked against the signed test_roll_hash; the keys it
 * holds (b64url), so the page itself decides whether a code is a test credential. */
export function testRollKeys(part, testRoll) {
  if (!Array.isArray(testRoll) || rollHash(testRoll) !== part.test_roll_hash) {
    throw new ProtocolError("the test roll is not the one the authority signed");
  }
  const keys = new Map();
  for (const entry of testRoll) for (const k of entry.keys ?? []) keys.set(k, entry);
  return keys;
}

/** The short election check a letter prints: the first 10 bytes of
 * SHA256("hanpyo/election-check/v2\n" || authority key || UTF-8(election id)) in Crockford
 * base-32, four groups of four (Python: ledger/publish/credential_letters.py). */
export function electionCheck(authorityKey, electionId) {
  const key = authorityKey instanceof Uint8Array ? authorityKey : b64d(authorityKey, 32, 'authority');
  const digest = sha256(concat(utf8(CHECK_DOMAIN), key, utf8(String(electionId))));
  return groups(crockford32(digest.slice(0, CHECK_BYTES)), 4);
}

/** What a member typed as the election check, as the code is read (NFKC, upper case, spaces
 * and hyphens dropped, O → 0, I and L → 1), grouped as printed; null when it cannot be one. */
export function normalizeCheck(text) {
  const cleaned = Array.from(String(text).normalize('NFKC').toUpperCase())
    .filter((c) => !' \t\r\n-'.includes(c))
    .map((c) => ({ O: '0', I: '1', L: '1' })[c] ?? c)
    .join('');
  if (cleaned.length !== 16 || ![...cleaned].every((c) => CROCKFORD.includes(c))) return null;
  return groups(cleaned, 4);
}

