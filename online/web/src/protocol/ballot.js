// The v2 ballot's layout, plaintext rules, JSON form, hashes and keys (docs/spec/ballot.md
// §1-3; Python: kiosk/core/encrypted_ballot.py and kiosk/core/ballot.py). `pkg` is the election
// package's JSON (ElectionPackage.to_json()), `entry` the voter's roll entry
// {category, group, excluded}.
import { ProtocolError, pointFromHex, sha256, toHex, utf8, concat } from './group.js';
import { canonicalBytes, crockford32, groups } from './encoding.js';

export const BALLOT_VERSION = 2;
export const PLAINTEXT_VERSION = 1;
export const YESNO_ANSWERS = ['yes', 'no', 'blank'];
const FINGERPRINT_BYTES = 10;

/** The contests a category answers, in the package's order. */
export const contestsFor = (pkg, category) =>
  pkg.contests.filter((c) => c.categories.includes(category));

export function findContest(pkg, id, where) {
  const contest = pkg.contests.find((c) => c.id === id);
  if (!contest) throw new ProtocolError(`the package has no contest ${JSON.stringify(id)}`, where);
  return contest;
}

/** Options a voter of `group` may mark in `contest`: the group's (scope "group") or all,
 * less the voter's own proposals (ElectionPackage.eligible_options). */
export function eligibleOptions(pkg, contest, group, excluded) {
  const out = new Set(excluded ?? []);
  const pool =
    contest.scope === 'all' ? pkg.options : pkg.options.filter((o) => o.group === (group ?? ''));
  return pool.filter((o) => !out.has(o.id));
}

/** ballot.md §2: one contest's cells, {option, criterion?}. */
export function contestLayout(pkg, contest, entry) {
  if (contest.kind === 'yesno') return YESNO_ANSWERS.map((a) => ({ option: a }));
  const options = eligibleOptions(pkg, contest, entry.group, entry.excluded);
  if (contest.kind === 'score' && contest.criteria?.length) {
    return options.flatMap((o) => contest.criteria.map((c) => ({ option: o.id, criterion: c.id })));
  }
  return options.map((o) => ({ option: o.id }));
}

/** ballot.md §2 for a whole roll entry: [{contest, cells}] in the package's order. */
export const layout = (pkg, entry) =>
  contestsFor(pkg, entry.category).map((contest) => ({
    contest,
    cells: contestLayout(pkg, contest, entry),
  }));

/** What a choice or yes/no contest's cells may add up to (encrypted_ballot.sum_range). */
export function sumRange(contest, cells) {
  if (contest.kind === 'yesno') return [1, 1];
  return [contest.min, Math.min(contest.max, cells)];
}

/** The largest value a cell holds: 1, or max − min + 1 for a score. */
export const cellBound = (contest) =>
  contest.kind === 'score' ? contest.max - contest.min + 1 : 1;

// -- the plaintext ballot (kiosk/core/ballot.py) ---------------------------------------------

const byCodePoint = (a, b) => {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d;
  }
  return x.length - y.length;
};

/** Ballot.to_json: choice lists sorted, as the kiosk writes them. */
export function normalPlaintext(plaintext) {
  const contests = {};
  for (const [id, sel] of Object.entries(plaintext.contests ?? {})) {
    if (Array.isArray(sel)) contests[id] = [...sel].sort(byCodePoint);
    else if (sel && typeof sel === 'object') {
      contests[id] = Object.fromEntries(
        Object.entries(sel).map(([k, v]) => [k, v && typeof v === 'object' ? { ...v } : v]),
      );
    } else contests[id] = sel;
  }
  return {
    v: PLAINTEXT_VERSION,
    election: plaintext.election,
    category: plaintext.category,
    group: plaintext.group ?? null,
    contests,
  };
}

/** The contest rules (ballot.py check_contests and validate_ballot) for this roll entry. */
export function checkPlaintext(pkg, entry, plaintext) {
  if (plaintext?.v !== PLAINTEXT_VERSION) throw new ProtocolError('unsupported ballot version');
  if (plaintext.election !== pkg.id) {
    throw new ProtocolError(`the ballot is for election ${plaintext.election}, not ${pkg.id}`);
  }
  if (plaintext.category !== entry.category || (plaintext.group ?? null) !== (entry.group ?? null)) {
    throw new ProtocolError("the ballot's category or group is not the voter's roll entry's");
  }
  const expected = contestsFor(pkg, entry.category).map((c) => c.id);
  const given = Object.keys(plaintext.contests ?? {});
  if (expected.length !== given.length || !expected.every((id) => given.includes(id))) {
    throw new ProtocolError(`the ballot must answer exactly the contests ${expected.join(', ')}`);
  }
  for (const id of expected) checkSelection(pkg, entry, findContest(pkg, id), plaintext.contests[id]);
}

