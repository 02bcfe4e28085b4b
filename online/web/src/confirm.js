// The election as the page confirms it before the member derives anything (review F3;
// docs/spec/online.md §3.3). The platform's answers are not trusted: the authority's key comes
// from the letter's link (k, with the election id e), or, for a code typed by hand, from the
// platform but only once the member has typed the letter's election check and it matches.
import * as v2 from "./hanpyo-v2.js";

/** The platform's answer to /api/election checked against the letter's link; throws when the
 * page cannot confirm it. `confirmed` is false for a code typed by hand (no link): the member
 * must then type the election check (`confirmByCheck`) before signing in. */
export function confirmElection(answer, link) {
  const part = answer?.public;
  if (link.key && !link.election) throw new v2.ProtocolError("the link names no election");
  const key = v2.b64d(String(link.key ?? answer?.authority ?? ""), 32, "authority");
  v2.verifyPublicPart(part, answer.public_signature, key);
  if (link.key && part.id !== link.election) {
    throw new v2.ProtocolError("the public part is for another election than the letter's");
  }
  return {
    package: part, // the signed public part: its rolls by hash, nothing unsigned added
    testKeys: v2.testRollKeys(part, answer.test_roll),
    authority: key,
    confirmed: Boolean(link.key),
    status: answer.status,
    revote: Boolean(answer.revote),
  };
}

/** For a code typed by hand: "match" when the typed text is the letter's election check for
 * this authority key and election, "malformed" when it cannot be one, else "mismatch". */
export function confirmByCheck(election, typed) {
  const check = v2.normalizeCheck(typed ?? "");
  if (check === null) return "malformed";
  return check === v2.electionCheck(election.authority, election.package.id) ? "match" : "mismatch";
}

/** The member's roll entry as the test roll holds it when their key is a test credential's;
 * null for an official one. The page, not the platform, decides which it is: a test ballot is
 * encrypted under the public test key, whose secret the package publishes. */
export function ownTestEntry(election, publicKey) {
  return election.testKeys.get(v2.b64e(publicKey)) ?? null;
}

/** Does the platform's sign-in answer agree with what the page knows itself? For a test
 * credential its entry is the test roll's; an official entry cannot be checked without the
 * roll (the count refuses a ballot of the wrong form). */
export function sessionAgrees(session, testEntry) {
  if (Boolean(session.test) !== Boolean(testEntry)) return false;
  if (!testEntry) return true;
  const e = session.entry ?? {};
  const same = (a, b) => JSON.stringify([...(a ?? [])].sort()) === JSON.stringify([...(b ?? [])].sort());
  return (
    e.category === testEntry.category &&
    (e.group ?? null) === (testEntry.group ?? null) &&
    same(e.excluded, testEntry.excluded) &&
    session.voter === testEntry.voter
  );
}

/** A 201 for the page's own ballot names its fingerprint (and, for a cast, its ballot id). */
export function answerMatches(answer, enc, { cast }) {
  if (answer?.fingerprint !== enc.fingerprint) return false;
  return !cast || answer?.ballot_id === enc.ballot.ballot_id;
}
