"""Protocol v2's cryptography against its floor: each operation beside the cost of the group
operations it must do, measured in the same run.

Run alone with `.venv/bin/python -m bench.crypto_bench` (prints the table; `--shuffle-size`,
`--bsgs`, `--workers`); `bench.run` adds the rows to bench/REPORT.md (`--no-crypto`).

The floor of an operation (bench/crypto_floor.py) is the number of libsodium calls it makes,
counted by wrapping the binding's functions during a separate run of the same operation (so the
count is what the code does, not what a docstring says), times the cost of each call measured
raw, on random inputs, in this run: F fixed-base multiplications, V variable-base
multiplications, A additions and subtractions (each decodes two points and encodes one, about a
third of a V here), D decodings, H maps to the group. The ratio is the operation's time over
that floor; what is above 1 is hashing, random scalars and Python. The floor of the
multiplications alone is beside it.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial

from bench.common import Row
from bench.crypto_floor import (
    UnitClock,
    affine_counts,
    counting,
    floor_row,
    long_run,
    measure,
    unit_rows,
)
from kiosk.core.verifiable import dlog
from kiosk.core.verifiable.elgamal import Ciphertext, encrypt, encrypt_with
from kiosk.core.verifiable.group import base_mul, random_scalar
from kiosk.core.verifiable.knowledge import (
    prove_randomness_knowledge,
    verify_randomness_knowledge,
)
from kiosk.core.verifiable.membership import (
    prove_membership,
    prove_sum_in_range,
    verify_membership,
    verify_sum_in_range,
)
from kiosk.core.verifiable.proofs import prove_dleq, prove_schnorr, verify_dleq, verify_schnorr

_last: dict[str, object] = {}


# --- the proofs -----------------------------------------------------------------------------


def bench_proofs(clock: UnitClock, calls: int) -> list[Row]:
    secret = random_scalar()
    key, base_hash, context = base_mul(secret), os.urandom(32), os.urandom(32)
    bit, bit_nonce = encrypt(1, key)
    score, score_nonce = encrypt(7, key)
    marks = [0, 1, 0, 1, 1]
    nonces = [random_scalar() for _ in marks]
    choice = [encrypt_with(m, key, r) for m, r in zip(marks, nonces, strict=True)]
    schnorr = prove_schnorr(secret, key, base_hash, context)
    base = base_mul(random_scalar())
    result = base * secret
    dleq = prove_dleq(secret, base, key, result, base_hash, context)
    member = prove_membership(bit, bit_nonce, 1, [0, 1], key, base_hash, context)
    ten = list(range(11))
    member10 = prove_membership(score, score_nonce, 7, ten, key, base_hash, context)
    in_range = prove_sum_in_range(choice, nonces, marks, 1, 3, key, base_hash, context)
    knows = prove_randomness_knowledge(score, score_nonce, key, base_hash, context)
    few = max(1, calls // 5)
    p = partial
    cases: list[tuple[str, Callable[[], object], int]] = [
        ("encrypt one value", p(encrypt, 1, key), calls),
        ("Schnorr prove", p(prove_schnorr, secret, key, base_hash, context), calls),
        ("Schnorr verify", p(verify_schnorr, schnorr, key, base_hash, context), calls),
        ("DLEQ prove", p(prove_dleq, secret, base, key, result, base_hash, context), calls),
        ("DLEQ verify", p(verify_dleq, dleq, base, key, result, base_hash, context), calls),
        (
            "{0,1} membership prove",
            p(prove_membership, bit, bit_nonce, 1, [0, 1], key, base_hash, context),
            calls,
        ),
        (
            "{0,1} membership verify",
            p(verify_membership, member, bit, [0, 1], key, base_hash, context),
            calls,
        ),
        (
            "0..10 membership prove",
            p(prove_membership, score, score_nonce, 7, ten, key, base_hash, context),
            few,
        ),
        (
            "0..10 membership verify",
            p(verify_membership, member10, score, ten, key, base_hash, context),
            few,
        ),
        (
            "sum in 1..3 of 5 ciphertexts prove",
            p(prove_sum_in_range, choice, nonces, marks, 1, 3, key, base_hash, context),
            few,
        ),
        (
            "sum in 1..3 of 5 ciphertexts verify",
            p(verify_sum_in_range, in_range, choice, 1, 3, key, base_hash, context),
            few,
        ),
        (
            "randomness knowledge prove",
            p(prove_randomness_knowledge, score, score_nonce, key, base_hash, context),
            calls,
        ),
        (
            "randomness knowledge verify",
            p(verify_randomness_knowledge, knows, score, key, base_hash, context),
            calls,
        ),
    ]
    return [measure(name, action, n, clock) for name, action, n in cases]


# --- discrete logarithms ------------------------------------------------------------------


def bench_bsgs(clock: UnitClock, bounds: Sequence[int]) -> list[Row]:
    """The baby-step table built from nothing, then the worst lookup (the bound itself: the
    longest giant walk) on the warm table, as ``dlog.discrete_log`` does them."""
    rows = []
    for bound in bounds:
        step = max(1, math.isqrt(bound) + 1)  # as dlog.discrete_log chooses it
        with counting() as counts:
            dlog._baby_steps[step] = dlog.SmallTable(step - 1)  # the module's cache, warm
        built = long_run(partial(dlog.SmallTable, step - 1), clock, 1)
        name = f"BSGS to {bound:.0e}: baby-step table"
        rows.append(floor_row(name, built.cpu, counts, built.units))
        target = base_mul(bound)
        with counting() as lookup_counts:
            found = dlog.discrete_log(target, bound)
        if found != bound:
            raise RuntimeError(f"BSGS found {found}, not {bound}")
        lookup = long_run(partial(dlog.discrete_log, target, bound), clock, 2)
        name = f"BSGS to {bound:.0e}: worst lookup"
        rows.append(floor_row(name, lookup.cpu, lookup_counts, lookup.units))
    return rows


# --- the shuffle and decryption shares (their authors' modules) ------------------------------


def bench_shuffle(clock: UnitClock, size: int, workers: Sequence[int]) -> list[Row]:
    """A trustee's shuffle of ``size`` single ciphertexts with its proof, and its check."""
    from kiosk.core.verifiable.shuffle import (
        ShuffleProof,
        prove_shuffle,
        shuffle,
        shuffle_generators,
        verify_shuffle,
    )

    key, base_hash = base_mul(random_scalar()), os.urandom(32)
    rows = [(encrypt(m % 11, key)[0],) for m in range(size)]
    made: list[tuple[list[tuple[Ciphertext, ...]], ShuffleProof]] = []

    def mix_and_prove(n: int, count: int = 1) -> None:
        mixed, permutation, nonces = shuffle(rows[:n], key, workers=count)
        proof = prove_shuffle(rows[:n], mixed, permutation, nonces, key, base_hash, workers=count)
        made[:] = [(mixed, proof)]

    def check(n: int, count: int = 1) -> None:
        mixed, proof = made[0]
        verify_shuffle(proof, rows[:n], mixed, key, base_hash, workers=count)

    def count_proving(n: int) -> Counter[str]:
        with counting() as counts:
            mix_and_prove(n)
        return counts

    def count_checking(n: int) -> Counter[str]:
        mix_and_prove(n)
        with counting() as counts:
            check(n)
        return counts

    shuffle_generators(size)  # made once per process and size, then kept: not in the times
    proving, checking = affine_counts(count_proving)(size), affine_counts(count_checking)(size)
    out = []
    for count in workers:
        label = f"{count} worker process{'es' if count > 1 else ''}"
        proved = long_run(partial(mix_and_prove, size, count), clock, 1)
        verified = long_run(partial(check, size, count), clock, 1)
        # One process: its CPU time. Several: wall-clock, the time the trustee waits (the
        # workers' CPU time is not this process's).
        for run, name, counts in (
            (proved, f"shuffle {size:,} ciphertexts with proof, {label}", proving),
            (verified, f"verify that shuffle, {label}", checking),
        ):
            seconds = run.cpu if count == 1 else run.wall
            out.append(floor_row(name, seconds, counts, run.units))
        _last[f"shuffle {count}"] = (proved.wall, verified.wall)
    return out


