"""Cross-language vectors for the online channel: the voting page's JavaScript (bundled by
esbuild exactly as the browser gets it, run under Node) and the kiosk's Python must agree on
every byte. Ballots the page encrypts, proves and signs pass every check the platform and the
count make in Python; ballots the kiosk's Python makes pass the page's own verifier; a checked
(spoiled) ballot opens on either side; a tampered ballot or a lying check is refused by both;
the credential key and the sign-in signature are the ones Python derives and verifies; and
tests/data/online_vectors.json holds on both sides."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.ballot_crypto import (
    BallotProofError,
    encrypt_ballot,
    open_spoiled,
    spoiled_body,
    verify_ballot_proofs,
)
from kiosk.core.crypto import Domain, SigningKey, sha256, verify_signature
from kiosk.core.election import RollEntry, public_part, sign_package
from kiosk.core.encoding import b64d, b64e, canonical_json
from kiosk.core.encrypted_ballot import (
    BallotFormError,
    card_message,
    check_form,
    read_encrypted_ballot,
)
from kiosk.core.errors import BallotError, VerificationError
from kiosk.core.online_credential import credential_key
from kiosk.core.verifiable.group import G, Point
from ledger.publish.credential_letters import election_check
from testkit.ceremony_results import simulated_result, with_ceremony_key
from testkit.elections import SyntheticElection, build_election, mixed_definition, random_ballot
from testkit.online_web import run_node

VECTORS = Path(__file__).parents[1] / "data" / "online_vectors.json"
CODE = "R2D2C-3P0QX-7K3QD-4F8ZX"
# (case, roll, category): official ballots of each kind of contest, and a test-mode ballot
CASES = [
    ("resident", "roll", "resident"),  # a score contest and a yes/no question
    ("expert", "roll", "expert"),  # a score contest and one scored by criteria
    ("online", "roll", "online"),  # the online members' "likes": a choice contest
    ("test", "test_roll", None),  # a test ballot under the package's public test key
]


@pytest.fixture(scope="module")
def election() -> SyntheticElection:
    synthetic = build_election(mixed_definition(election_id="online-vectors"), seed="vectors")
    return with_ceremony_key(synthetic, simulated_result(synthetic.package.id, 3, 2))


def _entry(election: SyntheticElection, roll: str, category: str | None) -> RollEntry:
    entries: tuple[RollEntry, ...] = getattr(election.package, roll)
    return next(e for e in entries if category is None or e.category == category)


def _entry_json(entry: RollEntry) -> dict[str, Any]:
    return {"category": entry.category, "group": entry.group, "excluded": sorted(entry.excluded)}


def _plaintext(election: SyntheticElection, roll: str, entry: RollEntry, seed: int) -> Any:
    package = election.package
    find = package.test_voter_for_card if roll == "test_roll" else package.voter_for_card
    voter = find(entry.keys[0])
    assert voter is not None
    return random_ballot(package, voter, random.Random(seed))


@pytest.fixture(scope="module")
def cases(election: SyntheticElection) -> dict[str, dict[str, Any]]:
    out = {}
    for i, (name, roll, category) in enumerate(CASES):
        entry = _entry(election, roll, category)
        plaintext = _plaintext(election, roll, entry, i)
        assert entry.voter_id is not None
        out[name] = {
            "entry": _entry_json(entry),
            "roll_entry": entry,
            "voter": entry.voter_id.hex(),
            "test": roll == "test_roll",
            "plaintext": plaintext.to_json(),
            "ballot": plaintext,
        }
    return out


_MAKE = """
const { seed } = hanpyo.deriveCredential(input.code, input.pkg.id);
const out = {};
for (const [name, c] of Object.entries(input.cases)) {
  const cast = hanpyo.encryptBallot(input.pkg, c.entry, c.plaintext, { test: c.test });
  const checked = hanpyo.encryptBallot(input.pkg, c.entry, c.plaintext, { test: c.test });
  out[name] = {
    body: hanpyo.castBody(seed, input.pkg.id, c.voter, cast.ballot),
    hash: hex(hanpyo.ballotHash(cast.ballot)),
    fingerprint: hanpyo.fingerprint(cast.ballot),
    spoiled: hanpyo.spoiledBody(checked.ballot, checked.nonces, c.plaintext),
  };
}
out.session = hanpyo.b64e(hanpyo.sessionSignature(seed, input.pkg.id, unhex(input.challenge)));
output(out);
"""

CHALLENGE = bytes(range(100, 132))


@pytest.fixture(scope="module")
def page_made(election: SyntheticElection, cases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every case's ballot as the page casts it (signed with the code's key) and as it spoils
    a second one, and a sign-in signature, in one run of the bundled module."""
    shown = {
        n: {k: c[k] for k in ("entry", "voter", "test", "plaintext")} for n, c in cases.items()
    }
    made: dict[str, Any] = run_node(
        _MAKE,
        {
            "code": CODE,
            "pkg": election.package.to_json(),
            "cases": shown,
            "challenge": CHALLENGE.hex(),
        },
    )
    return made


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_a_ballot_made_in_the_page_passes_every_check_in_python(
    election: SyntheticElection,
    cases: dict[str, dict[str, Any]],
    page_made: dict[str, Any],
    name: str,
) -> None:
    case, made = cases[name], page_made[name]
    body = made["body"]
    assert set(body) == {"voter", "ballot", "card_key", "card_sig"}
    assert body["voter"] == case["voter"]
    ballot = read_encrypted_ballot(body["ballot"])
    entry: RollEntry = case["roll_entry"]
    check_form(
        election.package, ballot, entry.category, entry.group, entry.excluded, test=case["test"]
    )
    verify_ballot_proofs(election.package, ballot)
    # the tracking code the page shows is the one the ledger's check page shows
    assert ballot.hash.hex() == made["hash"]
    assert ballot.fingerprint == made["fingerprint"]
    # the page's signature is the card's signature by the key the letter's code gives
    key = credential_key(CODE, election.package.id).public_key
    assert body["card_key"] == b64e(key)
    message = card_message(election.package.id, bytes.fromhex(body["voter"]), ballot.hash)
    verify_signature(Domain.BALLOT, key, message, b64d(body["card_sig"], length=64))


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_a_ballot_checked_in_the_page_opens_in_python(
    election: SyntheticElection,
    cases: dict[str, dict[str, Any]],
    page_made: dict[str, Any],
    name: str,
) -> None:
    opened = open_spoiled(election.package, page_made[name]["spoiled"])
    assert opened.plaintext.plaintext() == cases[name]["ballot"].plaintext()
    assert opened.ballot.test is cases[name]["test"]


