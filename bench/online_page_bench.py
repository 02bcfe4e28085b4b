"""The online voting page on a phone (issue 19): what the browser downloads and how long it
computes. A real `hanpyo-online serve` serves the page as `npm run build` made it; Debian's
Chromium (headless, through Playwright, as the page's tests drive it) opens it on the phone
viewport (360 x 740, touch, mobile) with the CPU slowed 4x through the DevTools protocol
(Emulation.setCPUThrottlingRate), and without throttling as a baseline.

Measured in the page's own code: the protocol module (src/hanpyo-v2.js, bundled and minified
as the page is, served from the platform's dist/) imported into the page, and its functions
called there on the reference ballot (an online member of a 12-proposal group liking 3 of
the 11 proposals not their own): ``encryptBallot`` (every cell's encryption and proofs),
``fingerprint`` and ``castBody`` (the Ed25519 signature); the credential's Argon2id
(``deriveCredentialAsync``, what the page runs on Start). The last ballot is cast to the
platform, which checks it in full (the timed code made a ballot the platform accepts). And
the page's own step, timed from the tap on "review" to the fingerprint shown. Baselines: the
same ballot encrypted and signed in Python (``kiosk.core.ballot_crypto.encrypt_ballot``) and
the credential derived by libsodium (``credential_key``).

Run alone with `.venv/bin/python -m bench.online_page_bench` (prints the table).
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Browser

from bench.common import Row, percentile
from kiosk.core.ballot import Ballot
from kiosk.core.ballot_crypto import encrypt_ballot
from kiosk.core.crypto import Domain
from kiosk.core.election import ContestKind, Voter
from kiosk.core.election_parts import ContestId, OptionId
from kiosk.core.encrypted_ballot import card_message
from kiosk.core.online_credential import ARGON2_M_KIB, ARGON2_T, credential_key
from testkit.elections import review_definition
from testkit.online_browser import VotingPage, chromium, voting_page
from testkit.online_codes import CodedElection, OnlineMember, coded_election
from testkit.online_platform import OnlinePlatform
from testkit.online_web import WEB_DIR, built_bundle, protocol_bundle

LIKES = 3  # the reference ballot: 3 likes of the 11 proposals a member may like
THROTTLE = 4.0


@dataclass(frozen=True)
class PageTimes:
    """Milliseconds measured in the page at one CPU throttling rate."""

    rate: float
    ballots: list[float]  # encryptBallot + fingerprint + castBody, each run
    derivations: list[float]  # deriveCredentialAsync, each run
    review: list[float]  # the page's tap on review to the fingerprint shown


def _election() -> CodedElection:
    definition = review_definition(groups=2, per_group=12, election_id="online-page-bench")
    return coded_election(definition, seed="online-page-bench", test_cards=0)


def _voter(coded: CodedElection, member: OnlineMember) -> Voter:
    package = coded.election.package
    voter = package.voter_for_card(credential_key(member.code, package.id).public_key)
    if voter is None:
        raise RuntimeError("the member's credential key is not on the roll")
    return voter


def _likes(coded: CodedElection, voter: Voter) -> tuple[OptionId, ...]:
    package = coded.election.package
    contest = next(c for c in package.contests if c.kind is ContestKind.CHOICE)
    options = package.eligible_options(contest, voter.group, voter.excluded)
    return tuple(sorted(o.id for o in options)[:LIKES])


def _plaintext(coded: CodedElection, member: OnlineMember) -> dict[str, Any]:
    """The reference ballot as the page builds it (ballot_form.js plaintextBallot)."""
    package = coded.election.package
    return {
        "v": 1,
        "election": package.id,
        "category": "online",
        "group": member.group,
        "contests": {"likes": list(_likes(coded, _voter(coded, member)))},
    }


# The page's protocol module, imported where the page runs; every time in the page's clock.
MEASURE_JS = """async ({code, plaintext, runs, derivations}) => {
  const h = await import('/dist/hanpyo-v2.js');
  const pkg = (await (await fetch('/api/election')).json()).public; // the signed public part
  const derive = [];
  let cred;
  for (let i = 0; i < derivations; i++) {
    const t = performance.now();
    cred = await h.deriveCredentialAsync(code, pkg.id);
    derive.push(performance.now() - t);
  }
  const post = (path, body, session) => fetch(path, {method: 'POST', body: JSON.stringify(body),
    headers: {'Content-Type': 'application/json',
              ...(session ? {Authorization: `Bearer ${session}`} : {})}});
  const fresh = await (await post('/api/session/challenge', {})).json();
  const signature = h.sessionSignature(cred.seed, pkg.id, h.b64d(fresh.challenge));
  const session = await (await post('/api/session', {key: h.b64e(cred.publicKey),
    challenge: fresh.challenge, signature: h.b64e(signature)})).json();
  const ballots = [];
  let body = null;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const made = await h.encryptBallot(pkg, session.entry, plaintext, {test: false});
    h.fingerprint(made.ballot);
    body = h.castBody(cred.seed, pkg.id, session.voter, made.ballot);
    ballots.push(performance.now() - t);
  }
  const cast = await post('/api/ballots', body, session.session);
  return {derive, ballots, cast: cast.status, answer: await cast.text()};
}"""


def _measure(
    browser: Browser, url: str, coded: CodedElection, members: list[OnlineMember], rate: float,
    runs: int, derivations: int, reviews: int,
) -> PageTimes:  # fmt: skip
    module_member, page_member = members
    with voting_page(browser, url, "phone") as voter:
        voter.open()
        _slow_down(voter, rate)
        args = {"code": module_member.code, "plaintext": _plaintext(coded, module_member),
                "runs": runs, "derivations": derivations}  # fmt: skip
        done = voter.page.evaluate(MEASURE_JS, args)
        if done["cast"] != 201:
            raise RuntimeError(f"the platform refused the page's ballot: {done['answer']}")
    with voting_page(browser, url, "phone") as voter:
        review = _review_steps(voter, page_member, rate, reviews)
    return PageTimes(rate, done["ballots"], done["derive"], review)


def _slow_down(voter: VotingPage, rate: float) -> None:
    """The DevTools protocol's CPU throttling (Chrome DevTools' "4x slowdown") on this tab."""
    cdp = voter.page.context.new_cdp_session(voter.page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})


def _review_steps(
    voter: VotingPage, member: OnlineMember, rate: float, reviews: int
) -> list[float]:
    """The page's own review step, ``reviews`` times: sign in with the code, then like 3
    proposals, tap review, wait for the fingerprint, go back and change one like (a changed
    ballot is encrypted afresh; an unchanged one is not)."""
    page = voter.page
    voter.open(f"#code={member.code}")
    _slow_down(voter, rate)
    page.get_by_role("button", name="시작하기").click()
    voter.wait_step("ballot")
    boxes = page.get_by_role("checkbox")
    for n in range(LIKES):
        boxes.nth(n).check()
    times = []
    for run in range(reviews):
        start = time.perf_counter()
        page.get_by_role("button", name="내 투표 확인하기").click()
        voter.wait_step("review")
        voter.wait_fingerprint()
        times.append((time.perf_counter() - start) * 1000)
        page.click("#back")
        voter.wait_step("ballot")
        # swap the third like between the 3rd and the 4th proposal
        off, on = (LIKES - 1, LIKES) if run % 2 == 0 else (LIKES, LIKES - 1)
        boxes.nth(off).uncheck()
        boxes.nth(on).check()
    return times


def _python_times(
    coded: CodedElection, member: OnlineMember, runs: int
) -> tuple[list[float], list[float]]:
    """The same ballot encrypted, proved and signed in Python; the credential derived by
    libsodium (milliseconds)."""
    package = coded.election.package
    key = credential_key(member.code, package.id)
    voter = _voter(coded, member)
    likes = {ContestId("likes"): _likes(coded, voter)}
    ballot = Ballot(package.id, voter.category, voter.group, likes)
    ballots = []
    for _ in range(runs):
        start = time.perf_counter()
        encrypted, _ = encrypt_ballot(package, ballot, voter.excluded, test=False)
        encrypted.fingerprint  # noqa: B018  (what the page computes too)
        key.sign(Domain.BALLOT, card_message(package.id, voter.voter_id, encrypted.hash))
        ballots.append((time.perf_counter() - start) * 1000)
    derivations = []
    for _ in range(5):
        start = time.perf_counter()
        credential_key(member.code, package.id)
        derivations.append((time.perf_counter() - start) * 1000)
    return ballots, derivations


def _sizes(url: str) -> list[Row]:
    """dist/app.js and dist/app.css: minified, gzip -9, and the bytes the platform sends to a
    browser that accepts gzip; beside, the protocol module alone (the crypto libraries and
    hanpyo-v2.js, the bulk of the page's code)."""
    protocol = (WEB_DIR / "dist" / "hanpyo-v2.js").read_bytes()
    protocol_gz = len(gzip.compress(protocol, 9))
    rows = []
    for name in ("app.js", "app.css"):
        raw = (WEB_DIR / "dist" / name).read_bytes()
        packed = len(gzip.compress(raw, 9))
        answer = requests.get(
            f"{url}/dist/{name}", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=30
        )
        sent = len(answer.raw.read(decode_content=False))
        what = "JavaScript" if name.endswith(".js") else "CSS"
        rows.append(
            Row(
                f"voting page {what} (dist/{name}, minified), gzip",
                f"{packed / 1024:.1f} KiB ({raw_kib(raw)} minified; {sent / 1024:.1f} KiB sent, "
                f"{answer.headers.get('Content-Encoding', 'identity')})",
                f"protocol module alone (hanpyo-v2.js): {protocol_gz / 1024:.1f} KiB gzip",
                f"{packed / protocol_gz:.2f}",
            )
        )
    return rows


def raw_kib(data: bytes) -> str:
    return f"{len(data) / 1024:.1f} KiB"


def _ms(samples: list[float]) -> str:
    return f"{percentile(samples, 50):,.0f} / {percentile(samples, 95):,.0f} ms"


def _rows(pages: list[PageTimes], python: tuple[list[float], list[float]]) -> list[Row]:
    ballots, derivations = python
    py_ballot, py_derive = percentile(ballots, 50), percentile(derivations, 50)
    rows = []
    for times in pages:
        cpu = f"CPU {times.rate:g}x throttled" if times.rate > 1 else "CPU not throttled"
        runs = len(times.ballots)
        rows.append(
            Row(
                f"voting page, phone 360x740, {cpu}: encrypt, prove and sign the reference "
                f"ballot (3 likes of 11), p50 / p95 of {runs}"
                + (" (goal < 2 s)" if times.rate > 1 else ""),
                _ms(times.ballots),
                f"Python encrypt_ballot + sign p50: {py_ballot:,.0f} ms",
                f"{percentile(times.ballots, 50) / py_ballot:.1f}x",
            )
        )
        rows.append(
            Row(
                f"voting page, phone, {cpu}: the page's review step (tap to fingerprint shown), "
                f"p50 / p95 of {len(times.review)}",
                _ms(times.review),
                f"Python encrypt_ballot + sign p50: {py_ballot:,.0f} ms",
                f"{percentile(times.review, 50) / py_ballot:.1f}x",
            )
        )
        rows.append(
            Row(
                f"voting page, phone, {cpu}: credential derivation (Argon2id t={ARGON2_T}, "
                f"m={ARGON2_M_KIB // 1024} MiB), p50 / p95 of {len(times.derivations)}",
                _ms(times.derivations),
                f"libsodium (PyNaCl) p50: {py_derive:,.0f} ms",
                f"{percentile(times.derivations, 50) / py_derive:.1f}x",
            )
        )
    return rows


def bench_online_page(runs: int = 20, derivations: int = 10, reviews: int = 20) -> list[Row]:
    built_bundle()
    protocol_bundle()  # dist/hanpyo-v2.js, which the page imports here
    coded = _election()
    members = list(coded.members)
    python = _python_times(coded, members[0], runs)
    with (
        tempfile.TemporaryDirectory() as folder,
        OnlinePlatform(Path(folder), coded.election) as platform,
        chromium() as browser,
    ):
        platform.staff("open")
        rows = _sizes(platform.url)
        pages: list[PageTimes] = []
        for i, rate in enumerate((THROTTLE, 1.0)):
            two = members[2 * i : 2 * i + 2]
            pages.append(
                _measure(browser, platform.url, coded, two, rate, runs, derivations, reviews)
            )
    return rows + _rows(pages, python)


def notes() -> list[str]:
    return [
        "- voting page (bench/online_page_bench.py): a real `hanpyo-online serve` serving the page "
        "as `npm run build` made it, opened in Debian's headless Chromium through Playwright on "
        "the phone viewport (360 x 740, touch, mobile), the CPU slowed 4x with the DevTools "
        "protocol's Emulation.setCPUThrottlingRate (and not slowed, as a baseline). The times are "
        "the page's own code: the protocol module (src/hanpyo-v2.js bundled and minified as the "
        "page is) imported into the page, its encryptBallot + fingerprint + castBody (the Ed25519 "
        "signature) run on the reference ballot, an online member liking 3 of the 11 proposals of "
        "their group not their own; the last ballot is cast and the platform accepts it after "
        "every check. The review step is the page itself: a tap on review until the fingerprint "
        "shows, a like changed between runs so that each review encrypts afresh. The credential "
        "is deriveCredentialAsync (Argon2id, what Start runs). Baselines: the same ballot through "
        "kiosk.core.ballot_crypto.encrypt_ballot and an Ed25519 signature in Python, and "
        "credential_key (libsodium's Argon2id). Sizes: gzip -9 of the built files, and the bytes "
        "the platform sent (its GZip middleware).",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="ballots encrypted at each rate")
    parser.add_argument("--derivations", type=int, default=10, help="Argon2id runs at each rate")
    parser.add_argument("--reviews", type=int, default=20, help="review steps at each rate")
    args = parser.parse_args(argv)
    for row in bench_online_page(args.runs, args.derivations, args.reviews):
        print(f"| {row.name} | {row.value} | {row.baseline} | {row.ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
