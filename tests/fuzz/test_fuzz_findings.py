"""Each finding of the fuzz campaigns (fuzz/REPORT.md), minimised, shown exactly: the input
that the target reported, and the behaviour a user would meet."""

from __future__ import annotations

import base64
import json
import socket
import zipfile
from pathlib import Path

import pytest

from fuzz import targets_cli, targets_core, targets_ledger, targets_sync, world
from kiosk.core.checkpoint import NoteVerifier, open_note
from kiosk.core.crypto import SigningKey, kiosk_id_for
from kiosk.core.encoding import b64e, canonical_json, parse_json
from kiosk.core.errors import EncodingError
from kiosk.core.export import ExportError, read_manifest
from ledger.verify.bundle import BundleError, verify_bundle
from testkit.elections import SyntheticElection
from testkit.ledger_requests import authorization, enrol, signed_post
from testkit.ledger_server import LedgerServer


def _input(text: str) -> bytes:
    return base64.b64decode(text)


# F1: a note key name that is not UTF-8 (a command-line argument with invalid UTF-8 reaches
# Python as lone surrogates) crashed NoteVerifier.parse with UnicodeEncodeError.
F1 = (
    "AmZ1gHoudGVzdC9oYW5weW8rNzkyMmNjZDErQVF4aWttemZsUHlmVHEzUnpnL3lSbFltN1hHSmZ2amhGRXhp"
    "MlNDTWcwYTA="
)


def test_f1_the_fuzz_input_is_refused_cleanly() -> None:
    targets_core.checkpoint(_input(F1))


def test_f1_a_verifier_key_name_that_is_not_utf8_is_refused() -> None:
    vkey = _input(F1)[1:].decode("utf-8", "surrogateescape")
    with pytest.raises(EncodingError, match="note key name"):
        NoteVerifier.parse(vkey)
    with pytest.raises(EncodingError, match="note key name"):
        open_note("text\n\n\u2014 a b\n", ("fu\udc80z", bytes(32)))


# F3: canonical JSON of a large float (2.002222222222222e17) is RFC 8785's "200222222222222200",
# which parse_json reads as an integer that canonical_json then refused: the canonical form of
# a value could not be canonicalised again.
F3 = (
    "AHsibWV0aG9kIjogeyJraW9zayI6IHsid2VpcnMiOiAyMDAyMjIyMjIyMjIyMjIyMjIuMjIyMn19LCAiZHJzIjog"
    "dHJ1ZSwgInRpZWFrIjogImxvd2VzdCBvcHRpb24gaWQifQ=="
)


def test_f3_the_fuzz_input_round_trips() -> None:
    targets_core.encoding(_input(F3))


@pytest.mark.parametrize("number", [2.002222222222222e17, 1e21, -9.007199254740993e15, 1e300])
def test_f3_canonical_json_of_a_float_is_a_fixed_point(number: float) -> None:
    once = canonical_json({"x": number})
    assert canonical_json(parse_json(once)) == once
    assert float(parse_json(once)["x"]) == number


def test_f3_an_integer_no_double_prints_as_is_still_refused() -> None:
    with pytest.raises(EncodingError):
        canonical_json(2**53 + 1)  # rounds to another number: refused, never changed


# F2: a kiosk write whose query string is not UTF-8 passes the header checks (a well-formed
# header naming any enrolled kiosk, no valid signature needed), then request.url fails to
# decode it in kiosk_auth (ledger/web/api.py): in-process, an exception instead of a refusal.
# `ledger serve` runs uvicorn with h11, which refuses such a request line with 400 before the
# app sees it; this test keeps it so. Served by an ASGI server that passes raw bytes through
# (uvicorn with httptools), the app answered 500; kiosk_auth now reads the raw query and refuses it.


