"""The count's verifiable shuffle, on a handful of rows a reader can follow: the trustee's
shuffle keeps every row's votes together and only moves and re-encrypts them, its proof checks,
a changed response is named by the equation it breaks, the proof's JSON refuses anything
malformed, and spreading the work over processes changes nothing."""

from __future__ import annotations

import dataclasses
import random
import subprocess
import sys
from collections.abc import Iterator

import pytest

from kiosk.core.verifiable import shuffle as shuffle_module
from kiosk.core.verifiable.elgamal import Ciphertext, decrypt_to_point, encrypt, reencrypt
from kiosk.core.verifiable.group import (
    IDENTITY,
    ORDER,
    G,
    GroupError,
    Point,
    base_mul,
    scalar_bytes,
)
from kiosk.core.verifiable.proofs import ProofError
from kiosk.core.verifiable.shuffle import (
    ShuffleInputError,
    ShuffleProof,
    prove_shuffle,
    shuffle,
    verify_shuffle,
)

SECRET = 0x1234567890ABCDEF
KEY = base_mul(SECRET)
BASE_HASH = b"\x07" * 32

Rows = list[list[Ciphertext]]


def score_rows(size: int, width: int) -> tuple[list[list[int]], Rows]:
    """Row i holds the scores 10·i + k, k < width, each encrypted under KEY."""
    scores = [[10 * i + k for k in range(width)] for i in range(size)]
    return scores, [[encrypt(m, KEY)[0] for m in row] for row in scores]


def decrypted(rows: Rows | list[tuple[Ciphertext, ...]]) -> list[list[Point]]:
    return [[decrypt_to_point(c, SECRET) for c in row] for row in rows]


def as_points(scores: list[list[int]]) -> list[list[Point]]:
    return [[base_mul(m) for m in row] for row in scores]


@pytest.mark.parametrize(("size", "width"), [(1, 1), (2, 1), (5, 1), (1, 3), (2, 3), (5, 3)])
def test_an_honest_shuffle_keeps_each_row_together_and_its_proof_verifies(
    size: int, width: int
) -> None:
    scores, rows = score_rows(size, width)
    shuffled, permutation, nonces = shuffle(rows, KEY)

    # The same rows of scores come out, each row whole, in the order the permutation says.
    assert decrypted(shuffled) == [as_points(scores)[j] for j in permutation]
    assert sorted(permutation) == list(range(size))
    # Every ciphertext was re-encrypted: none of the inputs appears in the output.
    inputs = {c for row in rows for c in row}
    assert not inputs & {c for row in shuffled for c in row}
    # Output i is input ψ(i) plus an encryption of 0 under that input's nonces.
    for i, source in enumerate(permutation):
        assert list(shuffled[i]) == [
            reencrypt(c, KEY, nonces[source][k]) for k, c in enumerate(rows[source])
        ]

    proof = prove_shuffle(rows, shuffled, permutation, nonces, KEY, BASE_HASH)
    assert (proof.size, proof.width) == (size, width)
    verify_shuffle(proof, rows, shuffled, KEY, BASE_HASH)


def test_the_output_order_differs_between_shuffles() -> None:
    """Eight rows have 40,320 orders; twenty shuffles all in the input order would mean the
    permutation is not random."""
    _, rows = score_rows(8, 1)
    orders = {tuple(shuffle(rows, KEY)[1]) for _ in range(20)}
    assert len(orders) > 1


@pytest.fixture(scope="module")
def honest() -> tuple[Rows, list[tuple[Ciphertext, ...]], ShuffleProof]:
    _, rows = score_rows(5, 3)
    shuffled, permutation, nonces = shuffle(rows, KEY)
    return rows, shuffled, prove_shuffle(rows, shuffled, permutation, nonces, KEY, BASE_HASH)


