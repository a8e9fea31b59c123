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


def require(*roles: str) -> Callable:
    def check(runtime: RuntimeDep,
              creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        who = runtime.auth.principal_of(creds.credentials if creds else None)
        if who is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        if not allowed(who.role, roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {who.role!r} may not do this")
        return who

    return check


ReaderRole = Annotated[Principal, Depends(require("counselor", "supervisor"))]
UploaderRole = Annotated[Principal, Depends(require("telephony"))]
AnyRole = Annotated[Principal, Depends(require("telephony", "counselor", "supervisor"))]
SupervisorRole = Annotated[Principal, Depends(require("supervisor"))]
