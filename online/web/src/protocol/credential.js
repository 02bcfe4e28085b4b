// The voter's credential and the Ed25519 signatures it makes (docs/spec/online.md; Python:
// kiosk/core/online_credential.py and kiosk/core/crypto.py). The code never leaves this page:
// only the public key and signatures do.
import { ed25519 } from '@noble/curves/ed25519';
import { argon2id, argon2idAsync } from '@noble/hashes/argon2';
import { ProtocolError, concat, sha256, strictHex, utf8 } from './group.js';
import { CROCKFORD, b64e } from './encoding.js';
import { ballotHash } from './ballot.js';

export const CODE_SYMBOLS = 20;
/** RFC 9106 §3.1 parameters: t passes over m KiB, one lane, a 32-byte tag (online.md §1). */
export const ARGON2 = Object.freeze({ t: 3, m: 12 * 1024, p: 1, dkLen: 32 });
const SALT_DOMAIN = 'hanpyo/online-credential/v2\n';
const BALLOT_DOMAIN = 'hanpyo/ballot/v2\n';
const SESSION_DOMAIN = 'hanpyo/online-session/v2\n';
const MAX_ELECTION_ID_BYTES = 64;
const IGNORED = new Set([' ', '\t', '\r', '\n', '-']);
const ALIASES = { O: '0', I: '1', L: '1' };

/** A code that cannot be a credential; `userMessage` is {ko, en} for the voter. */
export class CredentialError extends ProtocolError {
  constructor(message, userMessage) {
    super(message);
    this.name = 'CredentialError';
    this.userMessage = userMessage;
  }
}

/** online_credential.normalize_code: NFKC, upper case, spaces and hyphens dropped, O→0,
 * I/L→1; exactly 20 Crockford symbols or a CredentialError in Korean and English. */
export function normalizeCode(text) {
  const folded = String(text).normalize('NFKC').toUpperCase();
  const cleaned = Array.from(folded)
    .filter((c) => !IGNORED.has(c))
    .map((c) => ALIASES[c] ?? c)
    .join('');
  const bad = [...new Set(Array.from(cleaned).filter((c) => !CROCKFORD.includes(c)))].sort();
  if (bad.length) {
    throw new CredentialError(`a credential code holds only Crockford base-32 symbols`, {
      ko: '코드에 쓸 수 없는 글자가 있습니다. 안내문의 코드를 다시 확인해 주세요.',
      en: 'The code has a character that is not used in codes. Please check the code on your letter.',
    });
  }
  const n = Array.from(cleaned).length;
  if (n !== CODE_SYMBOLS) {
    throw new CredentialError(`a credential code has ${CODE_SYMBOLS} symbols; found ${n}`, {
      ko: `코드는 ${CODE_SYMBOLS}자입니다 (입력: ${n}자). 안내문의 코드를 다시 확인해 주세요.`,
      en: `The code has ${CODE_SYMBOLS} characters (you entered ${n}). Please check the code on your letter.`,
    });
  }
  return cleaned;
}

/** The Argon2id salt: the first 16 bytes of SHA-256(domain || election id). */
export const credentialSalt = (electionId) =>
  sha256(concat(utf8(SALT_DOMAIN), utf8(electionId))).slice(0, 16);

const withKey = (seed) => ({ seed, publicKey: ed25519.getPublicKey(seed) });

/** Argon2id (RFC 9106) of the normalized code, salted by the election: the 32-byte Ed25519
 * seed (RFC 8032 §5.1.5) and its public key. Blocks for about a second on a desktop. */
export function deriveCredential(code, electionId) {
  const password = utf8(normalizeCode(code));
  return withKey(argon2id(password, credentialSalt(electionId), ARGON2));
}

/** The same, yielding to the page while it works; onProgress(0..1) may drive a bar. */
export async function deriveCredentialAsync(code, electionId, onProgress = undefined) {
  const password = utf8(normalizeCode(code));
  const options = { ...ARGON2, asyncTick: 20, onProgress };
  return withKey(await argon2idAsync(password, credentialSalt(electionId), options));
}

export const publicKeyOf = (seed) => ed25519.getPublicKey(seed);

function electionName(electionId) {
  const name = utf8(electionId);
  if (name.length > MAX_ELECTION_ID_BYTES) {
    throw new ProtocolError(`an election id is at most ${MAX_ELECTION_ID_BYTES} bytes`);
  }
  return name;
}

/** ballot.md §5: Ed25519 over "hanpyo/ballot/v2\n" || election || "\n" || voter id || hash. */
export function signBallot(seed, electionId, voterIdHex, ballot) {
  const voter = strictHex(voterIdHex, 16, 'voter id');
  const message = concat(
    utf8(BALLOT_DOMAIN),
    electionName(electionId),
    utf8('\n'),
    voter,
    ballotHash(ballot),
  );
  return { card_key: b64e(publicKeyOf(seed)), card_sig: b64e(ed25519.sign(message, seed)) };
}

/** The v2 `ballot` (or `test_ballot`) block body the platform records. */
export function castBody(seed, electionId, voterIdHex, ballot) {
  return { voter: voterIdHex, ballot, ...signBallot(seed, electionId, voterIdHex, ballot) };
}

/** Ed25519 over "hanpyo/online-session/v2\n" || election || "\n" || challenge (32 bytes):
 * the platform's proof that this browser holds the code behind a roll key. */
export function sessionSignature(seed, electionId, challenge) {
  if (!(challenge instanceof Uint8Array) || challenge.length !== 32) {
    throw new ProtocolError('a session challenge is 32 bytes');
  }
  const message = concat(utf8(SESSION_DOMAIN), utf8(electionId), utf8('\n'), challenge);
  return ed25519.sign(message, seed);
}
