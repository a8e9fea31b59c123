"""Bearer tokens with roles. admin may do everything; each endpoint names the roles it admits.

A token may also name its holder (``token:counselor@c-017``); otherwise the holder is recorded as the role and a
short hash of the token, never the token itself.

Which calls a token reads (:meth:`Principal.may_read`): supervisors and admins every call; a counselor token that
names its holder the calls recorded with that ``counselor_id`` only, so a counselor's token does not open other
counselors' callers; a counselor token that names nobody (a team's or a seat's) every call, as before (production
mode refuses such tokens unless ``shared_counselor_tokens`` is set)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from service.settings import Settings, split_role


@dataclass(frozen=True)
class Principal:
    role: str
    name: str
    """Who: the name the token was configured with, else ``role:<8 hex of the token's sha256>``."""
    holder: str | None = None
    """The name the token was configured with (``token:counselor@c-017`` → ``c-017``), None if it names nobody."""

    def may_read(self, counselor_id: str | None) -> bool:
        """Whether this token may read (and, as a counselor, correct) a call recorded with ``counselor_id``."""
        if self.role != "counselor" or self.holder is None:
            return True
        return counselor_id == self.holder

    @property
    def reads_as(self) -> str | None:
        """The counselor whose calls alone this token reads, None where it reads every call."""
        return self.holder if self.role == "counselor" else None


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        # Each token is kept as its SHA-256 digest: comparisons are then between equal-length values, so their
        # time says nothing about a token's length or how much of a guess matched, and the tokens themselves are
        # not held in this object.
        self._tokens: list[tuple[bytes, Principal]] = []
        for token, spec in settings.token_roles.items():
            role, name = split_role(spec)
            digest = hashlib.sha256(token.encode()).digest()
            who = name or f"{role}:{digest.hex()[:8]}"
            self._tokens.append((digest, Principal(role, who, name)))

    def principal_of(self, token: str | None) -> Principal | None:
        """Who holds this token, or None if it is unknown (constant-time comparison with every token, of the
        SHA-256 digests: equal lengths, no early exit)."""
        if not token:
            return None
        given = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        found = None
        for t, principal in self._tokens:
            if hmac.compare_digest(t, given):
                found = principal
        return found

    def role_of(self, token: str | None) -> str | None:
        p = self.principal_of(token)
        return p.role if p else None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header's value; None without one."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def allowed(role: str, roles: tuple[str, ...]) -> bool:
    return role == "admin" or role in roles
