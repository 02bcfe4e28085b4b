// Encrypting a ballot with its proofs, checking one as the count does, the cast and spoiled
// block bodies, and opening a spoiled ballot (docs/spec/ballot.md §3-6; Python:
// kiosk/core/ballot_crypto.py, encrypted_ballot.read_encrypted_ballot and check_form).
import {
  ProtocolError,
  baseMul,
  pointFromHex,
  pointHex,
  randomScalar,
  scalarFromHex,
  scalarHex,
  toHex,
} from './group.js';
import {
  BALLOT_VERSION,
  baseHash,
  cellBound,
  cellContext,
  cellValues,
  checkPlaintext,
  contestLayout,
  contestsFor,
  electionKey,
  findContest,
  header,
  layout,
  normalPlaintext,
  selectionFromValues,
  sumRange,
} from './ballot.js';
import { canonicalize } from './encoding.js';
import {
  branchesFromJson,
  encryptWith,
  proofFromJson,
  proofJson,
  proveMembership,
  proveRandomness,
  proveSumInRange,
  verifyMembership,
  verifyRandomness,
  verifySumInRange,
} from './proofs.js';
import { randomBytes } from '@noble/hashes/utils';

const ZERO_ONE = [0, 1];

/** ballot_crypto.encrypt_ballot: every cell of the voter's layout encrypted under K (the test
 * key with `test`), with its proof and each contest's sum proof. Returns the ballot JSON and
 * the nonces (hex, per contest and cell): keep them only to spoil the ballot, else forget. */
export function encryptBallot(pkg, entry, plaintext, { test = false } = {}) {
  checkPlaintext(pkg, entry, plaintext);
  const key = electionKey(pkg, test);
  const base = baseHash(pkg, test);
  const ballot = {
    v: BALLOT_VERSION,
    election: pkg.id,
    ballot_id: toHex(randomBytes(16)),
    test,
    category: entry.category,
    group: entry.group ?? null,
    contests: [],
  };
  const head = header(ballot);
  const nonces = [];
  for (const { contest, cells } of layout(pkg, entry)) {
    const values = cellValues(contest, cells, plaintext.contests[contest.id]);
    const rs = cells.map(() => randomScalar());
    ballot.contests.push(encryptContest(contest, cells, values, rs, key, base, head));
    nonces.push(rs.map(scalarHex));
  }
  return { ballot, nonces };
}

function encryptContest(contest, spots, values, nonces, key, base, head) {
  const cts = [];
  const cells = spots.map((spot, i) => {
    const ct = encryptWith(values[i], key, nonces[i]);
    cts.push(ct);
    const context = cellContext(head, contest.id, i, spot);
    const proof =
      contest.kind === 'score'
        ? proofJson(proveRandomness(ct, nonces[i], key, base, context))
        : proveMembership(ct, nonces[i], values[i], ZERO_ONE, key, base, context).map(proofJson);
    return { ...spot, ct: [pointHex(ct.alpha), pointHex(ct.beta)], proof };
  });
  const out = { id: contest.id, kind: contest.kind, cells };
  if (contest.kind !== 'score') {
    const [low, high] = sumRange(contest, spots.length);
    const context = cellContext(head, contest.id, null, null);
    out.sum_proof = proveSumInRange(cts, nonces, values, low, high, key, base, context).map(
      proofJson,
    );
  }
  return out;
}

// -- reading a ballot strictly (read_encrypted_ballot + check_form) ---------------------------

function exactKeys(value, required, optional, where) {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProtocolError('must be an object', where);
  }
  for (const k of required) if (!(k in value)) throw new ProtocolError(`${k} is missing`, where);
  for (const k of Object.keys(value)) {
    if (!required.includes(k) && !optional.includes(k)) {
      throw new ProtocolError(`unknown field ${k}`, where);
    }
  }
}

const HEADER_KEYS = ['v', 'election', 'ballot_id', 'test', 'category', 'group', 'contests'];

/** The ballot's points and proofs decoded, its shape checked against `entry`'s layout. */
function readBallot(pkg, entry, ballot) {
  exactKeys(ballot, HEADER_KEYS, [], 'ballot');
  if (ballot.v !== BALLOT_VERSION) throw new ProtocolError('not a version 2 ballot', 'ballot.v');
  if (!/^[0-9a-f]{32}$/.test(ballot.ballot_id)) {
    throw new ProtocolError('must be 16 bytes in lowercase hexadecimal', 'ballot.ballot_id');
  }
  if (typeof ballot.test !== 'boolean') throw new ProtocolError('not a boolean', 'ballot.test');
  if (ballot.election !== pkg.id) throw new ProtocolError(`not for election ${pkg.id}`, 'ballot');
  if (ballot.category !== entry.category || ballot.group !== (entry.group ?? null)) {
    throw new ProtocolError("the category or group is not the roll entry's", 'ballot');
  }
  const expected = contestsFor(pkg, entry.category);
  if (!Array.isArray(ballot.contests) || ballot.contests.length !== expected.length) {
    throw new ProtocolError(`must answer ${expected.length} contests`, 'ballot.contests');
  }
  return ballot.contests.map((enc, i) => readContest(pkg, entry, expected[i], enc, i));
}

