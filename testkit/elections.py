"""Synthetic elections shaped like a community-proposal review, for the demo, tests and benches.

Everything is derived from a seed, so a simulated card's key can be re-created from its
index: the demo, the card simulator and the tests agree on who is who without sharing files.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk.core.ballot import Ballot, Selection
from kiosk.core.crypto import SigningKey, sha256
from kiosk.core.election import (
    ContestId,
    ContestKind,
    ElectionPackage,
    OptionId,
    SignedPackage,
    StaffRole,
    Voter,
    read_package,
    sign_package,
)
from kiosk.core.encoding import b64e
from kiosk.core.verifiable.ceremony import CeremonyOutcome, TrusteeShare
from kiosk.core.verifiable.decryption import lagrange_coefficient
from kiosk.core.verifiable.group import ORDER
from testkit.election_v2_sections import Person, v2_sections

COMMUNITIES: tuple[tuple[str, str], ...] = (
    ("햇살마을", "Haetsal Village"),
    ("느티나무동", "Neutinamu-dong"),
    ("바람개비골", "Baramgaebi Gol"),
    ("솔숲마을", "Solsup Village"),
    ("은행골", "Eunhaeng Gol"),
    ("새터마을", "Saeteo Village"),
    ("물빛동", "Mulbit-dong"),
    ("들꽃마을", "Deulkkot Village"),
    ("별빛동", "Byeolbit-dong"),
    ("강변마을", "Gangbyeon Village"),
    ("돌담골", "Doldam Gol"),
    ("푸른언덕", "Pureun Eondeok"),
    ("큰샘마을", "Keunsaem Village"),
    ("미루나무동", "Mirunamu-dong"),
    ("달맞이골", "Dalmaji Gol"),
    ("한내마을", "Hannae Village"),
    ("소나무동", "Sonamu-dong"),
    ("배꽃마을", "Baekkot Village"),
    ("장터골", "Jangteo Gol"),
    ("연꽃마을", "Yeonkkot Village"),
    ("청솔동", "Cheongsol-dong"),
    ("노을마을", "Noeul Village"),
    ("샘골", "Saem Gol"),
    ("무지개동", "Mujigae-dong"),
)

THEMES: tuple[tuple[str, str, str, str], ...] = (
    (
        "어르신 건강 체조 교실",
        "Exercise classes for older residents",
        "매주 두 번 경로당에서 강사와 함께 하는 체조 교실",
        "A twice-weekly class with a trainer at the senior centre",
    ),
    (
        "골목길 벽화 그리기",
        "Murals for our alleys",
        "주민과 학생이 함께 어두운 골목에 벽화를 그립니다",
        "Residents and students paint murals in dark alleys",
    ),
    (
        "마을 공동 텃밭",
        "Shared village garden",
        "빈터에 텃밭을 만들어 수확물을 이웃과 나눕니다",
        "Turn an empty lot into a garden and share the harvest",
    ),
    (
        "아이 돌봄 나눔방",
        "Neighbourhood childcare room",
        "맞벌이 가정을 위한 방과 후 돌봄 공간",
        "An after-school space for working families",
    ),
    (
        "하천 정화 활동",
        "Stream clean-up",
        "한 달에 한 번 주민이 함께 하천을 청소합니다",
        "Residents clean the stream together once a month",
    ),
    (
        "마을 도서관 책 나눔",
        "Village library book share",
        "작은 도서관에 책장을 더하고 책 교환을 엽니다",
        "More shelves and a book swap at the small library",
    ),
    (
        "안전한 통학로 만들기",
        "Safer walk to school",
        "통학로에 안전 표지와 보행 안내선을 설치합니다",
        "Signs and walking lines on the route to school",
    ),
    (
        "전통시장 활성화 축제",
        "Traditional market festival",
        "시장 상인과 함께 하는 주말 먹거리 축제",
        "A weekend food festival with the market traders",
    ),
    (
        "태양광 가로등 설치",
        "Solar street lights",
        "어두운 길에 태양광 가로등을 세웁니다",
        "Solar lamps for dark streets",
    ),
    (
        "청소년 밴드 연습실",
        "Practice room for youth bands",
        "방음 연습실을 만들어 청소년에게 엽니다",
        "A soundproof room open to young musicians",
    ),
    (
        "반려동물 산책 공원",
        "Dog-walking park",
        "목줄 없이 뛰놀 수 있는 작은 울타리 공원",
        "A small fenced park for dogs off the lead",
    ),
    (
        "다문화 요리 교실",
        "Multicultural cooking class",
        "이주민 이웃이 고향 요리를 가르칩니다",
        "Neighbours from abroad teach the food of home",
    ),
    (
        "무료 자전거 수리",
        "Free bicycle repairs",
        "매주 토요일 자전거 수리와 수리법 강습",
        "Repairs and repair lessons every Saturday",
    ),
    (
        "마을 소식지 발간",
        "Village newsletter",
        "주민 기자단이 계간 소식지를 만듭니다",
        "Resident reporters make a quarterly newsletter",
    ),
    (
        "경로당 난방 개선",
        "Warmer senior centre",
        "경로당 창호와 단열을 고칩니다",
        "New windows and insulation for the senior centre",
    ),
    (
        "빗물 저금통 설치",
        "Rain barrels",
        "빗물을 모아 화단과 텃밭에 씁니다",
        "Collect rain for flower beds and gardens",
    ),
    (
        "디지털 배움터",
        "Digital help desk",
        "어르신께 스마트폰 사용법을 알려 드립니다",
        "Smartphone lessons for older residents",
    ),
    (
        "주민 영화 상영회",
        "Open-air film nights",
        "여름밤 공원에서 함께 영화를 봅니다",
        "Films in the park on summer nights",
    ),
    (
        "쓰레기 분리배출 도우미",
        "Recycling helpers",
        "분리배출 안내와 재활용 정거장 운영",
        "Guidance and a recycling station",
    ),
    (
        "공유 공구 도서관",
        "Tool library",
        "공구를 빌려 쓰는 마을 공구함",
        "Borrow tools instead of buying them",
    ),
)

REVIEW_SCORE_MIN, REVIEW_SCORE_MAX, LIKES_MAX = 1, 10, 6


def proposal_id(group: int, index: int) -> OptionId:
    return OptionId(f"p{group:04d}-{index:02d}")


REFERENCE_CLOSE = "2017-11-25T18:00:00+09:00"  # when the reference event closed
STAYS_OPEN = "2099-12-31T18:00:00+09:00"


def stays_open(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``definition`` that closes in ``STAYS_OPEN``: the demo replays the sample
    election with today's kiosks."""
    d = copy.deepcopy(dict(definition))
    d["schedule"] = dict(d["schedule"]) | {"closes": STAYS_OPEN}
    return d


