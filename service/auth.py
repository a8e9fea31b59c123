"""Bearer tokens with roles. admin may do everything; each endpoint names the roles it admits."""

from __future__ import annotations

import hmac

from service.settings import Settings


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self._tokens = [(t.encode(), r) for t, r in settings.token_roles.items()]

    def role_of(self, token: str | None) -> str | None:
        """The role of a token, or None if it is unknown (constant-time comparison)."""
        if not token:
            return None
        given = token.encode()
        found = None
        for t, role in self._tokens:
            if hmac.compare_digest(t, given):
                found = role
        return found


def allowed(role: str, roles: tuple[str, ...]) -> bool:
    return role == "admin" or role in roles