function checkSelection(pkg, entry, contest, sel) {
  const allowed = new Set(eligibleOptions(pkg, contest, entry.group, entry.excluded).map((o) => o.id));
  const fail = (message) => new ProtocolError(message, `contest ${contest.id}`);
  const onlyAllowed = (ids) => {
    for (const id of ids) if (!allowed.has(id)) throw fail(`option ${id} is not on this ballot`);
  };
  if (contest.kind === 'choice') {
    if (!Array.isArray(sel) || !sel.every((o) => typeof o === 'string')) {
      throw fail('a choice is a list of option ids');
    }
    if (new Set(sel).size !== sel.length) throw fail('an option is chosen twice');
    if (sel.length < contest.min || sel.length > contest.max) {
      throw fail(`choose between ${contest.min} and ${contest.max}, found ${sel.length}`);
    }
    onlyAllowed(sel);
  } else if (contest.kind === 'score') {
    if (!sel || typeof sel !== 'object' || Array.isArray(sel)) throw fail('scores are a mapping');
    onlyAllowed(Object.keys(sel));
    for (const [option, score] of Object.entries(sel)) checkScore(contest, option, score, fail);
  } else if (!YESNO_ANSWERS.includes(sel)) {
    throw fail(`the answer must be one of ${YESNO_ANSWERS.join(', ')}`);
  }
}

function checkScore(contest, option, score, fail) {
  const inRange = (value, where) => {
    if (!Number.isInteger(value)) throw fail(`${where}: a score is a whole number`);
    if (value < contest.min || value > contest.max) {
      throw fail(`${where}: score ${value} is outside ${contest.min}..${contest.max}`);
    }
  };
  if (!contest.criteria?.length) return inRange(score, option);
  const names = contest.criteria.map((c) => c.id);
  const given = score && typeof score === 'object' ? Object.keys(score) : [];
  if (given.length !== names.length || !names.every((n) => given.includes(n))) {
    throw fail(`${option}: give a score for each criterion (${names.join(', ')})`);
  }
  for (const [criterion, value] of Object.entries(score)) inRange(value, `${option}/${criterion}`);
}

/** encrypted_ballot.cell_values: the plaintext of each cell. */
export function cellValues(contest, cells, sel) {
  if (contest.kind === 'choice') return cells.map((s) => (sel.includes(s.option) ? 1 : 0));
  if (contest.kind === 'yesno') return cells.map((s) => (s.option === sel ? 1 : 0));
  return cells.map((s) => {
    let given = sel[s.option];
    if (given && typeof given === 'object') given = given[s.criterion ?? ''];
    return given === undefined || given === null ? 0 : given - contest.min + 1;
  });
}

/** encrypted_ballot.selection_from_values: the inverse, for an opened (spoiled) ballot. */
export function selectionFromValues(contest, cells, values) {
  const fail = (message) => new ProtocolError(message, `contest ${contest.id}`);
  if (contest.kind === 'choice') {
    if (values.some((v) => v !== 0 && v !== 1)) throw fail('a choice cell is neither 0 nor 1');
    return cells.filter((_, i) => values[i]).map((s) => s.option).sort(byCodePoint);
  }
  if (contest.kind === 'yesno') {
    if (values.filter((v) => v === 1).length !== 1 || values.some((v) => v > 1)) {
      throw fail('the yes/no cells are not one answer');
    }
    return cells[values.indexOf(1)].option;
  }
  const scores = {};
  cells.forEach((s, i) => {
    const v = values[i];
    if (v === 0) return;
    if (v < 1 || v > cellBound(contest)) throw fail(`a score cell holds ${v}, out of range`);
    const score = v + contest.min - 1;
    if (s.criterion === undefined) scores[s.option] = score;
    else (scores[s.option] ??= {})[s.criterion] = score;
  });
  return scores;
}

// -- keys, hashes, contexts -------------------------------------------------------------------

/** ballot.md §1: K for official ballots, the package's public test key for test ballots. */
export function electionKeyHex(pkg, test) {
  const hex = test ? pkg.keys?.test?.key : pkg.election_key?.key;
  if (!hex) {
    throw new ProtocolError(test ? 'the package has no test key' : 'the package has no election key');
  }
  return hex;
}

const keyCache = new Map();

/** The key as a point with its multiples precomputed (it is multiplied for every cell). */
export function electionKey(pkg, test) {
  const hex = electionKeyHex(pkg, test);
  if (!keyCache.has(hex)) keyCache.set(hex, pointFromHex(hex, 'election key').precompute(8, false));
  return keyCache.get(hex);
}

/** ballot.md §1: base_hash = SHA256("hanpyo/v2/base-hash\n" || canonical({...})). */
export function baseHash(pkg, test) {
  const ceremony = pkg.election_key ?? null;
  return sha256(
    concat(
      utf8('hanpyo/v2/base-hash\n'),
      canonicalBytes({
        election: pkg.id,
        key: electionKeyHex(pkg, test),
        test,
        setup_hash: ceremony ? ceremony.setup_hash : null,
        transcript_hash: ceremony ? ceremony.transcript_hash : null,
      }),
    ),
  );
}

export const header = (ballot) => ({
  v: ballot.v,
  election: ballot.election,
  ballot_id: ballot.ballot_id,
  test: ballot.test,
  category: ballot.category,
  group: ballot.group,
});

/** ballot.md §4: the context of cell `index` (null, null: the contest's sum proof). */
export function cellContext(head, contestId, index, spot) {
  return canonicalBytes({
    ballot: head,
    contest: contestId,
    cell: index,
    option: spot ? spot.option : null,
    criterion: spot ? (spot.criterion ?? null) : null,
  });
}

/** ballot.md §3: SHA256(canonical(ballot)). */
export const ballotHash = (ballot) => sha256(canonicalBytes(ballot));

/** ballot.md §3: Crockford base-32 of the hash's first 10 bytes, in groups of four. */
export const fingerprint = (ballot) =>
  groups(crockford32(ballotHash(ballot).slice(0, FINGERPRINT_BYTES)), 4);

export { toHex };