def review_definition(
    groups: int = 68,
    per_group: int = 12,
    *,
    election_id: str = "provincial-review-2017",
    seed: int = 2017,
    closes: str = STAYS_OPEN,
) -> dict[str, Any]:
    """An election definition like the reference event: ``groups`` groups of ``per_group``
    proposals, scored on site by residents and experts and "liked" online. No keys or roll.

    It opens when the reference event did and, unless ``closes`` says otherwise, stays open:
    kiosks in the tests and the demo cast at today's time, and an official ballot dated
    outside the schedule is refused. The sample asset closes when the event did
    (``REFERENCE_CLOSE``)."""
    rng = random.Random(seed)
    group_docs, options = [], []
    for g in range(1, groups + 1):
        place_ko, place_en = COMMUNITIES[(g - 1) % len(COMMUNITIES)]
        lap = (g - 1) // len(COMMUNITIES)
        suffix_ko, suffix_en = (f" {lap + 1}권역", f" (area {lap + 1})") if lap else ("", "")
        group_docs.append(
            {
                "id": f"g{g:03d}",
                "title": {
                    "ko": f"{g}조 · {place_ko}{suffix_ko}",
                    "en": f"Group {g} · {place_en}{suffix_en}",
                },
            }
        )
        for i in range(1, per_group + 1):
            t_ko, t_en, s_ko, s_en = rng.choice(THEMES)
            who_ko, who_en = COMMUNITIES[rng.randrange(len(COMMUNITIES))]
            options.append(
                {
                    "id": proposal_id(g, i),
                    "group": f"g{g:03d}",
                    "title": {"ko": f"{who_ko} {t_ko}", "en": f"{t_en}, {who_en}"},
                    "summary": {"ko": s_ko, "en": s_en},
                    "budget": rng.randrange(5, 60) * 1_000_000,
                }
            )
    return {
        "v": 2,
        "id": election_id,
        "title": {
            "ko": "2017 도민 참여 공동체 제안 심사",
            "en": "2017 Provincial Community Proposal Review",
        },
        "schedule": {"opens": "2017-11-25T09:00:00+09:00", "closes": closes},
        "ledger": {"url": "http://127.0.0.1:8400", "tls_pin": None},
        "categories": [
            {
                "id": "resident",
                "title": {"ko": "주민 대표", "en": "Resident representative"},
                "weight": 1.0,
                "channel": "kiosk",
            },
            {
                "id": "expert",
                "title": {"ko": "전문가 심사위원", "en": "Expert judge"},
                "weight": 1.0,
                "channel": "kiosk",
            },
            {
                "id": "online",
                "title": {"ko": "온라인 참여 주민", "en": "Online member"},
                "weight": 1.0,
                "channel": "online",
            },
        ],
        "groups": group_docs,
        "options": options,
        "contests": [
            {
                "id": "review",
                "kind": "score",
                "title": {"ko": "우리 조 제안 심사", "en": "Score the proposals of your group"},
                "categories": ["resident", "expert"],
                "scope": "group",
                "min": REVIEW_SCORE_MIN,
                "max": REVIEW_SCORE_MAX,
            },
            {
                "id": "likes",
                "kind": "choice",
                "title": {"ko": "마음에 드는 제안 고르기", "en": "Like the proposals you support"},
                "categories": ["online"],
                "scope": "group",
                "min": 0,
                "max": LIKES_MAX,
            },
        ],
        "tally": {
            "method": "quota",
            "channels": {
                "kiosk": {"weight": 0.5, "winners": 250},
                "online": {"weight": 0.5, "winners": 200},
            },
            "drop_extremes": True,
            "tie_break": "lowest option id",
        },
        "duplicate_policy": "in_person_wins",
    }