def _raw_request(server: LedgerServer, head: bytes, body: bytes) -> int:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(head + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        status_line = conn.makefile("rb").readline()
    return int(status_line.split()[1])


def test_f2_the_ledger_refuses_a_query_string_that_is_not_utf8(
    tmp_path: Path, election: SyntheticElection
) -> None:
    key = SigningKey.generate()
    path = f"/v1/kiosks/{kiosk_id_for(key.public_key)}/heartbeat"
    with LedgerServer(tmp_path / "ledger", election) as server:
        enrol(server, key, "kiosk with a bad query")
        header = authorization(key, "POST", path + "?x", b"{}", origin=server.origin)
        head = (
            b"POST " + path.encode() + b"?\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nAuthorization: " + header.encode()
        )
        assert _raw_request(server, head, b"{}") == 400


# F4: `kiosk cards enrol-batch` takes a staff name of any length into the roll, but the election
# package refuses names over 200 characters: the enrolment office learns of it only when the
# authority builds the package. add_staff (kiosk/core/roll.py) now refuses what the package
# would refuse.


def test_f4_enrol_batch_refuses_a_staff_name_the_package_would_refuse() -> None:
    key = b64e(SigningKey(bytes(range(32))).public_key)
    rows = [{"name": "A" * 201, "role": "poll_worker", "card_key": key}]
    targets_cli.enrol_csv(targets_cli.csv_seed(rows))


# F5: read_manifest took any JSON that int() and str() could turn into a manifest: "first": "0",
# 1.5 or true, a dict as the kiosk id, extra fields, no "v" or "kind". The signature is checked
# over the manifest as re-encoded, so a file could carry unsigned fields that a person reading
# it would take for the kiosk's. Now the manifest reads only as export_bytes writes it.


def _manifest(**change: object) -> bytes:
    head = world.export_file().split(b"\n")[0]
    document = parse_json(head)
    for key, value in change.items():
        if value is None:
            del document[key]
        else:
            document[key] = value
    return json.dumps(document).encode()  # as written: 0.0 stays 0.0


@pytest.mark.parametrize(
    "change",
    [
        {"first": "0"},
        {"first": 0.0},
        {"last": True},
        {"kiosk": {"id": 1}},
        {"note": "approved by the election office"},
        {"v": None},
        {"kind": None},
        {"v": 2},
        {"first": -1},
    ],
    ids=str,
)
def test_f5_a_manifest_reads_only_as_the_kiosk_writes_it(change: dict[str, object]) -> None:
    with pytest.raises(ExportError):
        read_manifest(_manifest(**change))


def test_f5_the_real_manifest_still_reads() -> None:
    manifest, signature = read_manifest(_manifest())
    assert (manifest.first, len(signature)) == (0, 64)


# F6: a heartbeat whose version is a lone surrogate ("\\ud800" in the JSON) was accepted, then
# could not be stored (SQLite takes UTF-8 only): the kiosk got a server error. The ledger now
# refuses it with the field at fault, and a kiosk's next good heartbeat is stored as before.


def test_f6_the_fuzz_input_is_refused_cleanly() -> None:
    beat = world.heartbeat() | {"version": "\ud800"}
    targets_core.heartbeat(json.dumps(beat).encode())


def test_f6_a_heartbeat_that_is_not_utf8_is_refused_and_the_next_one_stored(
    tmp_path: Path, election: SyntheticElection
) -> None:
    key = SigningKey.generate()
    path = f"/v1/kiosks/{kiosk_id_for(key.public_key)}/heartbeat"
    with LedgerServer(tmp_path / "ledger", election) as server:
        enrol(server, key, "kiosk with a bad version")
        bad = signed_post(server, key, path, world.heartbeat() | {"version": "0.1\ud800"})
        assert bad.status_code == 422, bad.text
        assert "heartbeat.version" in bad.json()["detail"]
        good = signed_post(server, key, path, world.heartbeat())
        assert good.status_code == 200, good.text


# F7 (schemathesis): a JSON body FastAPI cannot decode gets FastAPI's own 400 {"detail": ...},
# which is neither in the OpenAPI document nor in the ledger's refusal shape {"reason", "detail"}
# that kiosks and scripts read. The API now answers it in the ledger's shape (422 bad_request).


def test_f7_a_body_that_is_not_utf8_gets_a_refusal_in_the_ledgers_shape(
    tmp_path: Path, election: SyntheticElection
) -> None:
    key = SigningKey.generate()
    path = f"/v1/kiosks/{kiosk_id_for(key.public_key)}/heartbeat"
    with LedgerServer(tmp_path / "ledger", election) as server:
        enrol(server, key, "kiosk with a bad body")
        body = b'{"version": "\xff"}'
        header = authorization(key, "POST", path, body, origin=server.origin)
        head = (
            b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nAuthorization: " + header.encode()
        )
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
            conn.sendall(head + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            answer = conn.makefile("rb").read().split(b"\r\n\r\n", 1)
        status = int(answer[0].split()[1])
        assert status == 422 and b'"reason"' in answer[1], answer


# F8: a number such as 1e400 in a ledger's answer is infinity to parse_json, and int() of it
# raises OverflowError, which the parsers of ledger answers do not catch (they catch
# ValueError, TypeError...). In the kiosk's sync client (kiosk/sync/client.py: head, upload,
# inclusion) it escapes the sync worker's loop, which catches SyncError only: the worker
# thread ends, and the kiosk stops syncing until it restarts. head() parses before it checks
# the log key's signature, so anything that can answer for the ledger can do it. In `ledger
# verify-proof` (ledger/verify/inclusion_proof.py) it is a traceback instead of a refusal.
# Found by the sync_answers target once it mutated with fuzz/json.dict. Both parsers now catch
# OverflowError with the rest: a refused answer, never an ended worker or a traceback.


@pytest.mark.parametrize("call", ["head", "upload"])
def test_f8_a_ledger_answer_with_1e400_is_refused_by_the_sync_client(call: str) -> None:
    body = b'{"height": 1e400, "hash": null, "accepted": 1e400, "already_had": 0, "head_height": 0,'
    body += b' "log_size": 0, "checkpoint": null, "leaves": {}, "rejected": null}'
    targets_sync.sync_answers(targets_sync.sync_seed(call, 200, body))


def test_f8_an_inclusion_answer_with_1e400_is_refused_by_verify_proof() -> None:
    answer = json.loads(targets_ledger.proof_answer_seed(2, 8))
    raw = json.dumps(answer | {"leaf_index": "INF"}).replace('"INF"', "1e400")
    targets_ledger.proof_answer(raw.encode())


# F9 (found while scoping a bundle target, not by a campaign): `ledger verify-bundle`, which
# observers run on a bundle anyone may hand them, reads its members without guarding their
# form: a close.json that is not an object, or a member that is not UTF-8, is a TypeError or a
# UnicodeDecodeError with a traceback instead of a failed check. The verifier (now the v2
# record's, ledger/verify/bundle_v2.py) fails the check that reads a malformed member, naming
# it, and raises nothing else.


@pytest.mark.parametrize(
    "members",
    [
        {"results.json": "{}", "close.json": "[]", "sources.json": "[]"},
        {"authority.txt": b"\xff\n"},
    ],
    ids=["close-not-an-object", "member-not-utf8"],
)
def test_f9_a_malformed_bundle_is_refused_with_a_reason(
    tmp_path: Path, members: dict[str, str | bytes]
) -> None:
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        for name, content in ({"authority.txt": "a\n", "log-key.txt": "b\n"} | members).items():
            z.writestr(name, content)
    try:
        checks = verify_bundle(bundle)
    except BundleError:
        return  # refused whole, with a reason: also fine
    failed = [c for c in checks if c.status == "FAILED"]
    assert failed and all(c.detail for c in failed)
    if members.get("authority.txt") == b"\xff\n":
        assert "authority.txt" in failed[0].detail


# F10: the same query string as F2's, on a path one slash away from a route (GET /downloads/),
# fails one step earlier: Starlette's redirect_slashes builds a URL from it (UnicodeDecodeError
# in starlette/datastructures.py), before any of the ledger's code runs. In-process only, like
# F2: `ledger serve` (uvicorn with h11) refuses such a request line with 400 (test_f2_... keeps
# it so). The request guard now refuses a query string that is not UTF-8 at the edge, before
# routing (422 bad_request).
# The same query string on POST /admin/logout reaches request.url in ledger/web/admin.py.
F10 = {
    "next-to-a-route": "tavsB9Q5XzFQXfTb5jFAkTI=",
    "admin-logout": "Xzk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OY45OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTlf",
}


@pytest.mark.parametrize("case", sorted(F10))
def test_f10_a_query_that_is_not_utf8_is_refused_in_process(case: str) -> None:
    targets_ledger.api(_input(F10[case]))
