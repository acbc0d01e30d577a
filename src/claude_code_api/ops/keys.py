"""API keys: minting managed keys, and resolving a presented key to the ``Principal`` a request runs as.

Static keys and the admin key come from settings and are compared in constant time; managed keys are looked up
by their SHA-256 hash in the ``Store`` (a hash lookup leaks nothing useful about the key itself).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from claude_code_api.errors import ApiError, Unauthenticated
from claude_code_api.ops.store import AsyncStore, InlineStore, KeyRecord, Store, utc_now

KEY_PREFIX = "sk-cca-"
ANONYMOUS = "anonymous"
ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who a request runs as, and the limits that apply. ``None`` limits mean unlimited; empty ``models``, all."""

    name: str
    admin: bool = False
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    models: tuple[str, ...] = ()
    agent: bool = False  # may use agent mode

    def may_use(self, model_id: str, resolve: Callable[[str], str]) -> bool:
        """Compare resolved ids, so a key allowed ``haiku`` may also ask for the full id it stands for."""
        return not self.models or model_id in {_resolved(m, resolve) for m in self.models}

    @property
    def limited(self) -> bool:
        return any(v is not None for v in (self.rpm, self.tpm, self.max_concurrent))


def _resolved(name: str, resolve: Callable[[str], str]) -> str:
    try:
        return resolve(name)
    except ApiError:  # a name the server no longer knows allows nothing beyond itself
        return name


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def mint_key(
    store: Store,
    name: str,
    *,
    rpm: int | None = None,
    tpm: int | None = None,
    max_concurrent: int | None = None,
    models: Sequence[str] = (),
    agent: bool = False,
) -> str:
    """Create a managed key and return it: the only time it exists outside the client's hands."""
    key = new_key()
    record = KeyRecord(
        name=name,
        key_hash=hash_key(key),
        prefix=key[: len(KEY_PREFIX) + 4],
        created_at=utc_now(),
        rpm=rpm,
        tpm=tpm,
        max_concurrent=max_concurrent,
        models=tuple(models),
        agent=agent,
    )
    store.create_key(record)
    return key


class KeyRing:
    """Authenticates presented keys against the admin key, the static keys and the store.

    ``authenticate`` reads the ``Store`` directly (the CLI, local stores); ``authenticate_async`` is the request
    path's twin, reading through ``live`` (an ``AsyncStore``, so a networked store does not block the event loop).
    Both make the same decisions, from the same helpers.
    """

    def __init__(
        self, store: Store, static_keys: Sequence[str], admin_key: str | None, live: AsyncStore | None = None
    ) -> None:
        self._store = store
        self._live: AsyncStore = live or InlineStore(store)
        self._admin = admin_key or None
        # Static keys are named by a short hash so logs and usage can tell them apart without revealing them.
        self._static = [(k, "static-" + hash_key(k)[:8]) for k in static_keys if k]

    @property
    def has_admin_key(self) -> bool:
        return self._admin is not None

    def enabled(self) -> bool:
        """Auth is on as soon as any key exists; the store is asked every time so CLI-made keys count at once."""
        return bool(self._admin or self._static) or self._store.has_keys()

    def authenticate(self, presented: str | None) -> Principal:
        if not self.enabled():
            return Principal(ANONYMOUS, admin=True, agent=True)
        key = _required(presented)
        return self._match_configured(key) or _managed(key, self._store.key_by_hash(hash_key(key)))

    async def authenticate_async(self, presented: str | None) -> Principal:
        if not (self._admin or self._static or await self._live.has_keys()):
            return Principal(ANONYMOUS, admin=True, agent=True)
        key = _required(presented)
        return self._match_configured(key) or _managed(key, await self._live.key_by_hash(hash_key(key)))

    def _match_configured(self, presented: str) -> Principal | None:
        given = presented.encode("utf-8")
        if self._admin is not None and hmac.compare_digest(given, self._admin.encode("utf-8")):
            return Principal(ADMIN, admin=True, agent=True)
        found: Principal | None = None
        for key, name in self._static:  # no early exit: every static key is compared, whatever matches
            if hmac.compare_digest(given, key.encode("utf-8")):
                found = Principal(name)
        return found


def _required(presented: str | None) -> str:
    if not presented:
        raise Unauthenticated(
            "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY' (or an x-api-key header)."
        )
    return presented


def _managed(presented: str, record: KeyRecord | None) -> Principal:
    """The principal of a managed key the store found by hash, or 401 for an unknown or revoked key."""
    if record is None:
        raise Unauthenticated(f"Incorrect API key provided: {_redact(presented)}.")
    if record.revoked:
        raise Unauthenticated(f"The API key '{record.name}' has been revoked.")
    return Principal(
        record.name,
        rpm=record.rpm,
        tpm=record.tpm,
        max_concurrent=record.max_concurrent,
        models=record.models,
        agent=record.agent,
    )


def _redact(key: str) -> str:
    return key[:7] + "…" + key[-4:] if len(key) > 14 else "…"
