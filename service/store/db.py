"""Database access: the engine, schema creation, and the queries the domain needs (synchronous; the async
edges call them in a thread)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.store.tables import Base, CallRow, SegmentRow
from service.types import FinalSegment


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class CallExists(Exception):
    """A call with this id is already recorded."""


@dataclass(frozen=True)
class CallStart:
    call_id: str
    counselor_id: str | None
    source: str
    sample_rate: int
    encoding: str
    channels: int
    channel_roles: list[str]
    asr: dict


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # durable and concurrent enough for one process
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Store:
    """The calls and their segments."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self._session()

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ calls
    def create_call(self, c: CallStart) -> None:
        row = CallRow(
            call_id=c.call_id, counselor_id=c.counselor_id, source=c.source,
            status="streaming" if c.source == "live" else "processing", sample_rate=c.sample_rate,
            encoding=c.encoding, channels=c.channels, channel_roles=c.channel_roles, started_at=utcnow(),
            audio_seconds=0.0, risk_level="无", asr=c.asr,
        )
        with self.session() as s:
            s.add(row)
            try:
                s.commit()
            except IntegrityError as e:
                raise CallExists(c.call_id) from e

    def finish_call(self, call_id: str, status: str, audio_seconds: float, error: str | None = None) -> None:
        with self.session() as s:
            s.execute(
                update(CallRow).where(CallRow.call_id == call_id).values(
                    status=status, ended_at=utcnow(), audio_seconds=audio_seconds, error=error
                )
            )
            s.commit()

    def set_risk_level(self, call_id: str, level: str) -> None:
        with self.session() as s:
            s.execute(update(CallRow).where(CallRow.call_id == call_id).values(risk_level=level))
            s.commit()

    def mark_interrupted(self) -> int:
        """At start-up: calls left 'streaming'/'processing' by a killed process are marked interrupted."""
        with self.session() as s:
            res = s.execute(
                update(CallRow).where(CallRow.status.in_(("streaming", "processing")))
                .values(status="interrupted", ended_at=utcnow())
            )
            s.commit()
            return res.rowcount or 0

    def get_call(self, call_id: str) -> CallRow | None:
        with self.session() as s:
            return s.get(CallRow, call_id)

    def list_calls(self, limit: int = 100, offset: int = 0) -> list[CallRow]:
        with self.session() as s:
            q = select(CallRow).order_by(CallRow.started_at.desc()).limit(limit).offset(offset)
            return list(s.scalars(q))

    # --------------------------------------------------------------- segments
    def add_segment(self, seg: FinalSegment, avg_logprob: float | None = None,
                    no_speech_prob: float | None = None) -> None:
        with self.session() as s:
            s.add(SegmentRow(
                call_id=seg.call_id, segment_id=seg.segment_id, speaker=seg.speaker, start=seg.start,
                end=seg.end, text=seg.text, avg_logprob=avg_logprob, no_speech_prob=no_speech_prob,
                risk_labels=[], risk=None, created_at=utcnow(),
            ))
            s.commit()

    def set_segment_risk(self, call_id: str, segment_id: int, labels: list[str], risk: dict) -> None:
        with self.session() as s:
            s.execute(
                update(SegmentRow).where(SegmentRow.call_id == call_id, SegmentRow.segment_id == segment_id)
                .values(risk_labels=labels, risk=risk)
            )
            s.commit()

    def segments(self, call_id: str) -> list[SegmentRow]:
        with self.session() as s:
            q = select(SegmentRow).where(SegmentRow.call_id == call_id).order_by(SegmentRow.start, SegmentRow.segment_id)
            return list(s.scalars(q))
