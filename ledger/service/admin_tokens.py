"""Admin tokens: checking one for a piece of work, listing them and revoking them."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.rules.admin_access import TOKEN_PREFIX_LENGTH, AdminGrant, Scope
from ledger.rules.errors import LedgerError
from ledger.service.ledger import Ledger, token_hash
from ledger.store import registry

MIN_PREFIX = 4  # shorter prefixes name too many tokens to be a deliberate choice


def authorise(ledger: Ledger, token: str, scope: Scope, now: datetime | None = None) -> AdminGrant:
    """The grant of ``token`` if it may do ``scope`` work now; else the refusal."""
    return authorise_hash(ledger, token_hash(token), scope, now)


def authorise_hash(
    ledger: Ledger, hashed: bytes, scope: Scope, now: datetime | None = None
) -> AdminGrant:
    """As ``authorise``, for the token with this hash (a dashboard session holds only that)."""
    grant = registry.admin_grant(ledger.reader, hashed)
    if grant is None:
        raise LedgerError("not_admin", "that token is not an admin token")
    grant.authorise(scope, now or datetime.now(UTC))
    return grant


def grants(ledger: Ledger) -> list[AdminGrant]:
    return registry.admin_grants(ledger.reader)


def revoke(ledger: Ledger, *, label: str | None = None, prefix: str | None = None) -> int:
    """Revoke every live token with ``label``, or the one whose text starts with ``prefix``."""
    if (label is None) == (prefix is None):
        raise LedgerError("bad_request", "revoke by --label or by the token's first characters")
    if prefix is not None:
        if len(prefix) < MIN_PREFIX:
            raise LedgerError("bad_request", f"give at least {MIN_PREFIX} characters of the token")
        prefix = prefix[:TOKEN_PREFIX_LENGTH]  # all that is stored; a whole token works too
        live = [g for g in grants(ledger) if g.revoked_at is None and g.prefix.startswith(prefix)]
        if len(live) > 1:
            raise LedgerError(
                "ambiguous_prefix",
                f"{len(live)} live tokens start with {prefix!r}: give their label instead",
            )
    count = registry.revoke_admin_tokens(ledger.engine, label=label, prefix=prefix)
    if count == 0:
        raise LedgerError("not_found", "no live admin token matches; `ledger admin-token list`")
    return count
