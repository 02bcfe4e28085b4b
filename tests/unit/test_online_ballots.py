"""The platform's sign-in rules, in process: which keys may sign in online, and what the
credential's signature covers (docs/spec/online.md)."""

from __future__ import annotations

import pytest

from kiosk.core.crypto import Domain, SigningKey
from online.ballots import check_sign_in, online_voter, session_message
from online.errors import ApiError
from testkit.elections import SyntheticElection, build_election, mixed_definition
from testkit.v2_ballots import roll_index


@pytest.fixture(scope="module")
def with_test_cards() -> SyntheticElection:
    return build_election(
        mixed_definition(), seed="test", experts_per_group=1, online_per_proposal=1, test_cards=7
    )


def test_only_online_members_keys_sign_in(with_test_cards: SyntheticElection) -> None:
    election = with_test_cards
    package = election.package
    member = election.voter_keys[roll_index(election, "online", 0)]
    voter = online_voter(package, member.public_key)
    assert voter.category == "online" and voter.test is False
    test_voter = online_voter(package, election.test_card_keys[5].public_key)
    assert test_voter.test is True
    for key in (
        election.voter_keys[roll_index(election, "resident", 0)],  # votes on site
        election.voter_keys[roll_index(election, "expert", 0)],
        election.test_card_keys[0],  # a test card with a resident's profile
        election.staff_keys[0],
        SigningKey.generate(),
    ):
        with pytest.raises(ApiError) as refused:
            online_voter(package, key.public_key)
        assert (refused.value.status, refused.value.code) == (401, "unknown_code")


def test_the_session_signature_is_bound_to_the_election_the_challenge_and_the_domain(
    with_test_cards: SyntheticElection,
) -> None:
    package = with_test_cards.package
    key = SigningKey.generate()
    challenge = bytes(range(32))
    assert session_message("e-1", challenge) == b"e-1\n" + challenge
    good = key.sign(Domain.ONLINE_SESSION, session_message(package.id, challenge))
    check_sign_in(package, key.public_key, challenge, good)
    wrong = [
        key.sign(Domain.ONLINE_SESSION, session_message("another", challenge)),
        key.sign(Domain.ONLINE_SESSION, session_message(package.id, bytes(32))),
        key.sign(Domain.BALLOT, session_message(package.id, challenge)),
        key.sign(Domain.AUTH, session_message(package.id, challenge)),
    ]
    for signature in wrong:
        with pytest.raises(ApiError) as refused:
            check_sign_in(package, key.public_key, challenge, signature)
        assert refused.value.code == "bad_signature"
    with pytest.raises(ApiError):
        check_sign_in(package, key.public_key, challenge[:16], good)