def test_the_sign_in_signature_verifies_in_python(
    election: SyntheticElection, page_made: dict[str, Any]
) -> None:
    key = credential_key(CODE, election.package.id).public_key
    signature = b64d(page_made["session"], length=64)
    message = election.package.id.encode() + b"\n" + CHALLENGE
    verify_signature(Domain.ONLINE_SESSION, key, message, signature)
    with pytest.raises(VerificationError):  # not for another election, not as a ballot
        verify_signature(Domain.ONLINE_SESSION, key, b"other\n" + CHALLENGE, signature)
    with pytest.raises(VerificationError):
        verify_signature(Domain.BALLOT, key, message, signature)


# -- the election's public part: signed in Python, confirmed in the page (review F3) ----------

_PUBLIC = """
const attempt = (f) => { try { f(); return "ok"; } catch (e) { return e.name; } };
const out = {};
for (const [name, c] of Object.entries(input.cases)) {
  out[name] = attempt(() => hanpyo.verifyPublicPart(c.part, c.signature, c.authority));
}
out.roll_hash = hanpyo.rollHash(input.roll);
out.test_roll = attempt(() => hanpyo.testRollKeys(input.cases.signed.part, input.test_roll));
out.test_roll_tampered = attempt(
  () => hanpyo.testRollKeys(input.cases.signed.part, input.test_roll.slice(1)));
out.check = hanpyo.electionCheck(input.cases.signed.authority, input.cases.signed.part.id);
out.typed = hanpyo.normalizeCheck(input.typed);
output(out);
"""


