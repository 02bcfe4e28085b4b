"""The dashboard's log panel: how far ingest and the signed tree have come and how long a leaf
waits between them, which witnesses cosigned the newest checkpoint, how far behind each mirror
is, and whether an acknowledgement waited for a second machine's disk.

Mirrors are asked in a thread of their own (``MirrorWatch``) with a short timeout, and the
dashboard reads what that thread last saw: a mirror that is down never holds up a page. Every
figure the ledger cannot know is None in the answer, never 0."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from kiosk.core.cosignature import cosignatures
from kiosk.core.errors import EncodingError, VerificationError
from ledger.store import log_health as reads
from ledger.store.schema import Engine
from ledger.witness.client import Witness

ENVIRONMENT = "HANPYO_MIRRORS"  # NAME=URL entries, separated by spaces or newlines
POLL_S = 2.0  # how often each mirror is asked for its status (as often as the page reads)
TIMEOUT_S = 2.0  # a mirror slower than this counts as not answering this round
MAX_STATUS = 64 * 1024  # bytes: a mirror's status is a few hundred
# Commit levels at which a commit on the primary waits for a synchronous standby
# (PostgreSQL 15 manual, 20.5.1 "synchronous_commit").
WAITING_COMMITS = frozenset({"on", "remote_write", "remote_apply"})


@dataclass(frozen=True, slots=True)
class Mirror:
    name: str
    url: str

    @classmethod
    def parse(cls, spec: str) -> Mirror:
        """``NAME=URL``, the URL an http(s) address of a running ``ledger mirror serve``."""
        name, _, url = spec.partition("=")
        parts = urlsplit(url)
        if not name or parts.scheme not in ("http", "https") or not parts.netloc:
            raise EncodingError(f"give each mirror as NAME=http(s)://HOST:PORT, not {spec!r}")
        return cls(name, url.rstrip("/"))


def mirrors_from_environment() -> list[Mirror]:
    return [Mirror.parse(s) for s in os.environ.get(ENVIRONMENT, "").split()]


@dataclass(frozen=True, slots=True)
class MirrorSeen:
    """What a mirror said the last time it was asked."""

    mirror: Mirror
    size: int | None = None  # entries in its verified copy, as of its last answer
    verified_at: str | None = None  # when it last verified a checkpoint, in its own words
    answered_at: datetime | None = None  # when it last answered at all
    failing: str | None = None  # why the latest question went unanswered; None if it answered


class MirrorWatch:
    """Asks each mirror for ``/v1/mirror/status`` every ``poll_s`` in a daemon thread."""

    def __init__(self, mirrors: list[Mirror], *, poll_s: float = POLL_S) -> None:
        self.poll_s = poll_s
        self._seen = {m.name: MirrorSeen(m, failing="not asked yet") for m in mirrors}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="hanpyo-mirrors", daemon=True)

    def start(self) -> MirrorWatch:
        if self._seen:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=TIMEOUT_S * 2)

    def seen(self) -> list[MirrorSeen]:
        with self._lock:
            return list(self._seen.values())

    def _run(self) -> None:
        while not self._stop.is_set():
            for seen in self.seen():
                latest = self._ask(seen)
                with self._lock:
                    self._seen[seen.mirror.name] = latest
            self._stop.wait(self.poll_s)

    def _ask(self, before: MirrorSeen) -> MirrorSeen:
        mirror = before.mirror
        try:
            with self._session.get(
                f"{mirror.url}/v1/mirror/status", timeout=TIMEOUT_S, stream=True
            ) as answer:
                answer.raise_for_status()
                # Read no more than a status can be: a mirror is someone else's server.
                body = answer.raw.read(MAX_STATUS + 1, decode_content=True)
            if len(body) > MAX_STATUS:
                raise ValueError(f"its status is longer than {MAX_STATUS} bytes")
            status = json.loads(body)
            size = status["size"]
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ValueError(f"its size is {size!r}")
        except (requests.RequestException, OSError, ValueError, KeyError, TypeError) as e:
            # Keep what it said last: its size then is still the best we know, with its time.
            return MirrorSeen(mirror, before.size, before.verified_at, before.answered_at, str(e))
        verified = status.get("verified_at")
        return MirrorSeen(
            mirror, size, None if verified is None else str(verified), datetime.now(UTC)
        )


def log_health(
    reader: Engine,
    witnesses: list[Witness],
    mirrors: list[MirrorSeen],
    now: datetime | None = None,
) -> dict[str, Any]:
    """The panel's figures as JSON: sizes, ages in seconds, witnesses, mirrors, standby."""
    now = now or datetime.now(UTC)
    p = reads.progress(reader)
    waiting = 0.0 if p.sequenced == p.integrated else _age(now, p.oldest_waiting_at)
    return {
        "sequenced": p.sequenced,
        "integrated": p.integrated,
        "integration_delay_s": waiting,
        "checkpoint_size": p.checkpoint_size,
        "checkpoint_age_s": _age(now, p.checkpoint_at),
        "witnesses": [_witness(reader, w, p.checkpoint_size) for w in witnesses],
        "mirrors": [_mirror(m, p.integrated, now) for m in mirrors],
        "standby": _standby(reads.standby(reader)),
    }


def _witness(reader: Engine, witness: Witness, newest: int | None) -> dict[str, Any]:
    def carries(note: str) -> bool:
        try:
            return bool(cosignatures(note, [witness.key]))
        except VerificationError:
            return False  # a line under its name that does not verify is no cosignature

    found = reads.newest_cosigned(reader, witness.key.name, carries)
    size = None if found is None else found[0]
    at = None
    if found is not None:
        stamp = cosignatures(found[1], [witness.key])[0].timestamp
        at = datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")
    return {
        "name": witness.label,
        "url": witness.url,
        "cosigned_newest": newest is not None and size == newest,
        "last_cosigned_size": size,  # None: not within the newest checkpoints searched
        "last_cosigned_at": at,
        "searched": reads.COSIGNED_SEARCH,
    }


def _mirror(seen: MirrorSeen, ours: int, now: datetime) -> dict[str, Any]:
    return {
        "name": seen.mirror.name,
        "url": seen.mirror.url,
        "answering": seen.failing is None,
        "failing": seen.failing,
        "size": seen.size,
        "lag": None if seen.size is None else ours - seen.size,
        "verified_at": seen.verified_at,
        "answered_s_ago": _age(now, seen.answered_at),
    }


def _standby(found: reads.Standby | None) -> dict[str, Any]:
    if found is None:
        return {"database": "sqlite"}
    synchronous = [r for r in found.replicas if r.sync_state in ("sync", "quorum")]
    configured = bool(found.synchronous_names.strip())
    return {
        "database": "postgresql",
        # A commit waits for a standby's disk only with both settings; with names set and no
        # synchronous standby connected, commits wait for one to come back.
        "commits_wait": configured and found.synchronous_commit in WAITING_COMMITS,
        "synchronous_standby_names": found.synchronous_names,
        "synchronous_commit": found.synchronous_commit,
        "synchronous_connected": len(synchronous),
        "replicas": [
            {
                "name": r.name,
                "state": r.state,
                "sync_state": r.sync_state,
                "replay_lag_s": r.replay_lag_s,
            }
            for r in found.replicas
        ],
    }


def _age(now: datetime, then: datetime | None) -> float | None:
    if then is None:
        return None
    return round(max(0.0, (now - then).total_seconds()), 1)
