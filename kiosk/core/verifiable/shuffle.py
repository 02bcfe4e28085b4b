"""The verifiable shuffle of the count (design/verifiable-election.md, "The count", step 4): a
trustee re-encrypts and permutes N rows of w ciphertexts and proves it did nothing else, by the
Terelius–Wikström proof of a shuffle as the CHVote Protocol Specification writes it (Haenni,
Locher, Koenig, Dubuis, IACR ePrint 2017/325, version 3.1: Algorithm 8.47 GenShuffleProof
with the GenPermutationCommitment, GenCommitmentChain and GetChallenges it calls, and
Algorithm 8.51 CheckShuffleProof; GenShuffle for the mix itself).

CHVote works in a multiplicative group with ciphertexts (a, b) = (m·pk^r, g^r); here the group
is additive (g^x is x·G, a product a sum) and a ciphertext is (α, β) = (r·G, m·G + r·K), so
CHVote's b is our α and its a our β. Rows of width w > 1 follow Verificatum's product-group
generalisation: one permutation commitment and one commitment chain for the rows, and the
ciphertext equation (t4, s4) once per component k with its own re-encryption exponent.
The protocol text for an independent verifier (generators, hash inputs, encodings, equations)
belongs in docs/spec/ beside the group's.

Conventions: ``permutation[i]`` is the input row that output row i came from (CHVote's ψ(i));
``nonces[j][k]`` is the randomness added to component k of INPUT row j (CHVote's r̃_j), so
``shuffled[i][k] = rows[ψ(i)][k] + Enc(0; nonces[ψ(i)][k])``.

Work, for N rows of width w, in the units of ``bulk`` (fixed-base = F ≈ 17 µs, variable-base
= V ≈ 50–65 µs, addition = A ≈ 14–16 µs measured through libsodium on these machines):
- ``shuffle``:        F = wN,          V = wN,                A = 2wN
- ``prove_shuffle``:  F = 3N + w + 3,  V = (2w + 3)N + w,     A = (2w + 4)N
- ``verify_shuffle``: F = N + w + 3,   V = (4w + 4)N + w + 3, A = (4w + 6)N + 2
plus, in each, N hashes to a scalar (≈ 2 µs) and, once per process and size, N + 1 hashes to
the group (≈ 16 µs; kept for later calls). For w = 1: prove 3N F + 5N V, verify N F + 8N V.
These are the floor a benchmark divides by (counting libsodium's calls gives the same). The
bulk of each (all but about ten of the multiplications) spreads over ``workers`` processes;
the answer does not depend on their number.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.core.errors import HanpyoError
from kiosk.core.verifiable.bulk import Term, open_workers
from kiosk.core.verifiable.elgamal import Ciphertext
from kiosk.core.verifiable.group import (
    ORDER,
    G,
    Point,
    base_mul,
    generators,
    hash_to_scalar,
    random_scalar,
    scalar_bytes,
)
from kiosk.core.verifiable.proofs import ProofError, challenge
from kiosk.core.verifiable.shuffle_proof import ShuffleProof

__all__ = [
    "GENERATOR_TAG",
    "ShuffleInputError",
    "ShuffleProof",
    "prove_shuffle",
    "random_permutation",
    "shuffle",
    "shuffle_generators",
    "verify_shuffle",
]

Rows = Sequence[Sequence[Ciphertext]]
ShuffledRows = list[tuple[Ciphertext, ...]]

#: h = generators(GENERATOR_TAG, N + 1)[0], h_1..h_N the rest (CHVote's GetGenerators).
GENERATOR_TAG = "shuffle/generators"
_PROOF = "shuffle"
_NAME = "Shuffle"


class ShuffleInputError(HanpyoError):
    """Rows that cannot be shuffled or proved: none, rows of different widths, or a
    permutation or nonces that do not fit them."""


# --- the mix (CHVote GenShuffle) ------------------------------------------------------------


def random_permutation(size: int) -> list[int]:
    """A uniformly random permutation of range(size): Fisher–Yates with the OS generator."""
    order = list(range(size))
    for i in range(size - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def shuffle(
    rows: Rows, key: Point, *, workers: int = 1
) -> tuple[ShuffledRows, list[int], list[tuple[int, ...]]]:
    """Re-encrypts every ciphertext under ``key`` with fresh randomness and permutes the rows.

    Returns (shuffled rows, permutation, nonces); the last two are the trustee's secret, for
    ``prove_shuffle`` only, and are to be erased once the proof is made.
    """
    size, width = _shape(rows)
    _check_key(key)
    permutation = random_permutation(size)
    nonces = [tuple(random_scalar() for _ in range(width)) for _ in range(size)]
    combos: list[list[Term]] = []
    for source in permutation:
        for k, ciphertext in enumerate(rows[source]):
            nonce = nonces[source][k]
            combos.append([(1, ciphertext.alpha), (nonce, G)])
            combos.append([(1, ciphertext.beta), (nonce, key)])
    with open_workers(workers) as pool:
        points = pool.combine(combos)
    pairs = _pairs(points)
    shuffled = [tuple(pairs[i * width : (i + 1) * width]) for i in range(size)]
    return shuffled, permutation, nonces


# --- the proof (CHVote Algorithm 8.47 GenShuffleProof) -------------------------------------


@dataclass(frozen=True, slots=True)
class _Witness:
    """The prover's secrets beyond the shuffle's own: the permutation commitment's r, the
    chain's r̂, and the proof's commitment randomness ω1, ω2, ω3, ω4 (per component), ω̂, ω'."""

    r: list[int]
    r_hat: list[int]
    w1: int
    w2: int
    w3: int
    w4: list[int]
    w_hat: list[int]
    w_prime: list[int]

    @staticmethod
    def draw(size: int, width: int) -> _Witness:
        def many(count: int) -> list[int]:
            return [random_scalar() for _ in range(count)]

        return _Witness(
            many(size), many(size), random_scalar(), random_scalar(), random_scalar(),
            many(width), many(size), many(size),
        )  # fmt: skip


