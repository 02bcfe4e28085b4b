"""The trustee's steps of the key ceremony, each run on the trustee's own computer with their
own medium: round 1 (commitments), round 2 (sealed shares), check (a verdict on the shares
received), reveal (answer complaints about me) and finish (my share z_j, checked, and my
signature on the result). Each step reads every message through a mailbox that checks it,
signs what it sends once and keeps a copy, so running a step again sends the same message.

The cryptography is kiosk/core/verifiable/ceremony.py's; this module only orders the steps,
keeps the secrets on the medium and says in plain words what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kiosk.core.verifiable.ceremony import (
    BadShare,
    CeremonyError,
    CeremonyOutcome,
    CeremonySetup,
    SignedMessage,
    TrusteeShare,
    check_commitments,
    commitments_message,
    evaluate,
    open_share,
    result_message,
    reveal_message,
    secret_share,
    shares_message,
    verdict_complaints,
    verdict_message,
)
from kiosk.core.verifiable.group import base_mul
from ledger.service.ceremony_mailbox import Mailbox, one_each
from ledger.service.ceremony_medium import (
    POLYNOMIAL,
    Medium,
    PublicIdentity,
    TrusteeToolError,
    missing_step,
)

Messages = Mapping[tuple[str, int], SignedMessage]


@dataclass(frozen=True, slots=True)
class Trustee:
    """The trustee running this step: their medium, the setup it holds, their index."""

    medium: Medium
    setup: CeremonySetup
    me: int

    @staticmethod
    def of(medium: Medium) -> Trustee:
        setup = medium.setup()
        return Trustee(medium, setup, medium.index_in(setup))

    def label(self, index: int) -> str:
        return f"{index} ({self.setup.trustee(index).name})"

    def send_once(
        self, kind: str, make: Callable[[], SignedMessage], mailbox: Mailbox
    ) -> SignedMessage:
        """The message of ``kind`` I signed before, or a new one from ``make()``, kept on my
        medium before it is posted, then posted (again)."""
        message = self.medium.sent(kind)
        if message is None:
            message = make()
            self.medium.keep_sent(message)
        mailbox.post(message)
        return message

    def read(self, mailbox: Mailbox) -> dict[tuple[str, int], SignedMessage]:
        """Every message in the mailbox, one per kind and trustee, held against the copies
        kept from my earlier reads. The exchange stick is no broadcast channel: a trustee
        holding it can swap their file between two trustees' reads (and a relay could show
        another version), so a message that differs from the one I read before is
        equivocation, named, with both signed versions kept on my medium as evidence."""
        fresh = one_each(mailbox.messages())
        kept = self.medium.seen()
        for key, earlier in kept.items():
            now = fresh.get(key)
            if now is not None and now.content() != earlier.content():
                evidence = self.medium.keep_seen(now, second=True)
                kind, sender = key
                raise TrusteeToolError(
                    f"trustee {self.label(sender)} changed their {kind} message since you "
                    f"read it (equivocation); both signed versions are kept: {evidence.parent}",
                    f"신탁인 {sender} 이(가) 이미 읽은 메시지를 바꿔치기했습니다. 절차를 멈추고 "
                    "선거 관리자에게 알리세요. 두 메시지는 증거로 매체에 보관되었습니다.",
                    f"Trustee {sender} replaced a message you had already read with a different "
                    "one. Stop and tell the election manager; both versions are kept on your "
                    "medium as evidence.",
                )
        for key, message in fresh.items():
            if key not in kept:
                self.medium.keep_seen(message)
        return kept | {key: m for key, m in fresh.items() if key not in kept}


def round1(medium: Medium, setup: CeremonySetup, mailbox: Mailbox) -> list[str]:
    me = medium.take_setup(setup)
    t = Trustee(medium, setup, me)
    poly = medium.polynomial(setup.threshold)
    t.send_once(
        "commitments",
        lambda: commitments_message(poly, me, medium.signing_key(), setup),
        mailbox,
    )
    lines = [
        f"1라운드 완료 / round 1 done: trustee {t.label(me)} sent their commitments",
        f"ceremony {setup.election_id}, {setup.threshold} of {setup.size} trustees:",
    ]
    # The setup's fingerprint is the same for everyone even when the organiser put their own
    # keys in another trustee's place; each identity's fingerprint, as its owner read it aloud
    # at `init`, shows that. Shares are sealed to these keys in round 2.
    lines += [
        f"  trustee {t.label(i.index)}: identity "
        + PublicIdentity(i.name, i.signing_key, i.box_key).fingerprint()
        for i in setup.trustees
    ]
    lines.append(
        "모든 신탁인의 신원 지문을 2라운드 전에 서로 읽어 확인하세요 / compare every "
        "trustee's identity fingerprint aloud before round 2"
    )
    return lines


def round2(medium: Medium, mailbox: Mailbox) -> list[str]:
    t = Trustee.of(medium)
    if medium.sent("commitments") is None:
        raise missing_step("round1", "this trustee has not sent their commitments")
    poly = medium.polynomial(t.setup.threshold)
    t.send_once(
        "shares", lambda: shares_message(poly, t.me, medium.signing_key(), t.setup), mailbox
    )
    return [
        f"2라운드 완료 / round 2 done: trustee {t.label(t.me)} sent a sealed share to each "
        f"of the {t.setup.size - 1} other trustees"
    ]


def check(medium: Medium, mailbox: Mailbox, *, stop_waiting: bool = False) -> list[str]:
    t = Trustee.of(medium)
    if medium.sent("shares") is None:
        raise missing_step("round2", "this trustee has not sent their shares")
    messages = t.read(mailbox)
    others = [i for i in t.setup.indices() if i != t.me]
    _wait_for(
        t, messages, [(k, i) for i in others for k in ("commitments", "shares")], stop_waiting
    )
    complaints = {}
    for i in others:
        if ("shares", i) not in messages or ("commitments", i) not in messages:
            # never sent (with --stop-waiting): the ceremony disqualifies them, no complaint
            # is needed; shares with no commitments to check them against are nobody's
            continue
        try:
            commitments = check_commitments(messages["commitments", i], t.setup)
            open_share(messages["shares", i], t.me, medium.box_key(), t.setup, commitments)
        except BadShare as e:
            complaints[i] = e.reason
        except CeremonyError as e:
            complaints[i] = e.detail
    verdict = t.send_once(
        "verdict",
        lambda: verdict_message(t.me, complaints, medium.signing_key(), t.setup),
        mailbox,
    )
    sent = verdict_complaints(verdict, t.setup)
    if not sent:
        return [
            f"확인 완료 / check done: every share you received is correct; your acceptance "
            f"was sent ({len(others)} trustees)"
        ]
    lines = ["확인 완료, 이의 제기함 / check done, with complaints:"]
    lines += [f"  trustee {t.label(i)}: {why}" for i, why in sorted(sent.items())]
    lines.append(
        "그 신탁인은 이제 몫을 공개해야 합니다 / that trustee must now reveal the share; "
        "run `ledger trustee finish` once the reveals are in"
    )
    return lines


def complaints_against(t: Trustee, messages: Messages) -> dict[int, str]:
    found = {}
    for (kind, sender), message in messages.items():
        if kind == "verdict":
            reasons = verdict_complaints(message, t.setup)
            if t.me in reasons:
                found[sender] = reasons[t.me]
    return found


def reveal(medium: Medium, mailbox: Mailbox, *, stop_waiting: bool = False) -> list[str]:
    t = Trustee.of(medium)
    if medium.sent("verdict") is None:
        raise missing_step("check", "this trustee has not checked their shares")
    messages = t.read(mailbox)
    _wait_for(t, messages, [("verdict", i) for i in t.setup.indices()], stop_waiting)
    against = complaints_against(t, messages)
    if not against:
        return ["이의 없음 / no complaint against you: nothing to reveal"]
    poly = medium.polynomial(t.setup.threshold)
    t.send_once(
        "reveal",
        lambda: reveal_message(poly, t.me, sorted(against), medium.signing_key(), t.setup),
        mailbox,
    )
    lines = [
        "이의가 제기되어 몫을 공개했습니다 / complaints against you; "
        "your shares for them were revealed:"
    ]
    lines += [f"  trustee {t.label(j)} said: {why}" for j, why in sorted(against.items())]
    lines.append("the other trustees now check them against your round 1 commitments")
    return lines


def finish(medium: Medium, mailbox: Mailbox, *, stop_waiting: bool = False) -> list[str]:
    t = Trustee.of(medium)
    if medium.sent("verdict") is None:
        raise missing_step("check", "this trustee has not checked their shares")
    messages = {key: m for key, m in t.read(mailbox).items() if key[0] != "result"}
    against = complaints_against(t, messages)
    if against and ("reveal", t.me) not in messages:
        names = ", ".join(t.label(j) for j in sorted(against))
        raise TrusteeToolError(
            f"trustees {names} complained about your share; run `ledger trustee reveal` first",
            "다른 신탁인이 당신의 몫에 이의를 제기했습니다. 먼저 `ledger trustee reveal` 을 "
            "실행하세요. 공개하지 않으면 당신은 제외됩니다.",
            "Another trustee complained about your share. Run `ledger trustee reveal` first; "
            "if you do not, you are left out of the key.",
        )
    _wait_for(t, messages, _everything_due(t, messages), stop_waiting)
    try:
        outcome = evaluate(t.setup, messages.values())
    except CeremonyError as e:
        raise TrusteeToolError(
            str(e),
            "키 생성 절차가 실패했습니다. 선거 관리자에게 이 메시지를 보여 주세요.",
            "The key ceremony failed. Show this message to the election manager.",
        ) from e
    if t.me in outcome.disqualified:
        raise TrusteeToolError(
            f"you were disqualified: {outcome.disqualified[t.me]}",
            "당신은 이 키 생성에서 제외되었습니다. 선거 관리자에게 알리세요.",
            "You were left out of this key ceremony. Tell the election manager.",
        )
    share = _my_share(t, messages, outcome)
    medium.keep_share(share)
    (medium.path / POLYNOMIAL).unlink(missing_ok=True)  # no longer needed: z_j is kept
    result = t.send_once(
        "result", lambda: result_message(t.me, outcome, medium.signing_key(), t.setup), mailbox
    )
    if result.body != outcome.result_body():
        raise TrusteeToolError(
            "this medium signed a different result earlier; the transcript changed since",
            "이전에 서명한 결과와 지금 계산한 결과가 다릅니다. 선거 관리자에게 알리세요.",
            "The result you signed earlier differs from what the transcript gives now. Tell "
            "the election manager.",
        )
    medium.keep_result({"setup": t.setup.to_json(), "result": outcome.result_body()})
    return _finish_lines(t, outcome)


def _my_share(t: Trustee, messages: Messages, outcome: CeremonyOutcome) -> TrusteeShare:
    """z_j from the shares sealed to me (a revealed one replaces a bad one), checked
    against Z_j = z_j·G that everyone computes from the commitments."""
    if t.medium.has_polynomial():
        received = {t.me: t.medium.polynomial(t.setup.threshold).evaluate(t.me)}
    else:
        return t.medium.share()  # finished before: the share is on the medium already
    for i in outcome.qualified:
        if i == t.me or (i, t.me) in outcome.revealed:
            continue
        commitments = list(outcome.commitments[i])
        received[i] = open_share(
            messages["shares", i], t.me, t.medium.box_key(), t.setup, commitments
        )
    z = secret_share(t.me, received, outcome)
    if base_mul(z) != outcome.verification_keys[t.me]:
        raise TrusteeToolError(
            "z_j·G is not Z_j", "키 몫 확인에 실패했습니다.", "Your key share does not check out."
        )
    return TrusteeShare(outcome.setup_hash, t.me, z)


def _finish_lines(t: Trustee, outcome: CeremonyOutcome) -> list[str]:
    key = outcome.election_key.hex()
    lines = [
        "완료 / finished: your share of the election key is on your medium only",
        f"election key K: {' '.join(key[i : i + 8] for i in range(0, 32, 8))} …",
        f"transcript hash: {outcome.transcript_hash.hex()[:32]} …",
        f"your verification key Z_{t.me} = z_{t.me}·G checked",
        "qualified trustees: " + ", ".join(t.label(i) for i in outcome.qualified),
    ]
    lines += [
        f"left out: trustee {t.label(i)}: {why}" for i, why in sorted(outcome.disqualified.items())
    ]
    lines.append("compare K and the transcript hash aloud with every other trustee")
    return lines


def _everything_due(t: Trustee, messages: Messages) -> list[tuple[str, int]]:
    due = [(k, i) for i in t.setup.indices() for k in ("commitments", "shares", "verdict")]
    accused = {
        a
        for (kind, j), m in messages.items()
        if kind == "verdict"
        for a in verdict_complaints(m, t.setup)
    }
    return due + [("reveal", a) for a in sorted(accused)]


def _wait_for(
    t: Trustee, messages: Messages, due: list[tuple[str, int]], stop_waiting: bool
) -> None:
    """Refuse to go on while a message is due, unless the trustees agreed to stop waiting
    (then whoever sent nothing is left out by the ceremony's own rules)."""
    missing = [(kind, i) for kind, i in due if (kind, i) not in messages]
    if not missing or stop_waiting:
        return
    listed = ", ".join(f"{kind} from trustee {t.label(i)}" for kind, i in missing)
    raise TrusteeToolError(
        f"still waiting for: {listed}",
        "아직 오지 않은 메시지가 있습니다. 다른 신탁인이 앞 단계를 마칠 때까지 기다렸다가 "
        "다시 실행하세요. (모두 합의하면 --stop-waiting 으로 기다리지 않을 수 있습니다.)",
        "Some messages have not arrived yet. Wait until the other trustees finish the earlier "
        "step, then run this again. (If everyone agrees, --stop-waiting goes on without them.)",
    )
