"""Bearer tokens with roles. admin may do everything; each endpoint names the roles it admits.

A token may also name its holder (``token:counselor@c-017``); otherwise the holder is recorded as the role and a
short hash of the token, never the token itself."""

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


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self._tokens: list[tuple[bytes, Principal]] = []
        for token, spec in settings.token_roles.items():
            role, name = split_role(spec)
            who = name or f"{role}:{hashlib.sha256(token.encode()).hexdigest()[:8]}"
            self._tokens.append((token.encode(), Principal(role, who)))

    def principal_of(self, token: str | None) -> Principal | None:
        """Who holds this token, or None if it is unknown (constant-time comparison over every token)."""
        if not token:
            return None
        given = token.encode()
        found = None
        for t, principal in self._tokens:
            if hmac.compare_digest(t, given):
                found = principal
        return found

    def role_of(self, token: str | None) -> str | None:
        p = self.principal_of(token)
        return p.role if p else None


def allowed(role: str, roles: tuple[str, ...]) -> bool:
    return role == "admin" or role in roles