def prove_shuffle(
    rows: Rows,
    shuffled_rows: Rows,
    permutation: Sequence[int],
    nonces: Sequence[Sequence[int]],
    key: Point,
    base_hash: bytes,
    *,
    workers: int = 1,
) -> ShuffleProof:
    """Proves that ``shuffled_rows`` are ``rows`` re-encrypted under ``key`` and permuted, bound
    to the election's ``base_hash``. Wrong secrets give a proof that does not verify."""
    size, width = _shape(rows)
    if _shape(shuffled_rows) != (size, width):
        raise ShuffleInputError("the shuffled rows do not have the shape of the input rows")
    _check_key(key)
    _check_secrets(permutation, nonces, size, width)
    h, hs = shuffle_generators(size)
    statement = _statement(key, rows, shuffled_rows)
    secret = _Witness.draw(size, width)
    with open_workers(workers) as pool:
        # GenPermutationCommitment: c_ψ(i) = r_ψ(i)·G + h_i.
        commitment_rows: list[list[Term]] = [[] for _ in range(size)]
        for i, j in enumerate(permutation):
            commitment_rows[j] = [(secret.r[j], G), (1, hs[i])]
        commitment = pool.combine(commitment_rows)
        u = _position_challenges(base_hash, statement, commitment)
        u_tilde = [u[j] for j in permutation]
        chain_r, chain_u = _chain_exponents(secret.r_hat, u_tilde)
        combos = _prover_combinations(secret, h, hs, key, shuffled_rows, chain_r, chain_u)
        points = pool.combine(combos)
    chain, t_hat, t3 = tuple(points[:size]), tuple(points[size : 2 * size]), points[2 * size]
    t4 = tuple(_pairs(points[2 * size + 1 :]))
    t1, t2 = base_mul(secret.w1), base_mul(secret.w2)
    c = challenge(
        _PROOF, base_hash, statement, _commitments(commitment, chain, t1, t2, t3, t4, t_hat)
    )
    # Step 11: r̄ = Σ r_j, r̂ = R_N, r = Σ r_j·u_j, r̃_k = Σ r̃_jk·u_j; then the responses.
    r_bar = sum(secret.r) % ORDER
    r_dot_u = sum(rj * uj for rj, uj in zip(secret.r, u, strict=True)) % ORDER
    r_tilde = [sum(nonces[j][k] * u[j] for j in range(size)) % ORDER for k in range(width)]
    return ShuffleProof(
        permutation_commitment=tuple(commitment),
        commitment_chain=chain,
        t1=t1,
        t2=t2,
        t3=t3,
        t4=t4,
        t_hat=t_hat,
        s1=(secret.w1 - c * r_bar) % ORDER,
        s2=(secret.w2 - c * chain_r[size]) % ORDER,
        s3=(secret.w3 - c * r_dot_u) % ORDER,
        s4=tuple((secret.w4[k] - c * r_tilde[k]) % ORDER for k in range(width)),
        s_hat=tuple((secret.w_hat[i] - c * secret.r_hat[i]) % ORDER for i in range(size)),
        s_prime=tuple((secret.w_prime[i] - c * u_tilde[i]) % ORDER for i in range(size)),
    )


