"""The live protocol's messages (streaming-protocol.md, version 1): text frames parsed with one TypeAdapter."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

Role = Literal["caller", "counselor", "mixed"]
CALL_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,128}$"


def valid_call_id(call_id: str) -> bool:
    """CALL_ID_PATTERN, and not dots alone: "." and ".." are path segments a browser resolves away, so such a call
    could not be opened at /v1/calls/{id} (and a console link to it would point at another path)."""
    return bool(re.match(CALL_ID_PATTERN, call_id)) and call_id.strip(".") != ""


class StartMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["start"]
    call_id: str = Field(pattern=CALL_ID_PATTERN)
    sample_rate: Literal[8000, 16000]
    encoding: Literal["pcm_s16le", "mulaw", "alaw"] = "pcm_s16le"
    channels: Literal[1, 2] = 1
    channel_roles: list[Role] | None = None
    counselor_id: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _roles(self) -> "StartMessage":
        if not valid_call_id(self.call_id):
            raise ValueError("call_id must not be dots alone")
        if self.channel_roles is None:
            self.channel_roles = ["mixed"] if self.channels == 1 else ["caller", "counselor"]
        if len(self.channel_roles) != self.channels:
            raise ValueError(f"channel_roles names {len(self.channel_roles)} channels but channels is {self.channels}")
        if self.channels == 2 and len(set(self.channel_roles)) != 2:
            raise ValueError("the two channels must have different roles")
        return self


class StopMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["stop"]


ClientMessage = Annotated[Union[StartMessage, StopMessage], Field(discriminator="type")]
client_message = TypeAdapter(ClientMessage)


def error(code: str, message: str, fatal: bool) -> dict:
    return {"type": "error", "code": code, "message": message, "fatal": fatal}