def test_another_key_or_election_refuses_the_proof(
    honest: tuple[Rows, list[tuple[Ciphertext, ...]], ShuffleProof],
) -> None:
    """The challenge hashes the key and the election's base hash, so with either changed no
    equation of the proof holds, and the error says that is what it means."""
    rows, shuffled, proof = honest
    meaning = "no equation holds: the rows, the key, the election or the proof's commitments"
    with pytest.raises(ProofError, match=meaning):
        verify_shuffle(proof, rows, shuffled, base_mul(SECRET + 1), BASE_HASH)
    with pytest.raises(ProofError, match=meaning):
        verify_shuffle(proof, rows, shuffled, KEY, b"\x08" * 32)
    with pytest.raises(ProofError, match="identity"):
        verify_shuffle(proof, rows, shuffled, IDENTITY, BASE_HASH)


@pytest.mark.parametrize(
    ("field", "index", "named"),
    [
        ("s1", None, r"permutation commitment \(t1\)"),
        ("s2", None, r"commitment chain's end \(t2\)"),
        ("s3", None, r"under the challenges \(t3\)"),
        ("s4", 2, r"ciphertext equation t4 \(component 2\) does not hold"),
        ("s_hat", 3, r"commitment chain \(t̂ at 3\)"),
        ("s_prime", 0, r"\(t3\)"),
    ],
)
def test_a_changed_response_is_refused_naming_the_equation_it_breaks(
    honest: tuple[Rows, list[tuple[Ciphertext, ...]], ShuffleProof],
    field: str,
    index: int | None,
    named: str,
) -> None:
    """Responses are not hashed into the challenge, so changing one breaks exactly the
    equations it appears in, and the error says which."""
    rows, shuffled, proof = honest
    value = getattr(proof, field)
    if index is None:
        changed = (value + 1) % ORDER
    else:
        changed = tuple((s + 1) % ORDER if i == index else s for i, s in enumerate(value))
    forged = dataclasses.replace(proof, **{field: changed})
    with pytest.raises(ProofError, match=named):
        verify_shuffle(forged, rows, shuffled, KEY, BASE_HASH)


def test_rows_of_another_shape_than_the_proof_are_refused(
    honest: tuple[Rows, list[tuple[Ciphertext, ...]], ShuffleProof],
) -> None:
    rows, shuffled, proof = honest
    with pytest.raises(ProofError, match="output rows"):
        verify_shuffle(proof, rows, shuffled[:-1], KEY, BASE_HASH)
    with pytest.raises(ProofError, match=r"proof is for 5×3 rows, not 4×3"):
        verify_shuffle(proof, rows[:-1], shuffled[:-1], KEY, BASE_HASH)
    with pytest.raises(ProofError, match="no rows"):
        verify_shuffle(proof, [], [], KEY, BASE_HASH)


def test_nothing_to_shuffle_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ShuffleInputError, match="no rows to shuffle"):
        shuffle([], KEY)
    _, rows = score_rows(2, 2)
    with pytest.raises(ShuffleInputError, match="holds no ciphertext"):
        shuffle([[], []], KEY)
    with pytest.raises(ShuffleInputError, match="row 1 holds 1 ciphertexts, not 2"):
        shuffle([rows[0], rows[1][:1]], KEY)
    with pytest.raises(ShuffleInputError, match="identity"):
        shuffle(rows, IDENTITY)


def test_the_prover_refuses_secrets_that_do_not_fit_the_rows() -> None:
    _, rows = score_rows(3, 1)
    shuffled, permutation, nonces = shuffle(rows, KEY)
    with pytest.raises(ShuffleInputError, match="not a permutation of 3 rows"):
        prove_shuffle(rows, shuffled, [0, 0, 1], nonces, KEY, BASE_HASH)
    with pytest.raises(ShuffleInputError, match="nonces are not 3 rows of 1"):
        prove_shuffle(rows, shuffled, permutation, nonces[:2], KEY, BASE_HASH)
    with pytest.raises(ShuffleInputError, match="shape of the input rows"):
        prove_shuffle(rows, shuffled[:2], permutation, nonces, KEY, BASE_HASH)