def test_the_page_confirms_a_public_part_python_signed_and_refuses_a_tampered_one(
    election: SyntheticElection,
) -> None:
    signed = sign_package(election.package, election.authority).to_json()
    part = public_part(election.package)
    authority = b64e(election.authority.public_key)
    good = {"part": part, "signature": signed["public_signature"], "authority": authority}
    other_key = part["election_key"] | {"key": (G * 5).hex()}
    other = SigningKey(sha256(b"another authority"))
    forged = part | {"election_key": other_key}
    cases = {
        "signed": good,
        "election_key": good | {"part": part | {"election_key": other_key}},
        "changed_roll_hash": good | {"part": part | {"roll_hash": sha256(b"x").hex()}},
        "election_id": good | {"part": part | {"id": "another-election"}},
        "package_signature": good | {"signature": signed["signature"]},  # the other domain
        "other_authority": good | {"authority": b64e(other.public_key)},
        "signed_by_other": {
            "part": forged,
            "signature": b64e(other.sign(Domain.ELECTION_PUBLIC, canonical_json(forged))),
            "authority": b64e(other.public_key),
        },
    }
    check = election_check(election.authority.public_key, election.package.id)
    roll = [e.to_json() for e in election.package.roll]
    test_roll = [e.to_json() for e in election.package.test_roll]
    assert len(test_roll) > 1
    got = run_node(
        _PUBLIC,
        {
            "cases": cases,
            "roll": roll,
            "test_roll": test_roll,
            "typed": check.lower().replace("-", " "),
        },
    )
    assert got["signed"] == "ok"
    for name in cases.keys() - {"signed", "signed_by_other"}:
        assert got[name] == "ProtocolError", name
    # a platform's own authority key verifies its own signature: only the letter's key (or
    # its election check) tells the page which key is the authority's
    assert got["signed_by_other"] == "ok"
    assert got["roll_hash"] == part["roll_hash"]
    assert (got["test_roll"], got["test_roll_tampered"]) == ("ok", "ProtocolError")
    assert got["check"] == check and got["typed"] == check


# -- the other way: the kiosk's ballots in the page's verifier ---------------------------------

_CHECK = """
const out = {};
for (const [name, c] of Object.entries(input.cases)) {
  out[name] = {
    verified: hanpyo.verifyBallot(input.pkg, c.entry, c.ballot),
    hash: hex(hanpyo.ballotHash(c.ballot)),
    fingerprint: hanpyo.fingerprint(c.ballot),
    opened: hanpyo.openSpoiled(input.pkg, c.entry, c.spoiled),
  };
}
output(out);
"""


def test_ballots_made_by_the_kiosk_pass_the_pages_checks(
    election: SyntheticElection, cases: dict[str, dict[str, Any]]
) -> None:
    package = election.package
    shown, made = {}, {}
    for name, case in cases.items():
        entry: RollEntry = case["roll_entry"]
        ballot, secrets = encrypt_ballot(package, case["ballot"], entry.excluded, test=case["test"])
        made[name] = ballot
        shown[name] = {
            "entry": case["entry"],
            "ballot": ballot.to_json(),
            "spoiled": spoiled_body(ballot, secrets),
        }
    result = run_node(_CHECK, {"pkg": package.to_json(), "cases": shown})
    for name, ballot in made.items():
        assert result[name]["verified"] is True
        assert result[name]["hash"] == ballot.hash.hex()
        assert result[name]["fingerprint"] == ballot.fingerprint
        assert canonical_json(result[name]["opened"]) == cases[name]["ballot"].plaintext()


# -- tampering -----------------------------------------------------------------------------------

_VERIFY_ALL = """
const out = {};
for (const [name, v] of Object.entries(input.variants)) {
  try {
    out[name] = v.spoiled
      ? { ok: hanpyo.openSpoiled(input.pkg, input.entry, v.spoiled) && true }
      : { ok: hanpyo.verifyBallot(input.pkg, input.entry, v.ballot) };
  } catch (e) {
    out[name] = { ok: false, error: e.name, message: e.message };
  }
}
output(out);
"""


def _flip(ballot: dict[str, Any]) -> dict[str, Any]:
    """One cell's β moved by G: the cell now holds one more (a 0 becomes a 1)."""
    out = copy.deepcopy(ballot)
    ct = out["contests"][0]["cells"][0]["ct"]
    ct[1] = (Point.from_hex(ct[1]) + G).hex()
    return out


def _swap(ballot: dict[str, Any], field: str) -> dict[str, Any]:
    """Cells 0 and 1 of the first contest exchange their proofs (or their ciphertexts)."""
    out = copy.deepcopy(ballot)
    cells = out["contests"][0]["cells"]
    cells[0][field], cells[1][field] = cells[1][field], cells[0][field]
    return out


def _new_id(ballot: dict[str, Any]) -> dict[str, Any]:
    """The same cells under another ballot id: every proof's context changes (a replay)."""
    return copy.deepcopy(ballot) | {"ballot_id": "ab" * 16}


