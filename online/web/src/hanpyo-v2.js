// Hanpyo protocol v2 in the browser: the voter's credential, the encrypted ballot with its
// proofs, the card-style signature, spoiled (checked) ballots and the session signature.
// The specification is docs/spec/ (group.md, ballot-proofs.md, ballot.md, online.md); the
// Python code it must agree with byte for byte is kiosk/core/encrypted_ballot.py,
// ballot_crypto.py, verifiable/ and online_credential.py (tests/integration/
// test_online_vectors.py checks both ways). Byte strings are Uint8Array; points, scalars and
// ids are lowercase hex, keys and signatures unpadded base64url, as the record has them.
// Nothing here logs; the code, the seed and the nonces are the voter's secrets.
export {
  CredentialError,
  deriveCredential,
  deriveCredentialAsync,
  normalizeCode,
  publicKeyOf,
  sessionSignature,
  signBallot,
  castBody,
} from './protocol/credential.js';
export {
  layout,
  ballotHash,
  fingerprint,
  baseHash,
  checkPlaintext,
  eligibleOptions,
  contestsFor,
} from './protocol/ballot.js';
export { encryptBallot, verifyBallot, spoiledBody, openSpoiled } from './protocol/ballot_crypto.js';
export { canonicalize, canonicalBytes, b64e, b64d, crockford32 } from './protocol/encoding.js';
export { ProtocolError, toHex } from './protocol/group.js';
export {
  verifyPublicPart,
  rollHash,
  testRollKeys,
  electionCheck,
  normalizeCheck,
} from './protocol/election_public.js';
