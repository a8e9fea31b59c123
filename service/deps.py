"""FastAPI dependencies: the app state and role checks, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated, Callable

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth import Principal, allowed
from service.runtime import Runtime

_bearer = HTTPBearer(auto_error=False)


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def denial(who: Principal | None, roles: tuple[str, ...]) -> HTTPException | None:
    """Why ``who`` may not do what ``roles`` may: no or an unknown token (401), another role (403); None if it may."""
    if who is None:
        return HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown bearer token",
                             headers={"WWW-Authenticate": "Bearer"})
    if not allowed(who.role, roles):
        return HTTPException(status.HTTP_403_FORBIDDEN, f"role {who.role!r} may not do this")
    return None


def require(*roles: str) -> Callable:
    def check(runtime: RuntimeDep,
              creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        who = runtime.auth.principal_of(creds.credentials if creds else None)
        if (refused := denial(who, roles)) is not None:
            raise refused
        return who

    return check


ReaderRole = Annotated[Principal, Depends(require("counselor", "supervisor"))]
UPLOADER_ROLES = ("telephony",)
UploaderRole = Annotated[Principal, Depends(require(*UPLOADER_ROLES))]
AnyRole = Annotated[Principal, Depends(require("telephony", "counselor", "supervisor"))]
SupervisorRole = Annotated[Principal, Depends(require("supervisor"))]
