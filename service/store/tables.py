"""SQLAlchemy tables. One schema for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class CallRow(Base):
    __tablename__ = "calls"

    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    counselor_id: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))  # live | upload
    status: Mapped[str] = mapped_column(String(16))  # streaming | processing | ended | interrupted | failed
    sample_rate: Mapped[int] = mapped_column(Integer)
    encoding: Mapped[str] = mapped_column(String(16))
    channels: Mapped[int] = mapped_column(Integer)
    channel_roles: Mapped[list] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    audio_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    risk_level: Mapped[str] = mapped_column(String(8), default="无")
    asr: Mapped[dict] = mapped_column(JSON, default=dict)  # model and settings that made the transcript
    error: Mapped[str | None] = mapped_column(Text)

    # a counselor's own calls, newest first (GET /v1/calls with a token that names its holder)
    __table_args__ = (Index("ix_calls_counselor_started", "counselor_id", "started_at"),)


class CallOwnerRow(Base):
    """The process that has a call open ("streaming" or "processing") and when it last said it is alive: several
    processes share one database, so a process that starts, or sweeps, may mark interrupted only the calls whose
    owner is gone (no row, a heartbeat older than a minute, or a dead process of its own host), never the live
    calls of another replica. Written with the call and deleted when it ends, in the same transactions. A table of
    its own because ``create_all`` adds missing tables but never alters one that exists."""

    __tablename__ = "call_owners"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255), index=True)  # host/pid namespace/pid/random (Store.owner)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SegmentRow(Base):
    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("call_id", "segment_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.call_id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    avg_logprob: Mapped[float | None] = mapped_column(Float)
    no_speech_prob: Mapped[float | None] = mapped_column(Float)
    risk_labels: Mapped[list] = mapped_column(JSON, default=list)
    risk: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AlertRow(Base):
    """A supervisor alert: raised once per call and level (the unique constraint holds across processes)."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("call_id", "risk_level"),)

    alert_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.call_id", ondelete="CASCADE"), index=True)
    counselor_id: Mapped[str | None] = mapped_column(String(128))
    risk_level: Mapped[str] = mapped_column(String(8))
    labels: Mapped[list] = mapped_column(JSON, default=list)
    evidence: Mapped[list] = mapped_column(JSON, default=list)  # [{segment_id, speaker, start, end, text}]
    engine_version: Mapped[str] = mapped_column(String(64))
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    state: Mapped[str] = mapped_column(String(8), default="open", index=True)  # open | acked
    acked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acked_by: Mapped[str | None] = mapped_column(String(128))


class WebhookDeliveryRow(Base):
    """One alert to one webhook endpoint, retried until delivered or given up (at-least-once, across restarts)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.alert_id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12), default="pending", index=True)  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WorksheetRow(Base):
    """The current worksheet of a call: the draft, as corrected, until finalized (then locked)."""

    __tablename__ = "worksheets"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(12))  # draft | finalized
    version: Mapped[int] = mapped_column(Integer)
    engine: Mapped[str] = mapped_column(String(32))
    engine_versions: Mapped[dict] = mapped_column(JSON, default=dict)
    fields: Mapped[dict] = mapped_column(JSON)  # name -> {value, confidence, evidence, corrected}
    draft: Mapped[dict] = mapped_column(JSON)  # the engine's draft as made (kept for evaluation and retraining)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(128))
    finalized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finalized_by: Mapped[str | None] = mapped_column(String(128))


class WorksheetVersionRow(Base):
    """Every version of a worksheet: who, when, what changed (from → to) and why."""

    __tablename__ = "worksheet_versions"
    __table_args__ = (UniqueConstraint("call_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.call_id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))  # draft | redraft | correction | finalize
    by: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)  # field -> {from, to}
    reason: Mapped[str | None] = mapped_column(Text)
    values: Mapped[dict] = mapped_column(JSON)  # the whole worksheet after this version