function readContest(pkg, entry, contest, enc, index) {
  const where = `ballot.contests[${index}]`;
  const score = contest.kind === 'score';
  exactKeys(enc, score ? ['id', 'kind', 'cells'] : ['id', 'kind', 'cells', 'sum_proof'], [], where);
  if (enc.id !== contest.id || enc.kind !== contest.kind) {
    throw new ProtocolError(`expected contest ${contest.id} (${contest.kind})`, where);
  }
  const spots = contestLayout(pkg, contest, entry);
  if (!Array.isArray(enc.cells) || enc.cells.length !== spots.length) {
    throw new ProtocolError(`must have ${spots.length} cells`, where);
  }
  const cells = enc.cells.map((cell, i) => readCell(cell, spots[i], score, `${where}.cells[${i}]`));
  let sum = null;
  if (!score) {
    const [low, high] = sumRange(contest, spots.length);
    sum = branchesFromJson(enc.sum_proof, `${where}.sum_proof`);
    if (sum.length !== high - low + 1) {
      throw new ProtocolError(`the sum proof must have ${high - low + 1} branches`, where);
    }
  }
  return { contest, spots, cells, sum };
}

function readCell(cell, spot, score, where) {
  exactKeys(cell, ['option', 'ct', 'proof'], ['criterion'], where);
  if (cell.option !== spot.option || cell.criterion !== spot.criterion) {
    throw new ProtocolError("the cells are not this voter's options in the package's order", where);
  }
  const ct = cell.ct;
  if (!Array.isArray(ct) || ct.length !== 2) throw new ProtocolError('not a pair of points', where);
  const parsed = {
    alpha: pointFromHex(ct[0], `${where}.ct α`),
    beta: pointFromHex(ct[1], `${where}.ct β`),
  };
  const proof = score
    ? proofFromJson(cell.proof, `${where}.proof`)
    : branchesFromJson(cell.proof, `${where}.proof`);
  if (!score && proof.length !== 2) throw new ProtocolError('a {0,1} proof has two branches', where);
  return { ct: parsed, proof };
}

/** Every check the platform and the count make on a ballot for this roll entry: its form
 * (check_form) and every proof (verify_ballot_proofs). Throws ProtocolError naming the
 * contest and cell of the first failure; returns true. */
export function verifyBallot(pkg, entry, ballot) {
  const contests = readBallot(pkg, entry, ballot);
  const key = electionKey(pkg, ballot.test);
  const base = baseHash(pkg, ballot.test);
  const head = header(ballot);
  for (const { contest, spots, cells, sum } of contests) {
    cells.forEach(({ ct, proof }, i) => {
      const context = cellContext(head, contest.id, i, spots[i]);
      const where = `contest ${contest.id}, cell ${i}`;
      if (contest.kind === 'score') verifyRandomness(proof, ct, key, base, context, where);
      else verifyMembership(proof, ct, ZERO_ONE, key, base, context, where);
    });
    if (sum) {
      const [low, high] = sumRange(contest, spots.length);
      const context = cellContext(head, contest.id, null, null);
      const cts = cells.map((c) => c.ct);
      verifySumInRange(sum, cts, low, high, key, base, context, `contest ${contest.id}, sum`);
    }
  }
  return true;
}

// -- spoiled ballots (ballot.md §6) ----------------------------------------------------------

/** ballot_crypto.spoiled_body: the ballot, its randomness and the plaintext it holds. */
export function spoiledBody(ballot, nonces, plaintext) {
  return { ballot, nonces, plaintext: normalPlaintext(plaintext) };
}

/** Opens a spoiled body as the check page does: α = r·G, m·G = β − r·K, m by a walk over
 * 0..bound, the selections rebuilt, compared with the claimed plaintext. Returns the opened
 * plaintext; throws ProtocolError when anything differs. */
export function openSpoiled(pkg, entry, body) {
  exactKeys(body, ['ballot', 'nonces', 'plaintext'], [], 'spoiled');
  const contests = readBallot(pkg, entry, body.ballot);
  const key = electionKey(pkg, body.ballot.test);
  if (!Array.isArray(body.nonces) || body.nonces.length !== contests.length) {
    throw new ProtocolError('one list per contest', 'spoiled.nonces');
  }
  const selections = {};
  contests.forEach(({ contest, spots, cells }, c) => {
    const row = body.nonces[c];
    if (!Array.isArray(row) || row.length !== cells.length) {
      throw new ProtocolError('one nonce per cell', `spoiled.nonces[${c}]`);
    }
    const values = cells.map(({ ct }, i) =>
      openCell(contest, ct, scalarFromHex(row[i], `spoiled.nonces[${c}]`), key, i),
    );
    selections[contest.id] = selectionFromValues(contest, spots, values);
  });
  const ballot = body.ballot;
  const opened = normalPlaintext({
    v: 1,
    election: ballot.election,
    category: ballot.category,
    group: ballot.group,
    contests: selections,
  });
  if (canonicalize(opened) !== canonicalize(normalPlaintext(body.plaintext ?? {}))) {
    throw new ProtocolError(
      'the ciphertexts do not hold the choices written beside them: the ballot was encrypted ' +
        'with something other than what the voter chose',
    );
  }
  return opened;
}

function openCell(contest, ct, nonce, key, index) {
  const where = `contest ${contest.id}, cell ${index}`;
  if (!baseMul(nonce).equals(ct.alpha)) {
    throw new ProtocolError('the published randomness does not make this ciphertext', where);
  }
  const point = ct.beta.subtract(key.multiplyUnsafe(nonce));
  const G = baseMul(1n);
  let multiple = baseMul(0n);
  for (let m = 0; m <= cellBound(contest); m++) {
    if (multiple.equals(point)) return m;
    multiple = multiple.add(G);
  }
  throw new ProtocolError(`the cell holds no value in 0..${cellBound(contest)}`, where);
}

export { findContest };