@pytest.mark.parametrize("name", ["online", "resident"])
def test_a_tampered_page_ballot_is_refused_in_python_and_in_the_page(
    election: SyntheticElection,
    cases: dict[str, dict[str, Any]],
    page_made: dict[str, Any],
    name: str,
) -> None:
    original = page_made[name]["body"]["ballot"]
    variants = {
        "flipped cell": _flip(original),
        "swapped proofs": _swap(original, "proof"),
        "swapped ciphertexts": _swap(original, "ct"),
        "replayed under another id": _new_id(original),
    }
    for tampered in variants.values():
        with pytest.raises(BallotProofError):
            verify_ballot_proofs(election.package, read_encrypted_ballot(tampered))
    # the card signature covers the ballot hash: it no longer verifies either
    key = credential_key(CODE, election.package.id).public_key
    flipped = read_encrypted_ballot(variants["flipped cell"])
    message = card_message(election.package.id, bytes.fromhex(cases[name]["voter"]), flipped.hash)
    with pytest.raises(VerificationError):
        verify_signature(Domain.BALLOT, key, message, b64d(page_made[name]["body"]["card_sig"]))
    in_page = run_node(
        _VERIFY_ALL,
        {
            "pkg": election.package.to_json(),
            "entry": cases[name]["entry"],
            "variants": {w: {"ballot": b} for w, b in variants.items()}
            | {"original": {"ballot": original}},
        },
    )
    assert in_page["original"] == {"ok": True}
    for what in variants:
        assert in_page[what]["ok"] is False, what
        assert in_page[what]["error"] == "ProtocolError", in_page[what]


def test_a_check_that_lies_is_caught_in_python_and_in_the_page(
    election: SyntheticElection, cases: dict[str, dict[str, Any]], page_made: dict[str, Any]
) -> None:
    """A page (or kiosk) that encrypted something other than the voter's choice and says
    otherwise beside it: the opened ciphertexts contradict the plaintext on both sides."""
    case = cases["online"]
    spoiled = copy.deepcopy(page_made["online"]["spoiled"])
    chosen = spoiled["plaintext"]["contests"]["likes"]
    eligible = [c["option"] for c in spoiled["ballot"]["contests"][0]["cells"]]
    spoiled["plaintext"]["contests"]["likes"] = sorted(set(eligible) - set(chosen))[:1] or []
    assert spoiled["plaintext"]["contests"]["likes"] != chosen
    with pytest.raises(BallotError, match="do not hold the choices"):
        open_spoiled(election.package, spoiled)
    wrong_nonce = copy.deepcopy(page_made["online"]["spoiled"])
    wrong_nonce["nonces"][0][0] = "01" + "00" * 31
    with pytest.raises(BallotError, match="randomness does not make"):
        open_spoiled(election.package, wrong_nonce)
    in_page = run_node(
        _VERIFY_ALL,
        {
            "pkg": election.package.to_json(),
            "entry": case["entry"],
            "variants": {"lie": {"spoiled": spoiled}, "nonce": {"spoiled": wrong_nonce}},
        },
    )
    assert "do not hold the choices" in in_page["lie"]["message"]
    assert "randomness does not make" in in_page["nonce"]["message"]


_REFUSE = """
const out = {};
const attempt = (name, f) => {
  try { f(); out[name] = { ok: true }; }
  catch (e) {
    out[name] = { ok: false, error: e.name, message: e.message, user: e.userMessage ?? null };
  }
};
attempt('own', () => hanpyo.encryptBallot(input.pkg, input.entry, input.own));
attempt('many', () => hanpyo.encryptBallot(input.pkg, input.entry, input.many));
attempt('short', () => hanpyo.normalizeCode('R2D2C-3P0QX-7K3QD-4F8Z'));
attempt('symbol', () => hanpyo.normalizeCode('R2D2C-3P0QX-7K3QD-4F8Z*'));
output(out);
"""


def test_the_page_refuses_what_the_kiosk_refuses(
    election: SyntheticElection, cases: dict[str, dict[str, Any]]
) -> None:
    """The voter's own proposal, more likes than the contest allows, a mistyped code: refused
    before anything is encrypted, the code's errors in Korean and English."""
    case = cases["online"]
    likes = next(c for c in election.package.contests if c.id == "likes")
    own = copy.deepcopy(case["plaintext"]) | {"contests": {"likes": case["entry"]["excluded"]}}
    group_options = [o.id for o in election.package.options if o.group == case["entry"]["group"]]
    many = copy.deepcopy(case["plaintext"])
    many["contests"]["likes"] = group_options * (likes.max + 1)
    result = run_node(
        _REFUSE,
        {"pkg": election.package.to_json(), "entry": case["entry"], "own": own, "many": many},
    )
    assert "is not on this ballot" in result["own"]["message"]
    assert result["many"]["ok"] is False
    assert result["short"]["error"] == "CredentialError"
    assert "19자" in result["short"]["user"]["ko"]
    assert "you entered 19" in result["short"]["user"]["en"]
    assert "글자" in result["symbol"]["user"]["ko"]
    assert "not used in codes" in result["symbol"]["user"]["en"]