def test_the_proof_comes_back_from_its_json_and_still_verifies(
    honest: tuple[Rows, list[tuple[Ciphertext, ...]], ShuffleProof],
) -> None:
    rows, shuffled, proof = honest
    text = proof.to_json()
    again = ShuffleProof.from_json(text)
    assert again == proof
    verify_shuffle(again, rows, shuffled, KEY, BASE_HASH)


def _malformed(proof: ShuffleProof) -> Iterator[tuple[str, object]]:
    good = proof.to_json()
    yield "not an object", [good]
    yield "a field missing", {k: v for k, v in good.items() if k != "t2"}
    yield "a field too many", good | {"permutation": [0, 1]}
    yield "a point that is not canonical", good | {"t1": "ff" * 32}
    yield "a point that is not hex", good | {"t3": "zz" * 32}
    yield "a scalar not below the order", good | {"s1": scalar_bytes(0)[:31].hex() + "ff"}
    yield "a number for a scalar", good | {"s2": 5}
    t_hat = good["t_hat"]
    assert isinstance(t_hat, list)
    yield "one position short", good | {"t_hat": t_hat[:-1]}
    yield "no component", good | {"t4": [], "s4": []}
    yield "t4 not pairs", good | {"t4": [G.hex()] * proof.width}
    yield "a list that is a string", good | {"s_hat": "00"}


def test_a_malformed_proof_is_refused_when_read(
    honest: tuple[Rows, list[tuple[Ciphertext, ...]], ShuffleProof],
) -> None:
    for case, value in _malformed(honest[2]):
        with pytest.raises(GroupError):
            ShuffleProof.from_json(value)
            pytest.fail(f"accepted {case}")


def _seeded(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """The shuffle's own randomness from a seed, so two runs can be compared byte for byte."""
    draws = random.Random(seed)
    monkeypatch.setattr(shuffle_module, "random_scalar", lambda: 1 + draws.randrange(ORDER - 1))
    monkeypatch.setattr(shuffle_module, "random_permutation", lambda n: draws.sample(range(n), n))


def test_two_worker_processes_give_byte_for_byte_what_one_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, rows = score_rows(9, 2)
    results = []
    for workers in (1, 2):
        _seeded(monkeypatch, seed=16)
        shuffled, permutation, nonces = shuffle(rows, KEY, workers=workers)
        proof = prove_shuffle(rows, shuffled, permutation, nonces, KEY, BASE_HASH, workers=workers)
        results.append((shuffled, proof.to_json()))
    assert results[0] == results[1]
    shuffled, proof_json = results[1]
    verify_shuffle(ShuffleProof.from_json(proof_json), rows, shuffled, KEY, BASE_HASH, workers=2)
    swapped = [shuffled[1], shuffled[0], *shuffled[2:]]
    with pytest.raises(ProofError):
        verify_shuffle(ShuffleProof.from_json(proof_json), rows, swapped, KEY, BASE_HASH, workers=2)


def test_a_worker_count_below_one_is_refused() -> None:
    _, rows = score_rows(1, 1)
    with pytest.raises(ValueError, match="at least 1"):
        shuffle(rows, KEY, workers=0)


def test_a_program_the_workers_cannot_import_gets_a_clear_error() -> None:
    """Worker processes start by importing the program that asked for them; one typed into a
    pipe cannot be imported, and is told why instead of seeing a broken pool."""
    program = (
        "from kiosk.core.verifiable.elgamal import encrypt\n"
        "from kiosk.core.verifiable.group import base_mul\n"
        "from kiosk.core.verifiable.shuffle import shuffle\n"
        "key = base_mul(5)\n"
        "shuffle([[encrypt(1, key)[0]]] * 4, key, workers=2)\n"
    )
    done = subprocess.run(
        [sys.executable, "-"], input=program, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "WorkerError: the worker processes stopped" in done.stderr
    assert 'if __name__ == "__main__":' in done.stderr
