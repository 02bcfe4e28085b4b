"""Schemathesis against the ledger's OpenAPI document, built in-process from ``app.openapi()``
(production mode serves no /openapi.json) and called in-process through schemathesis' ASGI
transport: every operation, positive and negative, then stateful sequences that follow the
links added below. ``python -m fuzz.api_schema --cases 10000``; not part of CI."""

from __future__ import annotations

import argparse
import copy
import time
from collections import Counter
from typing import Any
from urllib.parse import unquote, urlsplit

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup

from fuzz import world
from fuzz.targets_ledger import _ledger, kiosk_authorization
from ledger.web.api import create_app

KIOSK_ROUTES = "/v1/kiosks/"
# (from, status, to, {parameter: runtime expression}): what a client does with an answer.
LINKS = [
    (
        "POST /v1/admin/kiosks",
        "KioskHead",
        "GET /v1/kiosks/{kiosk_id}/head",
        {"kiosk_id": "$response.body#/kiosk"},
    ),
    (
        "POST /v1/admin/kiosks",
        "KioskUpload",
        "POST /v1/kiosks/{kiosk_id}/blocks",
        {"kiosk_id": "$response.body#/kiosk"},
    ),
    (
        "POST /v1/admin/kiosks",
        "KioskHeartbeat",
        "POST /v1/kiosks/{kiosk_id}/heartbeat",
        {"kiosk_id": "$response.body#/kiosk"},
    ),
    (
        "GET /v1/kiosks/{kiosk_id}/head",
        "HeadUpload",
        "POST /v1/kiosks/{kiosk_id}/blocks",
        {"kiosk_id": "$response.body#/kiosk"},
    ),
    (
        "POST /v1/kiosks/{kiosk_id}/blocks",
        "UploadHead",
        "GET /v1/kiosks/{kiosk_id}/head",
        {"kiosk_id": "$response.body#/kiosk"},
    ),
    (
        "POST /v1/kiosks/{kiosk_id}/blocks",
        "UploadProof",
        "GET /v1/proofs/inclusion",
        {"size": "$response.body#/log_size"},
    ),
    (
        "POST /v1/kiosks/{kiosk_id}/blocks",
        "UploadConsistency",
        "GET /v1/proofs/consistency",
        {"new": "$response.body#/log_size"},
    ),
    (
        "GET /v1/proofs/inclusion",
        "ProofConsistency",
        "GET /v1/proofs/consistency",
        {"old": "$response.body#/size"},
    ),
    (
        "GET /v1/proofs/inclusion",
        "ProofRange",
        "GET /v1/proofs/inclusion-range",
        {"size": "$response.body#/size", "first": "$response.body#/leaf_index"},
    ),
]


class KioskSignature(requests.auth.AuthBase):
    """Signs each kiosk write as the kiosk's client does, over the exact bytes sent."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        raw = body.encode() if isinstance(body, str) else body
        if not isinstance(raw, bytes):
            raise TypeError("schemathesis sends whole bodies, never streams")
        url = urlsplit(str(r.url))
        r.headers["Authorization"] = kiosk_authorization(
            world.kiosk_key(), str(r.method), unquote(url.path), url.query, raw
        )
        return r


def with_links(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the LINKS added to the 200 answers of their operations."""
    doc = copy.deepcopy(document)
    ids = {
        f"{method.upper()} {path}": op["operationId"]
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    }
    for source, name, target, parameters in LINKS:
        if source not in ids or target not in ids:
            continue
        method, path = source.split(" ", 1)
        answer = doc["paths"][path][method.lower()]["responses"]["200"]
        answer.setdefault("links", {})[name] = {
            "operationId": ids[target],
            "parameters": parameters,
        }
    return doc