# -- the fixed vector file ---------------------------------------------------------------------

_VECTORS = """
const r = { canonical: [], credentials: [] };
for (const c of input.canonical) {
  r.canonical.push([hanpyo.canonicalize(c.value), hex(hanpyo.ballotHash(c.value))]);
}
r.ballot = [hex(hanpyo.ballotHash(input.ballot.ballot)), hanpyo.fingerprint(input.ballot.ballot)];
r.base = [false, true].map((t) => hex(hanpyo.baseHash(input.base_hash.package, t)));
const s = input.signatures;
const signed = hanpyo.signBallot(unhex(s.seed), s.election, s.voter, input.ballot.ballot);
r.signatures = [signed.card_key, signed.card_sig,
  hanpyo.b64e(hanpyo.sessionSignature(unhex(s.seed), s.election, unhex(s.challenge)))];
for (const c of input.credentials) {
  const d = hanpyo.deriveCredential(c.typed, c.election);
  r.credentials.push([hanpyo.normalizeCode(c.typed), hex(d.seed), hex(d.publicKey)]);
}
output(r);
"""


def _vectors() -> dict[str, Any]:
    vectors: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return vectors


def test_the_vector_file_holds_in_the_page() -> None:
    v = _vectors()
    result = run_node(_VECTORS, v)
    assert result["canonical"] == [[c["canonical"], c["sha256"]] for c in v["canonical"]]
    assert result["ballot"] == [v["ballot"]["hash"], v["ballot"]["fingerprint"]]
    assert result["base"] == [v["base_hash"]["official"], v["base_hash"]["test"]]
    s = v["signatures"]
    assert result["signatures"] == [s["public_key"], s["card_sig"], s["session_sig"]]
    assert result["credentials"] == [
        [c["normalized"], c["seed"], c["public_key"]] for c in v["credentials"]
    ]


def test_the_vector_file_holds_in_python() -> None:
    v = _vectors()
    for c in v["canonical"]:
        assert canonical_json(c["value"]).decode() == c["canonical"]
        assert sha256(canonical_json(c["value"])).hex() == c["sha256"]
    ballot = read_encrypted_ballot(v["ballot"]["ballot"])
    assert ballot.hash.hex() == v["ballot"]["hash"]
    assert ballot.fingerprint == v["ballot"]["fingerprint"]
    s = v["signatures"]
    key = SigningKey(bytes.fromhex(s["seed"]))
    assert b64e(key.public_key) == s["public_key"]
    message = card_message(s["election"], bytes.fromhex(s["voter"]), ballot.hash)
    assert b64e(key.sign(Domain.BALLOT, message)) == s["card_sig"]  # Ed25519 is deterministic
    session = s["election"].encode() + b"\n" + bytes.fromhex(s["challenge"])
    assert b64e(key.sign(Domain.ONLINE_SESSION, session)) == s["session_sig"]
    for c in v["credentials"]:
        assert credential_key(c["typed"], c["election"]).public_key.hex() == c["public_key"]


def _with_cell(ballot: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    """The first cell's α (``ct``) or its proof's first challenge (``c``) replaced."""
    out = copy.deepcopy(ballot)
    cell = out["contests"][0]["cells"][0]
    if field == "ct":
        cell["ct"][0] = value
    else:
        cell["proof"][0]["c"] = value
    return out


def test_non_canonical_points_and_scalars_are_refused_by_both(
    election: SyntheticElection, cases: dict[str, dict[str, Any]], page_made: dict[str, Any]
) -> None:
    """RFC 9496 A.2's invalid encodings in a ciphertext and out-of-range or misspelled scalars
    in a proof: both decoders refuse the ballot before any proof is checked."""
    v = _vectors()
    original = page_made["online"]["body"]["ballot"]
    variants = {f"point {p}": _with_cell(original, "ct", p) for p in v["invalid_points"]["values"]}
    variants |= {
        f"scalar {s}": _with_cell(original, "c", s) for s in v["invalid_scalars"]["values"]
    }
    for what, ballot in variants.items():
        with pytest.raises(BallotFormError):
            read_encrypted_ballot(ballot)
            pytest.fail(f"Python read {what}")
    in_page = run_node(
        _VERIFY_ALL,
        {
            "pkg": election.package.to_json(),
            "entry": cases["online"]["entry"],
            "variants": {w: {"ballot": b} for w, b in variants.items()},
        },
    )
    for what in variants:
        assert in_page[what]["ok"] is False, what
        assert in_page[what]["error"] == "ProtocolError", in_page[what]
        assert "cells[0]" in in_page[what]["message"], in_page[what]
