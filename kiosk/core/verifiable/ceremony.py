"""The trustees' key ceremony with no dealer, and each trustee's share of the key: the one
name to import it by (the rounds are in ``ceremony_rounds``, the public end in
``ceremony_outcome``, the setup and signed envelope in ``ceremony_messages``).

ElectionGuard 2.1 §3.2 written additively in ristretto255, with the complaint-and-reveal rule
of Joint-Feldman (Gennaro, Jarecki, Krawczyk, Rabin, J. Cryptology 2007, §3) in place of
ElectionGuard's start-again-from-scratch. Rounds, one signed message of each kind per trustee:

1. ``commitments``: K_it = a_it·G for t < k, each with a Schnorr proof (§3.2.2 eq. 8-11);
2. ``shares``: ONE message per sender holding P_i(j) sealed to every other trustee j's box
   key (§3.2.2 "Share encryption", here libsodium's sealed box, signed by the sender);
3. ``verdict``: complaints against senders whose share failed eq. 28, or none (acceptance);
4. ``reveal``: a trustee complained about publishes P_i(j) for each complainer j;
5. ``result``: each trustee signs K, every Z_j, who is qualified, and the transcript hash.
"""

from __future__ import annotations

from kiosk.core.verifiable.ceremony_messages import (
    KINDS,
    MAX_TRUSTEES,
    BadShare,
    CeremonyError,
    CeremonySetup,
    SignedMessage,
    TrusteeIdentity,
)
from kiosk.core.verifiable.ceremony_outcome import (
    CeremonyOutcome,
    SignedResults,
    TrusteeShare,
    check_results,
    evaluate,
    result_message,
    secret_share,
)
from kiosk.core.verifiable.ceremony_rounds import (
    Polynomial,
    check_commitments,
    check_reveal,
    check_shares_message,
    commitments_message,
    committed_share,
    open_share,
    reveal_message,
    shares_message,
    verdict_complaints,
    verdict_message,
)

__all__ = [
    "KINDS",
    "MAX_TRUSTEES",
    "BadShare",
    "CeremonyError",
    "CeremonyOutcome",
    "CeremonySetup",
    "Polynomial",
    "SignedMessage",
    "SignedResults",
    "TrusteeIdentity",
    "TrusteeShare",
    "check_commitments",
    "check_results",
    "check_reveal",
    "check_shares_message",
    "commitments_message",
    "committed_share",
    "evaluate",
    "open_share",
    "result_message",
    "reveal_message",
    "secret_share",
    "shares_message",
    "verdict_complaints",
    "verdict_message",
]
