"""FastAPI dependencies: the app state and role checks, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated, Callable

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth import allowed
from service.runtime import Runtime

_bearer = HTTPBearer(auto_error=False)


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def require(*roles: str) -> Callable:
    def check(runtime: RuntimeDep,
              creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
        role = runtime.auth.role_of(creds.credentials if creds else None)
        if role is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        if not allowed(role, roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {role!r} may not do this")
        return role

    return check


ReaderRole = Annotated[str, Depends(require("counselor", "supervisor"))]
UploaderRole = Annotated[str, Depends(require("telephony"))]
AnyRole = Annotated[str, Depends(require("telephony", "counselor", "supervisor"))]