def derived_key(seed: str, role: str, index: int) -> SigningKey:
    """A reproducible Ed25519 key for synthetic card ``index`` of ``role`` (never for real use)."""
    return SigningKey(sha256(f"hanpyo-synthetic/{seed}/{role}/{index}".encode()))


@dataclass(frozen=True, slots=True)
class SyntheticElection:
    """A signed-ready package with every secret the test or demo needs to play all parts: the
    trustees' shares of its election key, from a simulated ceremony, and test cards
    (``test_card_keys``, enrolled on the package's test roll)."""

    package: ElectionPackage
    authority: SigningKey
    voter_keys: tuple[SigningKey, ...]
    staff_keys: tuple[SigningKey, ...]
    test_card_keys: tuple[SigningKey, ...] = ()
    # Each trustee's z_j by index (any threshold of them decrypt) and the ceremony's
    # public outcome (K, every Z_j, the commitments and the transcript hash).
    trustee_shares: Mapping[int, TrusteeShare] = field(default_factory=dict)
    ceremony: CeremonyOutcome | None = None

    def signed(self) -> SignedPackage:
        """The package signed by this election's authority, as kiosks and the ledger load it."""
        return sign_package(self.package, self.authority)


def build_election(
    definition: Mapping[str, Any],
    *,
    seed: str = "demo",
    experts_per_group: int = 2,
    online_per_proposal: int = 9,
    poll_workers: int = 2,
    managers: int = 1,
    max_voters: int | None = None,
    protocol: int = 2,
    test_cards: int = 2,
    trustees: tuple[int, int] = (5, 3),
    log_key: str | None = None,
    witnesses: tuple[int, tuple[str, ...]] = (0, ()),
    min_column: int = 10,
) -> SyntheticElection:
    """Enrol synthetic cards into ``definition``: one resident per proposal (recused from it),
    experts per group, and online members per proposal (also recused). Keys come from ``seed``.

    The package is protocol v2 (the only one; ``protocol`` is kept so callers can say so):
    voter ids from ``seed``, an election key from a simulated ceremony of ``trustees`` = (n, k),
    ``test_cards`` test cards (the voters' categories and groups in turn), the ledger's
    ``log_key`` (its verifier key, name+id+key), ``witnesses`` = (threshold, vkeys) and the
    smallest count column ``min_column``."""
    if protocol != 2:
        raise ValueError(f"protocol 2 is the only protocol, not {protocol}")
    people = _people(definition, experts_per_group, online_per_proposal)
    if max_voters is not None:
        people = people[:max_voters]
    voter_keys = tuple(derived_key(seed, "voter", i) for i in range(len(people)))
    roles = [StaffRole.POLL_WORKER] * poll_workers + [StaffRole.ELECTION_MANAGER] * managers
    staff_keys = tuple(derived_key(seed, "staff", i) for i in range(len(roles)))
    staff = [
        {"card_key": b64e(k.public_key), "role": r.value, "name": f"{r.value} {i + 1}"}
        for i, (k, r) in enumerate(zip(staff_keys, roles, strict=True))
    ]
    authority = derived_key(seed, "authority", 0)
    test_card_keys = tuple(derived_key(seed, "test-card", i) for i in range(test_cards))
    v2 = v2_sections(definition, seed, people, voter_keys, test_card_keys, trustees)
    extra = {
        "ledger": dict(definition["ledger"]) | {"log_key": log_key},
        "witnesses": {"threshold": witnesses[0], "keys": list(witnesses[1])},
        "privacy": {"min_column": min_column},
    }
    package = read_package(dict(definition) | v2.document | extra | {"staff": staff})
    return SyntheticElection(
        package,
        authority,
        voter_keys,
        staff_keys,
        test_card_keys,
        v2.shares,
        v2.outcome,
    )


