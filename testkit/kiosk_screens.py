"""The kiosk's screens as the UI tests and the staff-guide walk set them up and use them:
the tests' election with a picture, a kiosk configuration, a whole vote, the last ballot."""

from __future__ import annotations

from typing import Any

from kiosk.core.block import BlockKind
from kiosk.core.encrypted_ballot import read_encrypted_ballot
from kiosk.core.tally import decrypt_ballot
from testkit.elections import election_secret, mixed_definition
from testkit.ui_driver import Kiosk


def ui_definition() -> dict[str, Any]:
    """The tests' mixed election with two groups of five proposals: residents score their
    group (1..10) and answer a yes/no question; experts also score by criterion (0..5);
    online members may like at most two. One proposal has a picture."""
    d = mixed_definition(groups=2, per_group=5, election_id="ui-review")
    for contest in d["contests"]:
        if contest["id"] == "likes":
            contest["max"] = 2
    d["options"][1]["image"] = "p0001-02.png"
    return d


def vote(kiosk: Kiosk, card: str) -> str:
    kiosk.sign_in(card)
    kiosk.wait_screen("ballot")
    kiosk.tap("next")
    kiosk.tap("warningGoOn")
    if kiosk.screen == "ballot":
        kiosk.tap("answer-blank")
        kiosk.tap("next")
    kiosk.wait_screen("review")
    kiosk.tap("castButton")
    kiosk.wait_screen("receipt")
    code = kiosk.text("trackingCode")
    kiosk.remove()
    return code


def last_ballot(kiosk: Kiosk, kind: BlockKind = BlockKind.BALLOT) -> dict[str, Any]:
    """Decrypt the last ballot in the store with the election key's whole secret (the test
    plays every trustee; the kiosk holds no share) or the public test key, and return its
    contests."""
    assert kiosk.services.box is not None
    blocks = [b for b in kiosk.services.box.store.blocks() if b.block.kind is kind]
    ballot = read_encrypted_ballot(blocks[-1].block.body["ballot"])
    package = kiosk.election.package
    if kind is BlockKind.BALLOT:
        secret = election_secret(kiosk.election)
    else:
        assert package.test_key is not None
        secret = package.test_key.secret
    contests: dict[str, Any] = decrypt_ballot(package, ballot, secret).to_json()["contests"]
    return contests