def _chain_exponents(r_hat: list[int], u_tilde: list[int]) -> tuple[list[int], list[int]]:
    """(R_0..R_N, U_0..U_N) with ĉ_i = R_i·G + U_i·h: R_0 = 0, U_0 = 1, R_i = r̂_i + ũ_i·R_{i-1},
    U_i = ũ_i·U_{i-1}. R_N is CHVote's r̂ = Σ r̂_i·v_i of step 11."""
    chain_r, chain_u = [0], [1]
    for r_i, u_i in zip(r_hat, u_tilde, strict=True):
        chain_r.append((r_i + u_i * chain_r[-1]) % ORDER)
        chain_u.append((u_i * chain_u[-1]) % ORDER)
    return chain_r, chain_u


def _prover_combinations(
    secret: _Witness,
    h: Point,
    hs: list[Point],
    key: Point,
    shuffled_rows: Rows,
    chain_r: list[int],
    chain_u: list[int],
) -> list[list[Term]]:
    """ĉ_1..ĉ_N, t̂_1..t̂_N, t3, then t4 (α, β) per component, as linear combinations.

    GenCommitmentChain, in the direct form of Algorithm 8.47: ĉ_i = r̂_i·G + ũ_i·ĉ_{i-1}
    = R_i·G + U_i·h and t̂_i = ω̂_i·G + ω'_i·ĉ_{i-1} = (ω̂_i + ω'_i·R_{i-1})·G + ω'_i·U_{i-1}·h,
    so no position waits for the one before it and all of them spread over the workers.
    """
    size, width = len(hs), len(shuffled_rows[0])
    w_prime = secret.w_prime
    combos: list[list[Term]] = [[(chain_r[i + 1], G), (chain_u[i + 1], h)] for i in range(size)]
    combos.extend(
        [((secret.w_hat[i] + w_prime[i] * chain_r[i]) % ORDER, G), (w_prime[i] * chain_u[i], h)]
        for i in range(size)
    )
    combos.append([(secret.w3, G), *zip(w_prime, hs, strict=True)])  # t3 = ω3·G + Σ ω'_i·h_i
    for k in range(width):  # t4 = −ω4·(G, K) + Σ ω'_i·(α̃_ik, β̃_ik)
        alphas, betas = _column(shuffled_rows, k)
        combos.append([(-secret.w4[k], G), *zip(w_prime, alphas, strict=True)])
        combos.append([(-secret.w4[k], key), *zip(w_prime, betas, strict=True)])
    return combos


# --- the check (CHVote Algorithm 8.51 CheckShuffleProof) -----------------------------------


