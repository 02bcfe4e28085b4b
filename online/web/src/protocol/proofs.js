// The ballot's proofs (docs/spec/ballot-proofs.md; Python: kiosk/core/verifiable/proofs.py,
// membership.py, knowledge.py), non-interactive by strong Fiat–Shamir (group.md §4):
// c = Hs("challenge/" || name; base_hash, [k]₄, statement..., commitments...).
import {
  G,
  ORDER,
  ProtocolError,
  baseMul,
  concat,
  hashToScalar,
  mod,
  mul,
  mulPublic,
  pointBytes,
  randomScalar,
  scalarFromHex,
  scalarHex,
  u32be,
} from './group.js';

export const MEMBERSHIP = 'membership';
export const SUM_IN_RANGE = 'sum-in-range';
export const RANDOMNESS = 'randomness';
const MAX_SET_SIZE = 1024;

/** group.md §4: the statement count keeps statement and commitments apart. */
export function challenge(name, baseHash, statement, commitments) {
  return hashToScalar(
    `challenge/${name}`,
    baseHash,
    u32be(statement.length),
    ...statement,
    ...commitments,
  );
}

/** [S] = [j_1]₄ || … || [j_n]₄ in increasing order (ballot-proofs.md §1). */
export const setBytes = (values) => concat(...values.map(u32be));

export function range(low, high) {
  if (!(Number.isInteger(low) && Number.isInteger(high) && 0 <= low && low <= high)) {
    throw new ProtocolError(`no range ${low}..${high}`);
  }
  if (high > 0xffffffff || high - low >= MAX_SET_SIZE) throw new ProtocolError('range too large');
  return Array.from({ length: high - low + 1 }, (_, i) => low + i);
}

export const proofJson = ({ c, v }) => ({ c: scalarHex(c), v: scalarHex(v) });

export function proofFromJson(value, where) {
  const ok = value && typeof value === 'object' && !Array.isArray(value);
  if (!ok || Object.keys(value).sort().join() !== 'c,v') {
    throw new ProtocolError('a proof is an object with c and v', where);
  }
  return { c: scalarFromHex(value.c, `${where} c`), v: scalarFromHex(value.v, `${where} v`) };
}

export function branchesFromJson(value, where) {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_SET_SIZE) {
    throw new ProtocolError('a list of (c, v) branches, one per allowed value', where);
  }
  return value.map((b, i) => proofFromJson(b, `${where} branch ${i}`));
}

const ctBytes = (ct) => concat(pointBytes(ct.alpha), pointBytes(ct.beta));

export function membershipStatement(ct, values, key, context) {
  return [pointBytes(key), pointBytes(ct.alpha), pointBytes(ct.beta), setBytes(values), context];
}

/** §2: the ciphertexts as one part, then their sum (A, B) the verifier computes itself. */
export function sumStatement(cts, total, values, key, context) {
  return [
    pointBytes(key),
    concat(...cts.map(ctBytes)),
    pointBytes(total.alpha),
    pointBytes(total.beta),
    setBytes(values),
    context,
  ];
}

export function ciphertextSum(cts) {
  return cts.slice(1).reduce(
    (acc, ct) => ({ alpha: acc.alpha.add(ct.alpha), beta: acc.beta.add(ct.beta) }),
    cts[0],
  );
}

/** The disjunctive Chaum–Pedersen prover, ElectionGuard 2.1 §3.3.5 additively, exactly as
 * membership.py's _prove: the real branch first, simulated branches as w·G and
 * w·K + c_j·(m − j)·G with w = v_j + c_j·r (the points a verifier recomputes). */
export function proveDisjunctive(name, statement, nonce, value, values, key, baseHash) {
  if (!values.includes(value)) throw new ProtocolError(`${value} is not an allowed value`);
  if (key.is0()) throw new ProtocolError('the election key is the identity');
  const u = randomScalar();
  const points = new Map([[value, [baseMul(u), mul(key, u)]]]);
  const simulated = new Map();
  for (const j of values) {
    if (j === value) continue;
    const c = randomScalar();
    const v = randomScalar();
    simulated.set(j, { c, v });
    const w = mod(v + c * nonce);
    points.set(j, [baseMul(w), mul(key, w).add(baseMul(mod(c * BigInt(value - j))))]);
  }
  const commitments = values.flatMap((j) => points.get(j).map(pointBytes));
  const c = challenge(name, baseHash, statement, commitments);
  let cReal = c;
  for (const s of simulated.values()) cReal -= s.c;
  cReal = mod(cReal);
  const real = { c: cReal, v: mod(u - cReal * nonce) };
  return values.map((j) => simulated.get(j) ?? real);
}