class Run:
    """Counts what was sent and what failed, by operation and by check."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.failures: dict[str, str] = {}
        self.checks: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        self.token = ""

    def kwargs(self, case: schemathesis.Case[Any], valid: bool) -> dict[str, Any]:
        if not valid:
            return {}
        if case.path.startswith("/v1/admin/"):
            return {"headers": {"Authorization": f"Bearer {self.token}"}}
        if case.method.upper() == "POST" and case.path.startswith(KIOSK_ROUTES):
            case.path_parameters = {**(case.path_parameters or {}), "kiosk_id": world.kiosk_id()}
            return {"auth": KioskSignature()}
        return {}

    def call(self, case: schemathesis.Case[Any], **kwargs: Any) -> Any:
        response = case.call(**kwargs)
        self.sent[f"{case.method.upper()} {case.path}"] += 1
        self.statuses[response.status_code] += 1
        return response

    def check(self, case: schemathesis.Case[Any], response: Any, kwargs: dict[str, Any]) -> None:
        """Every default check; each failure is counted by its title and the run goes on."""
        try:
            case.validate_response(response, transport_kwargs=kwargs)
        except FailureGroup as group:
            for failure in group.exceptions:
                title = f"{failure.title} ({case.method.upper()} {case.path})"
                self.checks[title] += 1
                answer = response.text[:300] if hasattr(response, "text") else ""
                self.examples.setdefault(title, f"{str(failure)[:400]}\nanswer: {answer}")

    def record(self, where: str, error: BaseException) -> None:
        self.failures.setdefault(where, f"{type(error).__name__}: {error}"[:2000])


def stateless(schema: Any, run: Run, per_operation: int) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(mode), valid=hypothesis.strategies.booleans())
            @settings(
                max_examples=per_operation,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def test(case: schemathesis.Case[Any], valid: bool) -> None:
                kwargs = run.kwargs(case, valid)
                response = run.call(case, **kwargs)
                run.check(case, response, kwargs)

            try:
                test()
            except Unsatisfiable:
                pass
            except (Exception, BaseExceptionGroup) as e:  # recorded, then the next operation
                run.record(f"{operation.label} ({mode.value})", e)


def stateful(schema: Any, run: Run, cases: int) -> None:
    base = schema.as_state_machine()

    class Machine(base):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return run.kwargs(case, True)

        def call(self, case: schemathesis.Case[Any], **kwargs: Any) -> Any:
            return run.call(case, **kwargs)

        def validate_response(
            self, response: Any, case: schemathesis.Case[Any], *args: Any, **kwargs: Any
        ) -> None:
            run.check(case, response, kwargs)

    rounds = 0
    while sum(run.sent.values()) < cases and rounds < 50:
        rounds += 1
        try:
            Machine.run(
                settings=settings(
                    max_examples=200,
                    stateful_step_count=10,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
            )
        except (Exception, BaseExceptionGroup) as e:  # recorded; the next round starts afresh
            run.record(f"stateful round {rounds}", e)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000, help="at least this many requests")
    parser.add_argument("--per-operation", type=int, default=300)
    args = parser.parse_args()
    holder = _ledger("schemathesis")
    ledger = holder.get()
    run = Run()
    run.token = holder.token
    app = create_app(ledger)
    schema = schemathesis.openapi.from_dict(with_links(app.openapi()))
    schema.app = app
    schema.location = "/openapi.json"
    started = time.monotonic()
    stateless(schema, run, args.per_operation)
    after_stateless = sum(run.sent.values())
    stateful(schema, run, args.cases)
    total = sum(run.sent.values())
    print(
        f"schemathesis {schemathesis.__version__ if hasattr(schemathesis, '__version__') else ''}"
    )
    print(
        f"requests: {total} ({after_stateless} stateless, {total - after_stateless} stateful) "
        f"in {time.monotonic() - started:.0f} s"
    )
    print("by operation:", dict(sorted(run.sent.items())))
    print("by status:", dict(sorted(run.statuses.items())))
    print("check failures:", dict(run.checks.most_common()))
    for title, text in run.examples.items():
        print(f"--- {title}\n{text}\n")
    print(f"errors: {len(run.failures)}")
    for where, text in run.failures.items():
        print(f"--- {where}\n{text}\n")


if __name__ == "__main__":
    main()