def bench_decryption(clock: UnitClock, size: int) -> list[Row]:
    """One trustee's decryption shares of ``size`` ciphertexts with a proof each, and their
    check (one core: the share functions have no workers)."""
    from kiosk.core.verifiable.ceremony_outcome import TrusteeShare
    from kiosk.core.verifiable.decryption import (
        DecryptionShare,
        decryption_shares,
        verify_decryption_share,
    )

    key, base_hash, context = base_mul(random_scalar()), os.urandom(32), b"bench"
    trustee = TrusteeShare(os.urandom(32), 1, random_scalar())
    keys = {1: trustee.verification_key()}
    ciphertexts = [encrypt(m % 11, key)[0] for m in range(size)]
    made: list[DecryptionShare] = []

    def make(n: int) -> None:
        made[:] = decryption_shares(trustee, ciphertexts[:n], keys, base_hash, context)

    def check(n: int) -> None:
        for share, ciphertext in zip(made[:n], ciphertexts[:n], strict=True):
            verify_decryption_share(share, ciphertext, keys[1], base_hash, context)

    def count_making(n: int) -> Counter[str]:
        with counting() as counts:
            make(n)
        return counts

    def count_checking(n: int) -> Counter[str]:
        make(n)
        with counting() as counts:
            check(n)
        return counts

    making, checking = affine_counts(count_making)(size), affine_counts(count_checking)(size)
    made_run, checked = (
        long_run(partial(make, size), clock, 1),
        long_run(partial(check, size), clock, 1),
    )
    name = f"decryption shares of {size:,} ciphertexts, one trustee"
    return [
        floor_row(name, made_run.cpu, making, made_run.units),
        floor_row(f"verify those {size:,} shares", checked.cpu, checking, checked.units),
    ]