def _people(
    definition: Mapping[str, Any], experts_per_group: int, online_per_proposal: int
) -> list[Person]:
    by_group: dict[str, list[str]] = {}
    for o in definition["options"]:
        by_group.setdefault(o["group"], []).append(o["id"])
    people: list[Person] = []
    for group, proposals in by_group.items():
        people += [("resident", group, [p]) for p in proposals]
        people += [("expert", group, []) for _ in range(experts_per_group)]
        people += [("online", group, [p]) for p in proposals for _ in range(online_per_proposal)]
    return people


def random_ballot(package: ElectionPackage, voter: Voter, rng: random.Random) -> Ballot:
    """A valid ballot for ``voter``, with random but plausible choices."""
    selections: dict[ContestId, Selection] = {}
    for contest in package.contests_for(voter.category):
        options = [o.id for o in package.eligible_options(contest, voter.group, voter.excluded)]
        match contest.kind:
            case ContestKind.CHOICE:
                count = rng.randint(contest.min, min(contest.max, len(options)))
                selections[contest.id] = tuple(sorted(rng.sample(options, count)))
            case ContestKind.SCORE:
                if contest.criteria:
                    selections[contest.id] = {
                        o: {c.id: rng.randint(contest.min, contest.max) for c in contest.criteria}
                        for o in options
                    }
                else:
                    selections[contest.id] = {
                        o: rng.randint(contest.min, contest.max) for o in options
                    }
            case ContestKind.YESNO:
                selections[contest.id] = rng.choice(("yes", "no", "blank"))
    return Ballot(package.id, voter.category, voter.group, selections)