def verify_shuffle(
    proof: ShuffleProof,
    rows: Rows,
    shuffled_rows: Rows,
    key: Point,
    base_hash: bytes,
    *,
    workers: int = 1,
) -> None:
    """Raises ProofError, naming the equation that failed, unless ``proof`` shows that
    ``shuffled_rows`` are ``rows`` re-encrypted under ``key`` and permuted."""
    size, width = _verifier_shape(proof, rows, shuffled_rows)
    if key.is_identity():
        raise ProofError(_NAME, "the election key is the identity")
    h, hs = shuffle_generators(size)
    statement = _statement(key, rows, shuffled_rows)
    u = _position_challenges(base_hash, statement, proof.permutation_commitment)
    hashed = (proof.permutation_commitment, proof.commitment_chain, proof.t1, proof.t2, proof.t3)
    c = challenge(_PROOF, base_hash, statement, _commitments(*hashed, proof.t4, proof.t_hat))
    with open_workers(workers) as pool:
        points = pool.combine(_verifier_combinations(proof, rows, shuffled_rows, key, h, hs, c, u))
    # t1 = c·c̄ + s1·G with c̄ = Σ c_j − Σ h_i.
    t1 = (points[0] - points[1]) * c + base_mul(proof.s1)
    found: list[Point | Ciphertext] = [t1, points[2], points[3]]
    found += [*_pairs(points[4 : 4 + 2 * width]), *points[4 + 2 * width :]]
    expected: list[Point | Ciphertext] = [proof.t1, proof.t2, proof.t3, *proof.t4, *proof.t_hat]
    failed = [
        name for name, e, f in zip(_equations(width, size), expected, found, strict=True) if e != f
    ]
    if failed and len(failed) == len(expected):
        # Every equation involves the challenge, so this is what any change to the rows, the
        # key, the base hash or a hashed commitment looks like.
        raise ProofError(
            _NAME,
            "no equation holds: the rows, the key, the election or the proof's commitments "
            "are not the ones that were proved",
        )
    if failed:
        raise ProofError(_NAME, f"{failed[0]} does not hold")


def _verifier_combinations(
    proof: ShuffleProof,
    rows: Rows,
    shuffled_rows: Rows,
    key: Point,
    h: Point,
    hs: list[Point],
    c: int,
    u: list[int],
) -> list[list[Term]]:
    """Σ c_j, Σ h_i, then the right-hand sides of t2, t3, t4 (α, β per component), t̂_1..t̂_N."""
    commitment, chain, s_prime = proof.permutation_commitment, proof.commitment_chain, proof.s_prime
    u_product = 1
    for uj in u:
        u_product = u_product * uj % ORDER
    cu = [c * uj % ORDER for uj in u]
    combos: list[list[Term]] = [
        [(1, cj) for cj in commitment],
        [(1, hi) for hi in hs],
        # t2 = c·ĉ + s2·G with ĉ = ĉ_N − (Π u_j)·h
        [(c, chain[-1]), (-c * u_product, h), (proof.s2, G)],
        # t3 = c·c̃ + s3·G + Σ s'_i·h_i with c̃ = Σ u_j·c_j
        [*zip(cu, commitment, strict=True), (proof.s3, G), *zip(s_prime, hs, strict=True)],
    ]
    for k in range(len(rows[0])):
        # t4 = c·(Σ u_j·e_jk) − s4·(G, K) + Σ s'_i·ẽ_ik, α and β apart
        (alphas, betas), (alphas_out, betas_out) = _column(rows, k), _column(shuffled_rows, k)
        alpha_terms = [*zip(cu, alphas, strict=True), *zip(s_prime, alphas_out, strict=True)]
        beta_terms = [*zip(cu, betas, strict=True), *zip(s_prime, betas_out, strict=True)]
        combos.append([*alpha_terms, (-proof.s4[k], G)])
        combos.append([*beta_terms, (-proof.s4[k], key)])
    previous = (h, *chain[:-1])  # t̂_i = c·ĉ_i + ŝ_i·G + s'_i·ĉ_{i-1}, with ĉ_0 = h
    combos.extend(
        [(c, chain[i]), (proof.s_hat[i], G), (s_prime[i], previous[i])] for i in range(len(chain))
    )
    return combos


def _equations(width: int, size: int) -> list[str]:
    """The names of the equations, in the order they are checked."""
    return [
        "the permutation commitment (t1)",
        "the commitment chain's end (t2)",
        "the permutation commitment under the challenges (t3)",
        *(f"the ciphertext equation t4 (component {k})" for k in range(width)),
        *(f"the commitment chain (t̂ at {i})" for i in range(size)),
    ]


def _column(rows: Rows, k: int) -> tuple[list[Point], list[Point]]:
    """The α and the β of component k of every row."""
    return [row[k].alpha for row in rows], [row[k].beta for row in rows]


def _pairs(points: Sequence[Point]) -> list[Ciphertext]:
    return [Ciphertext(points[i], points[i + 1]) for i in range(0, len(points), 2)]