# --- the whole section --------------------------------------------------------------------


def bench_crypto(
    *,
    calls: int = 200,
    bsgs_bounds: Sequence[int] = (10**6, 10**8),
    shuffle_size: int = 10_000,
    workers: Sequence[int] = (1, 2),
) -> list[Row]:
    _last.clear()
    _last["load"] = os.getloadavg()[0]
    clock = UnitClock()
    rows = bench_proofs(clock, calls)
    rows += bench_bsgs(clock, bsgs_bounds)
    if _has("shuffle"):
        rows += bench_shuffle(clock, shuffle_size, workers)
    if _has("decryption"):
        rows += bench_decryption(clock, shuffle_size)
    _last["clock"] = clock
    _last["load after"] = os.getloadavg()[0]
    return unit_rows(clock) + rows


def _has(module: str) -> bool:
    return importlib.util.find_spec(f"kiosk.core.verifiable.{module}") is not None


def notes() -> list[str]:
    clock = _last.get("clock")
    if not isinstance(clock, UnitClock):
        return []
    best = {k: v * 1e6 for k, v in clock.best.items()}
    spread = max(clock.worst[k] / clock.best[k] for k in "FVA")
    lines = [
        "- crypto: protocol v2's group and proofs (kiosk/core/verifiable), each operation "
        "beside its floor: the operation's own calls into libsodium, counted by wrapping the "
        "binding during a separate run (the bracket after each name: F fixed-base and V "
        "variable-base multiplications, A additions or subtractions, D decoding checks), times "
        "each call's raw cost on random inputs measured in batches between the operation's own "
        f"batches (fastest: F = {best['F']:.1f} µs, V = {best['V']:.1f} µs, "
        f"A = {best['A']:.1f} µs, D = {best['D']:.1f} µs). Additions are part of the floor: "
        "libsodium decodes both points and encodes the sum, three field inversions, so one "
        "costs a third of a V here (0.15 µs natively); the multiplications' share is beside "
        "it. Short operations: the fastest of 7 batches, and the fastest unit batches of the "
        "same moments; long ones (BSGS, shuffle, shares): one or two runs, the units sampled "
        "just before and after. All of it is CPU time of the benchmark's process "
        "(`time.process_time`), except the rows with 2 worker processes, which are wall-clock "
        "(their ratio below 1 is the parallel speed-up). The machine is shared "
        f"(load average {_last['load']:.1f} at "
        f"the start, {_last['load after']:.1f} at the end; the slowest unit batch was "
        f"{spread:.1f}x the fastest), so the ratios are the numbers to compare.",
        "- crypto, what is above the floor: per proof, a SHA-512 challenge over the statement "
        "and commitments (1-3 µs), random scalars from the OS (about 1 µs each), Python's "
        "arithmetic on 256-bit scalars and the Point wrapper (a few µs a call); they weigh "
        "most on the cheapest operations.",
        "- crypto, made faster without changing any result: the membership prover computes a "
        "simulated branch's commitments from what it knows (with w = v + c·r: a = w·G and "
        "b = w·K + c·(m − j)·G, 2F + 1V + 1A instead of 1F + 3V + 2A for the same points); "
        "j·G for the values of a set is computed once and kept; sums of ciphertexts start "
        "from the first one (n − 1 additions, not n). Possible in modules owned elsewhere: "
        "`encrypt_with` computes m·G by a fixed-base multiplication where a kept table of "
        "small multiples would do; BSGS pays one A a step, all of it libsodium's decode and "
        "encode, which only a binding with a projective (unencoded) point interface would "
        "avoid, and libsodium has none.",
    ]
    for count in (1, 2):
        if f"shuffle {count}" not in _last:
            break
    else:
        one, two = _last["shuffle 1"], _last["shuffle 2"]
        assert isinstance(one, tuple) and isinstance(two, tuple)
        lines.append(
            "- crypto, several cores: only the shuffle and its check spread over worker "
            "processes (kiosk/core/verifiable/bulk.py: the re-encryptions, commitments and "
            "the proof's sums). Wall-clock from 1 to 2 workers: shuffle with proof "
            f"{one[0]:.1f} s → {two[0]:.1f} s ({one[0] / two[0]:.2f}x as fast), its check "
            f"{one[1]:.1f} s → {two[1]:.1f} s ({one[1] / two[1]:.2f}x), on a machine whose "
            "two cores other sessions share (see the load above): with the cores free the "
            "best to expect is 2x less the pool's start and the parent's share of the work. "
            "Every proof of a ballot, the shares and BSGS run on one core; ballots and "
            "shares are independent, so a caller can spread them over processes itself."
        )
    if not _has("shuffle"):
        lines.append("- crypto: the shuffle rows come from the shuffle's author's run.")
    if not _has("decryption"):
        lines.append("- crypto: the decryption-share rows come from their author's run.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200, help="calls per batch, small ops")
    parser.add_argument("--bsgs", type=int, nargs="+", default=[10**6, 10**8], help="bounds")
    parser.add_argument("--shuffle-size", type=int, default=10_000, help="ciphertexts")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    rows = bench_crypto(
        calls=args.calls,
        bsgs_bounds=args.bsgs,
        shuffle_size=args.shuffle_size,
        workers=args.workers,
    )
    width = max(len(r.name) for r in rows)
    for r in rows:
        print(f"{r.name:<{width}}  {r.value:>10}  {r.baseline:<52} {r.ratio:>7}")
    print()
    print("\n".join(notes()))


if __name__ == "__main__":
    main()