def mixed_definition(
    groups: int = 3, per_group: int = 4, election_id: str = "test-review"
) -> dict[str, Any]:
    """A small review election (3 groups of 4) plus a criteria-scored contest for experts
    and a yes/no question for residents, so every contest kind is exercised."""
    d = copy.deepcopy(review_definition(groups, per_group, election_id=election_id))
    d["contests"].append(
        {
            "id": "expert-criteria",
            "kind": "score",
            "title": {"ko": "전문가 항목별 심사", "en": "Expert scoring by criterion"},
            "categories": ["expert"],
            "scope": "group",
            "min": 0,
            "max": 5,
            "criteria": [
                {"id": "impact", "title": {"ko": "효과", "en": "Impact"}, "weight": 0.6},
                {
                    "id": "feasibility",
                    "title": {"ko": "실현 가능성", "en": "Feasibility"},
                    "weight": 0.4,
                },
            ],
        }
    )
    d["contests"].append(
        {
            "id": "rules",
            "kind": "yesno",
            "title": {"ko": "심사 규칙에 동의합니까?", "en": "Do you accept the review rules?"},
            "categories": ["resident"],
        }
    )
    return d


def roll_file_entries(package: ElectionPackage) -> list[dict[str, Any]]:
    """The package's voters as `kiosk cards enrol` writes them into a roll file: one card key
    each, no voter id (`ledger election create` draws those)."""
    return [
        {
            "card_key": b64e(e.card_key),
            "category": e.category,
            "group": e.group,
            "excluded": sorted(e.excluded),
        }
        for e in package.roll
    ]


def card_of(election: SyntheticElection, voter: Voter) -> SigningKey:
    """The synthetic card key ``voter`` signed in with (a voter card or a test card)."""
    key = _cards_by_public_key(election).get(voter.card_key)
    if key is None:
        raise LookupError("no synthetic card has this voter's key")
    return key


# The last few elections' cards by public key: deriving every card's public key to find one
# took about 0.1 s a ballot on a roll of 10,000 (the benches cast that many).
_CARD_INDEXES: list[tuple[SyntheticElection, dict[bytes, SigningKey]]] = []


def _cards_by_public_key(election: SyntheticElection) -> dict[bytes, SigningKey]:
    for known, index in _CARD_INDEXES:
        if known is election:
            return index
    index = {}
    for key in (*election.voter_keys, *election.test_card_keys):
        index.setdefault(key.public_key, key)  # the first, as the search found it
    _CARD_INDEXES.insert(0, (election, index))
    del _CARD_INDEXES[8:]
    return index


def test_voter(election: SyntheticElection, n: int = 0) -> Voter:
    """The holder of test card ``n`` (a test-mode kiosk takes only test cards)."""
    voter = election.package.test_voter_for_card(election.test_card_keys[n].public_key)
    assert voter is not None
    return voter


test_voter.__test__ = False  # type: ignore[attr-defined]  # a helper, not a pytest test


def election_secret(election: SyntheticElection) -> int:
    """The election key's whole secret, from a threshold of the simulated trustees' shares
    (Lagrange interpolation at 0): what no real party ever holds; a test that plays every
    trustee uses it to read back the ballots it cast."""
    key = election.package.election_key
    assert key is not None
    present = sorted(election.trustee_shares)[: key.threshold]
    total = 0
    for j in present:
        total += lagrange_coefficient(j, present) * election.trustee_shares[j].secret
    return total % ORDER


def voter_of(election: SyntheticElection, category: str, n: int = 0) -> Voter:
    """The ``n``-th enrolled voter of ``category``."""
    found = [e for e in election.package.roll if e.category == category]
    voter = election.package.voter_for_card(found[n].card_key)
    assert voter is not None
    return voter


# Titles that look like markup or formulas: mathtext, spreadsheet formulas, HTML. A title is
# text, so each must be shown exactly as written everywhere the election is published.
MARKUP_LIKE_TITLES: tuple[str, ...] = (
    "$\\frac{x$",
    '=HYPERLINK("http://x")',
    "+1",
    "@SUM(A1)",
    "<script>alert(1)</script>",
)


def with_option_titles(definition: Mapping[str, Any], titles: tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``definition`` whose first options are titled ``titles``, the same in Korean
    and English."""
    d = copy.deepcopy(dict(definition))
    for option, title in zip(d["options"], titles, strict=False):
        option["title"] = {"ko": title, "en": title}
    return d
