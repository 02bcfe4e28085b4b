"""The shuffle proof checked by a second verifier written from the protocol text alone (the
report's section for docs/spec/): its own SHA-512 framing, its own reading of the JSON, one
group operation at a time. It accepts what ``prove_shuffle`` makes and refuses what
``verify_shuffle`` refuses, so the text says what the code does, byte for byte."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pytest

from kiosk.core.verifiable.elgamal import Ciphertext, encrypt
from kiosk.core.verifiable.group import ORDER, G, Point, base_mul, from_uniform_bytes
from kiosk.core.verifiable.shuffle import prove_shuffle, shuffle

KEY = base_mul(0xBEEF)
BASE_HASH = hashlib.sha256(b"an election").digest()


def sha512_framed(tag: str, *parts: bytes) -> bytes:
    digest = hashlib.sha512(f"hanpyo/v2/{tag}\n".encode("ascii"))
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.digest()


def h_scalar(tag: str, *parts: bytes) -> int:
    return int.from_bytes(sha512_framed(tag, *parts), "little") % ORDER


def fiat_shamir(name: str, statement: list[bytes], commitments: list[bytes]) -> int:
    count = len(statement).to_bytes(4, "big")
    return h_scalar(f"challenge/{name}", BASE_HASH, count, *statement, *commitments)


def point(text: str) -> Point:
    return Point.decode(bytes.fromhex(text))


def scalar(text: str) -> int:
    value = int.from_bytes(bytes.fromhex(text), "little")
    assert value < ORDER
    return value


def total(points: list[Point]) -> Point:
    out = points[0]
    for p in points[1:]:
        out = out + p
    return out


def reference_verify(proof: dict[str, Any], rows: list[list[str]], out: list[list[str]]) -> bool:
    """Rows are lists of ciphertexts as 128 hex digits (α || β); True iff every equation holds."""
    n, w = len(rows), len(rows[0])
    h_all = [
        from_uniform_bytes(sha512_framed("shuffle/generators", i.to_bytes(4, "big")))
        for i in range(n + 1)
    ]
    h, hs = h_all[0], h_all[1:]
    statement = [n.to_bytes(4, "big") + w.to_bytes(4, "big"), KEY.encoded]
    statement += [bytes.fromhex(e) for row in rows + out for e in row]
    e_in = [[(point(e[:64]), point(e[64:])) for e in row] for row in rows]
    e_out = [[(point(e[:64]), point(e[64:])) for e in row] for row in out]
    cs = [point(x) for x in proof["permutation_commitment"]]
    chain = [point(x) for x in proof["commitment_chain"]]
    t_hat = [point(x) for x in proof["t_hat"]]
    t1, t2, t3 = point(proof["t1"]), point(proof["t2"]), point(proof["t3"])
    t4 = [(point(a), point(b)) for a, b in proof["t4"]]
    s1, s2, s3 = scalar(proof["s1"]), scalar(proof["s2"]), scalar(proof["s3"])
    s4 = [scalar(x) for x in proof["s4"]]
    s_hat = [scalar(x) for x in proof["s_hat"]]
    s_prime = [scalar(x) for x in proof["s_prime"]]

    seed = fiat_shamir("shuffle/positions", statement, [p.encoded for p in cs])
    u = [
        h_scalar("shuffle/position", seed.to_bytes(32, "little"), j.to_bytes(4, "big"))
        for j in range(n)
    ]
    hashed = [p.encoded for p in cs + chain + [t1, t2, t3]]
    hashed += [a.encoded + b.encoded for a, b in t4] + [p.encoded for p in t_hat]
    c = fiat_shamir("shuffle", statement, hashed)

    u_product = 1
    for uj in u:
        u_product = u_product * uj % ORDER
    c_bar = total(cs) - total(hs)
    c_hat = chain[-1] - h * u_product
    c_tilde = total([cj * uj for cj, uj in zip(cs, u, strict=True)])
    holds = [
        t1 == c_bar * c + G * s1,
        t2 == c_hat * c + G * s2,
        t3 == c_tilde * c + G * s3 + total([hi * si for hi, si in zip(hs, s_prime, strict=True)]),
    ]
    for k in range(w):
        a_hat = total([e_in[j][k][0] * u[j] for j in range(n)])
        b_hat = total([e_in[j][k][1] * u[j] for j in range(n)])
        a_out = total([e_out[i][k][0] * s_prime[i] for i in range(n)])
        b_out = total([e_out[i][k][1] * s_prime[i] for i in range(n)])
        holds.append(t4[k][0] == a_hat * c - G * s4[k] + a_out)
        holds.append(t4[k][1] == b_hat * c - KEY * s4[k] + b_out)
    previous = [h, *chain[:-1]]
    for i in range(n):
        holds.append(t_hat[i] == chain[i] * c + G * s_hat[i] + previous[i] * s_prime[i])
    return all(holds)


@pytest.mark.parametrize(("size", "width"), [(1, 1), (4, 1), (3, 2)])
def test_a_verifier_written_from_the_text_accepts_the_proof_and_refuses_a_swap(
    size: int, width: int
) -> None:
    rows = [[encrypt(i + k, KEY)[0] for k in range(width)] for i in range(size)]
    shuffled, permutation, nonces = shuffle(rows, KEY)
    proof = prove_shuffle(rows, shuffled, permutation, nonces, KEY, BASE_HASH).to_json()

    assert reference_verify(proof, as_hex(rows), as_hex(shuffled))
    changed = as_hex(shuffled)
    changed[0][0] = encrypt(99, KEY)[0].encoded().hex()
    assert not reference_verify(proof, as_hex(rows), changed)


def as_hex(table: Sequence[Sequence[Ciphertext]]) -> list[list[str]]:
    return [[c.encoded().hex() for c in row] for row in table]