/** The verifier (ballot-proofs.md §1 "Verifier"): every branch's commitments recomputed,
 * accepted only if the branch challenges add up to the hash. */
export function verifyDisjunctive(name, branches, statement, ct, values, key, baseHash, where) {
  if (branches.length !== values.length) {
    throw new ProtocolError(`${branches.length} branches for a set of ${values.length}`, where);
  }
  if (key.is0()) throw new ProtocolError('the election key is the identity', where);
  const commitments = [];
  values.forEach((j, i) => {
    const { c, v } = branches[i];
    const shifted = j ? ct.beta.subtract(baseMul(BigInt(j))) : ct.beta;
    const a = baseMul(v).add(mulPublic(ct.alpha, c));
    const b = mulPublic(key, v).add(mulPublic(shifted, c));
    commitments.push(pointBytes(a), pointBytes(b));
  });
  const c = challenge(name, baseHash, statement, commitments);
  const total = branches.reduce((acc, b) => acc + b.c, 0n) % ORDER;
  if (c !== total) {
    throw new ProtocolError(`${name} proof: the branch challenges do not add up to the hash`, where);
  }
}

/** A {0,1} (or any set) membership proof for one ciphertext (ballot-proofs.md §1). */
export function proveMembership(ct, nonce, value, values, key, baseHash, context) {
  const statement = membershipStatement(ct, values, key, context);
  return proveDisjunctive(MEMBERSHIP, statement, nonce, value, values, key, baseHash);
}

export function verifyMembership(branches, ct, values, key, baseHash, context, where) {
  if (ct.alpha.is0()) throw new ProtocolError('the ciphertext has no randomness (α = 0)', where);
  const statement = membershipStatement(ct, values, key, context);
  verifyDisjunctive(MEMBERSHIP, branches, statement, ct, values, key, baseHash, where);
}

/** ballot-proofs.md §2: the sum of the cells lies in low..high. */
export function proveSumInRange(cts, nonces, values, low, high, key, baseHash, context) {
  const allowed = range(low, high);
  const total = ciphertextSum(cts);
  const statement = sumStatement(cts, total, allowed, key, context);
  const nonce = mod(nonces.reduce((a, b) => a + b, 0n));
  const value = values.reduce((a, b) => a + b, 0);
  return proveDisjunctive(SUM_IN_RANGE, statement, nonce, value, allowed, key, baseHash);
}

export function verifySumInRange(branches, cts, low, high, key, baseHash, context, where) {
  if (cts.length === 0) throw new ProtocolError('no ciphertexts to add up', where);
  const allowed = range(low, high);
  const total = ciphertextSum(cts);
  const statement = sumStatement(cts, total, allowed, key, context);
  verifyDisjunctive(SUM_IN_RANGE, branches, statement, total, allowed, key, baseHash, where);
}

const randomnessStatement = (ct, key, context) => [
  pointBytes(key),
  pointBytes(ct.alpha),
  pointBytes(ct.beta),
  context,
];

/** ballot-proofs.md §3: Schnorr (ElectionGuard 2.1 §3.2.2) of r with α = r·G, bound to β, K
 * and the context. */
export function proveRandomness(ct, nonce, key, baseHash, context) {
  const u = randomScalar();
  const h = baseMul(u);
  const c = challenge(RANDOMNESS, baseHash, randomnessStatement(ct, key, context), [pointBytes(h)]);
  return { c, v: mod(u - c * nonce) };
}

export function verifyRandomness(proof, ct, key, baseHash, context, where) {
  if (ct.alpha.is0()) throw new ProtocolError('the ciphertext has no randomness (α = 0)', where);
  const h = baseMul(proof.v).add(mulPublic(ct.alpha, proof.c));
  const c = challenge(RANDOMNESS, baseHash, randomnessStatement(ct, key, context), [pointBytes(h)]);
  if (c !== proof.c) {
    throw new ProtocolError('knowledge of the randomness: the challenge does not match', where);
  }
}

/** Enc(m; r) = (r·G, m·G + r·K) (group.md §3). */
export function encryptWith(value, key, nonce) {
  return { alpha: baseMul(nonce), beta: baseMul(BigInt(value)).add(mul(key, nonce)) };
}

export { G };