def _verifier_shape(proof: ShuffleProof, rows: Rows, shuffled_rows: Rows) -> tuple[int, int]:
    try:
        size, width = _shape(rows)
        shuffled_shape = _shape(shuffled_rows)
    except ShuffleInputError as error:
        raise ProofError(_NAME, str(error)) from error
    if shuffled_shape != (size, width):
        raise ProofError(_NAME, f"{size}×{width} input rows but {shuffled_shape} output rows")
    if (proof.size, proof.width) != (size, width):
        raise ProofError(
            _NAME, f"the proof is for {proof.size}×{proof.width} rows, not {size}×{width}"
        )
    return size, width


# --- shared by prover and verifier ---------------------------------------------------------

_generator_cache: list[Point] = []


def shuffle_generators(size: int) -> tuple[Point, list[Point]]:
    """(h, [h_1..h_N]): independent generators nobody knows a logarithm of (CHVote's
    GetGenerators), the first N + 1 of ``generators(GENERATOR_TAG, ·)``, kept for later calls
    (a longer list has the shorter one as its beginning)."""
    if len(_generator_cache) < size + 1:
        _generator_cache[:] = generators(GENERATOR_TAG, size + 1)
    return _generator_cache[0], _generator_cache[1 : size + 1]


def _statement(key: Point, rows: Rows, shuffled_rows: Rows) -> list[bytes]:
    """N and w (4 bytes big-endian each), K, every input ciphertext then every output one,
    row by row, each as α || β."""
    shape = len(rows).to_bytes(4, "big") + len(rows[0]).to_bytes(4, "big")
    inputs = [c.encoded() for row in rows for c in row]
    outputs = [c.encoded() for row in shuffled_rows for c in row]
    return [shape, key.encoded, *inputs, *outputs]


def _position_challenges(
    base_hash: bytes, statement: list[bytes], commitment: Sequence[Point]
) -> list[int]:
    """The per-position challenges (CHVote's GetChallenges): a seed hashing the base hash, the
    statement and the permutation commitment, then u_j = H(shuffle/position; seed, j) for the
    0-based index j as 4 bytes big-endian."""
    seed = challenge(f"{_PROOF}/positions", base_hash, statement, [p.encoded for p in commitment])
    seed_bytes = scalar_bytes(seed)
    return [
        hash_to_scalar(f"{_PROOF}/position", seed_bytes, j.to_bytes(4, "big"))
        for j in range(len(commitment))
    ]


def _commitments(
    commitment: Sequence[Point],
    chain: Sequence[Point],
    t1: Point,
    t2: Point,
    t3: Point,
    t4: Sequence[Ciphertext],
    t_hat: Sequence[Point],
) -> list[bytes]:
    """c_1..c_N, ĉ_1..ĉ_N, t1, t2, t3, t4 per component (α || β), t̂_1..t̂_N."""
    return [
        *(p.encoded for p in commitment),
        *(p.encoded for p in chain),
        t1.encoded,
        t2.encoded,
        t3.encoded,
        *(pair.encoded() for pair in t4),
        *(p.encoded for p in t_hat),
    ]


def _shape(rows: Rows) -> tuple[int, int]:
    """(N, w), refusing no rows, empty rows and rows of different widths."""
    if len(rows) == 0:
        raise ShuffleInputError("there are no rows to shuffle")
    width = len(rows[0])
    if width == 0:
        raise ShuffleInputError("a row holds no ciphertext")
    for index, row in enumerate(rows):
        if len(row) != width:
            raise ShuffleInputError(f"row {index} holds {len(row)} ciphertexts, not {width}")
    return len(rows), width


def _check_key(key: Point) -> None:
    if key.is_identity():
        raise ShuffleInputError(
            "the election key is the identity: re-encryption would hide nothing"
        )


def _check_secrets(
    permutation: Sequence[int], nonces: Sequence[Sequence[int]], size: int, width: int
) -> None:
    if sorted(permutation) != list(range(size)):
        raise ShuffleInputError(f"the permutation is not a permutation of {size} rows")
    if len(nonces) != size or any(len(row) != width for row in nonces):
        raise ShuffleInputError(f"the nonces are not {size} rows of {width}")
