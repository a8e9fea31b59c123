"""Database access: the engine, schema creation, and the queries the domain needs (synchronous; the async
edges call them in a thread)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, create_engine, delete, event, exists, func, insert, or_, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.store.tables import (
    AlertRow,
    Base,
    CallOwnerRow,
    CallRow,
    SegmentRow,
    WebhookDeliveryRow,
    WorksheetRow,
    WorksheetVersionRow,
)
from service.types import RISK_LEVELS, FinalSegment, level_rank

logger = logging.getLogger(__name__)

HEARTBEAT_S = 15.0
"""How often a process says that the calls it has open are still its own (one UPDATE for all of them)."""
OWNER_STALE_S = 60.0
"""A call whose owner has not said so for this long belongs to a process that is gone (four heartbeats missed:
a slow database or a long pause does not take a live call from its process)."""
OPEN_STATES = ("streaming", "processing")

PG_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
                 "tcp_user_timeout": 30_000}
"""libpq options for every PostgreSQL connection: a failover or a lost network without a reset leaves a connection
that no error ever ends. The kernel probes an idle one after 10 s and gives up on a peer that answers nothing, or
leaves what is sent unacknowledged, for about 30 s (the system's defaults: no probe for two hours, and about
fifteen minutes of retransmissions)."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _host() -> str:
    """This host and PID namespace: a process can tell whether an owner is alive only if it sees the same PIDs."""
    try:
        ns = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        ns = "-"  # unknown: no owner is judged by its PID, only by its heartbeat
    return f"{socket.gethostname()}/{ns}"


def new_owner() -> str:
    """A process's owner id: ``host/pid namespace/pid/random`` (random: several stores in one process, PIDs reused)."""
    return f"{_host()}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


def owner_is_gone(owner: str) -> bool:
    """True for the owner id of a process of this host (and PID namespace) that no longer runs: its calls need not
    wait for its heartbeat to go stale (kill -9 and restart). Anything else can only be judged by its heartbeat."""
    host, _, rest = owner.rpartition("/")[0].rpartition("/")
    try:
        pid = int(rest)
    except ValueError:
        return False
    if host != _host() or host.endswith("/-") or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it runs, as someone else
        return False
    return False


class CallExists(Exception):
    """A call with this id is already recorded."""


class WorksheetLocked(Exception):
    """The worksheet is finalized: it can no longer be corrected or redrafted."""


class NoWorksheet(Exception):
    """The call has no worksheet yet."""


@dataclass(frozen=True)
class Delivery:
    id: int
    alert_id: str
    url: str
    attempts: int


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
    """An engine that never puts statement parameters (segment text, alert evidence) into an exception's message:
    callers log database errors with their traceback."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # durable and concurrent enough for one process
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    connect_args = PG_KEEPALIVES if url.startswith("postgresql+psycopg://") else {}
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True,
                         connect_args=connect_args)


class Store:
    """The calls and their segments.

    Every call a store opens is owned by it (``owner``, unique to the store) until it ends: a background thread
    heartbeats them every ``heartbeat_s`` from the first call on, so a process that starts, or sweeps, interrupts
    only the calls of processes that are gone (:meth:`mark_interrupted`). A thread, not the event loop: a tool
    (``scribe transcribe``) owns its call without a running service, and a busy loop does not lose its calls."""

    def __init__(self, url: str, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.url = url
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        self._create_indexes()
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.owner = new_owner()
        self.heartbeat_s = heartbeat_s
        self._pg = self.engine.dialect.name == "postgresql"
        self._beat: threading.Thread | None = None
        self._stop_beat = threading.Event()
        self._beat_lock = threading.Lock()

    def _create_indexes(self) -> None:
        """``create_all`` makes a new table's indexes, not those added since to a table that exists. An index only
        speeds reads up, so one that cannot be made (another process making it at the same moment) is logged."""
        for table in Base.metadata.sorted_tables:
            for index in table.indexes:
                try:
                    index.create(self.engine, checkfirst=True)
                except SQLAlchemyError as e:
                    logger.warning("index %s not created (%s)", index.name, type(e).__name__)

    def session(self) -> Session:
        return self._session()

    def close(self) -> None:
        """Stop heartbeating; calls still open here are over (nobody will finish them): marked interrupted now,
        rather than when their heartbeat has gone stale."""
        with self._beat_lock:
            beat, self._beat = self._beat, None
            self._stop_beat.set()
        if beat is not None:
            beat.join(timeout=10)
            try:
                n = self._interrupt_own()
                if n:
                    logger.warning("%d calls still open at shutdown are marked interrupted", n)
            except Exception:  # the database is gone too: the heartbeat goes stale and another process sweeps
                logger.exception("could not mark the calls still open at shutdown interrupted")
        self.engine.dispose()

    # -------------------------------------------------------------- ownership
    def _now(self):
        """The time heartbeats are written and judged by: the database server's clock with PostgreSQL (replicas on
        several hosts may disagree about the time), this host's with SQLite (one host)."""
        return func.now() if self._pg else utcnow()

    def _start_heartbeat(self) -> None:
        with self._beat_lock:
            if self._beat is None and not self._stop_beat.is_set():
                self._beat = threading.Thread(target=self._heartbeat_loop, name="store-heartbeat", daemon=True)
                self._beat.start()

    def _heartbeat_loop(self) -> None:
        while not self._stop_beat.wait(self.heartbeat_s):
            try:
                self.heartbeat()
            except Exception:  # a database that is away: the next beat tries again, the calls stay ours till stale
                logger.exception("could not heartbeat the calls this process has open")

    def heartbeat(self) -> int:
        """Say that every call this store has open is still its own: one UPDATE; the number of calls."""
        with self.session() as s:
            res = s.execute(update(CallOwnerRow).where(CallOwnerRow.owner == self.owner)
                            .values(heartbeat_at=self._now()))
            s.commit()
            return res.rowcount or 0

    def _interrupt_own(self) -> int:
        with self.session() as s:
            mine = select(CallOwnerRow.call_id).where(CallOwnerRow.owner == self.owner)
            res = s.execute(update(CallRow).where(CallRow.call_id.in_(mine), CallRow.status.in_(OPEN_STATES))
                            .values(status="interrupted", ended_at=utcnow()))
            s.execute(delete(CallOwnerRow).where(CallOwnerRow.owner == self.owner))
            s.commit()
            return res.rowcount or 0

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
                s.flush()
            except IntegrityError as e:
                raise CallExists(c.call_id) from e
            # owned from the moment it exists: no sweep, of any process, can find it open and ownerless
            s.execute(insert(CallOwnerRow).values(call_id=c.call_id, owner=self.owner, heartbeat_at=self._now()))
            s.commit()
        self._start_heartbeat()

    def release_upload(self, call_id: str) -> bool:
        """An upload's call left ``processing`` that no process is transcribing (the caller holds the lock on its
        file, which a process that dies lets go of, whatever its heartbeat says: a container restarted with new
        process ids): marked interrupted. True when it was."""
        with self.session() as s:
            res = s.execute(update(CallRow).where(
                CallRow.call_id == call_id, CallRow.source == "upload", CallRow.status.in_(OPEN_STATES),
            ).values(status="interrupted", ended_at=utcnow()))
            s.execute(delete(CallOwnerRow).where(CallOwnerRow.call_id == call_id))
            s.commit()
            return bool(res.rowcount)

    def reopen_upload(self, call_id: str, asr: dict | None = None) -> list[str]:
        """An upload cut short by a restart, to be transcribed again from its start: its segments (and their risk)
        are removed and the call is ``processing`` again, owned by this process; its alerts stay (they were raised
        and may be acknowledged), and their levels are returned so that the new run does not raise them twice. The
        stored risk level is kept (it is never lowered); ``asr``, the recognizer that hears it now. Raises CallExists
        unless the call is an interrupted upload (another process reopened it first, or a live call has that id)."""
        values = dict(status="processing", ended_at=None, audio_seconds=0.0, error=None)
        if asr is not None:
            values["asr"] = asr
        with self.session() as s:
            res = s.execute(update(CallRow).where(
                CallRow.call_id == call_id, CallRow.status == "interrupted", CallRow.source == "upload",
            ).values(**values))
            if not res.rowcount:
                s.rollback()
                raise CallExists(call_id)
            s.execute(delete(SegmentRow).where(SegmentRow.call_id == call_id))
            s.execute(delete(CallOwnerRow).where(CallOwnerRow.call_id == call_id))
            s.execute(insert(CallOwnerRow).values(call_id=call_id, owner=self.owner, heartbeat_at=self._now()))
            alerted = list(s.scalars(select(AlertRow.risk_level).where(AlertRow.call_id == call_id)))
            s.commit()
        self._start_heartbeat()
        return alerted

    def finish_call(self, call_id: str, status: str, audio_seconds: float, error: str | None = None) -> None:
        with self.session() as s:
            s.execute(
                update(CallRow).where(CallRow.call_id == call_id).values(
                    status=status, ended_at=utcnow(), audio_seconds=audio_seconds, error=error
                )
            )
            s.execute(delete(CallOwnerRow).where(CallOwnerRow.call_id == call_id))
            s.commit()

    def set_risk_level(self, call_id: str, level: str) -> bool:
        """Raise the call's stored level to ``level``; never lower it. The comparison is in the UPDATE itself, so
        it holds whichever thread or process writes last. True when the level was raised."""
        rank = level_rank(level)  # ValueError for a level that is not one
        stored = case({lv: i for i, lv in enumerate(RISK_LEVELS)}, value=CallRow.risk_level, else_=-1)
        with self.session() as s:
            res = s.execute(update(CallRow).where(CallRow.call_id == call_id, stored < rank).values(risk_level=level))
            s.commit()
            return bool(res.rowcount)

    def mark_interrupted(self, stale_s: float = OWNER_STALE_S) -> int:
        """Calls left 'streaming'/'processing' by a process that is gone are marked interrupted (at start-up, and
        every so often while the service runs, so a crashed replica's calls do not wait for some process to
        restart): those with no owner, an owner whose heartbeat is older than ``stale_s``, or an owner that is a
        dead process of this host. The live calls of other processes, which share the database, are left alone.
        The number of calls marked."""
        with self.session() as s:
            cutoff = self._now() - timedelta(seconds=stale_s)
            owners = s.scalars(select(CallOwnerRow.owner).where(CallOwnerRow.heartbeat_at >= cutoff).distinct())
            gone = [o for o in owners if owner_is_gone(o)]
            alive = [CallOwnerRow.call_id == CallRow.call_id, CallOwnerRow.heartbeat_at >= cutoff]
            if gone:
                alive.append(CallOwnerRow.owner.not_in(gone))
            # the owner is judged in the UPDATE itself: a call opened, or heartbeated, meanwhile is kept
            res = s.execute(
                update(CallRow).where(CallRow.status.in_(OPEN_STATES), ~exists().where(*alive))
                .values(status="interrupted", ended_at=utcnow())
            )
            s.execute(delete(CallOwnerRow).where(
                ~exists().where(CallRow.call_id == CallOwnerRow.call_id, CallRow.status.in_(OPEN_STATES))))
            s.commit()
            return res.rowcount or 0

    def get_call(self, call_id: str) -> CallRow | None:
        with self.session() as s:
            return s.get(CallRow, call_id)

    def list_calls(self, limit: int = 100, offset: int = 0, counselor_id: str | None = None) -> list[CallRow]:
        """The most recent calls first; only ``counselor_id``'s when it is given."""
        with self.session() as s:
            q = select(CallRow)
            if counselor_id is not None:
                q = q.where(CallRow.counselor_id == counselor_id)
            q = q.order_by(CallRow.started_at.desc(), CallRow.call_id).limit(limit).offset(offset)
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

    # ----------------------------------------------------------------- alerts
    def add_alert(self, row: AlertRow, webhook_urls: list[str], notify: tuple[str, str] | None = None) -> bool:
        """Persist a new alert and its pending webhook deliveries in one transaction; ``notify`` (channel, payload):
        a PostgreSQL NOTIFY in that same transaction, so other processes hear of the alert if and only if it is
        stored, even when this process dies right after the commit.

        False when the call already has an alert at this level (raised earlier, possibly by another process); any
        other integrity error (an unknown call, two deliveries to one endpoint) is raised, not taken for that."""
        now = utcnow()
        call_id, level = row.call_id, row.risk_level
        with self.session() as s:
            s.add(row)
            for url in webhook_urls:
                s.add(WebhookDeliveryRow(alert_id=row.alert_id, url=url, state="pending", attempts=0,
                                         next_attempt_at=now))
            try:
                s.flush()
                _notify(s, notify)
                s.commit()
            except IntegrityError:
                s.rollback()
                # the unique (call_id, risk_level) lost to a committed alert: PostgreSQL waits for the other
                # transaction before it reports the conflict, and SQLite has one writer, so it is visible now
                if s.scalar(select(AlertRow.alert_id).where(AlertRow.call_id == call_id,
                                                            AlertRow.risk_level == level)) is not None:
                    return False
                raise
        return True

    def get_alert(self, alert_id: str) -> AlertRow | None:
        with self.session() as s:
            return s.get(AlertRow, alert_id)

    def list_alerts(self, state: str | None = None, limit: int = 200, call_id: str | None = None, *,
                    after: tuple[datetime, str] | None = None, oldest_first: bool = False) -> list[AlertRow]:
        """Newest first (``oldest_first``: oldest first), at most ``limit``; ``after``: the (raised_at, alert_id) of
        the last alert of the previous page, to read on from. Alerts raised at one instant are ordered by id, so
        pages neither repeat nor skip one."""
        with self.session() as s:
            q = select(AlertRow)
            if state is not None:
                q = q.where(AlertRow.state == state)
            if call_id is not None:
                q = q.where(AlertRow.call_id == call_id)
            if after is not None:
                at, alert_id = after
                if oldest_first:
                    q = q.where(or_(AlertRow.raised_at > at,
                                    and_(AlertRow.raised_at == at, AlertRow.alert_id > alert_id)))
                else:
                    q = q.where(or_(AlertRow.raised_at < at,
                                    and_(AlertRow.raised_at == at, AlertRow.alert_id < alert_id)))
            order = (AlertRow.raised_at.asc(), AlertRow.alert_id.asc()) if oldest_first else (
                AlertRow.raised_at.desc(), AlertRow.alert_id.desc())
            return list(s.scalars(q.order_by(*order).limit(limit)))

    def ack_alert(self, alert_id: str, by: str,
                  notify: tuple[str, str] | None = None) -> tuple[AlertRow | None, bool]:
        """Acknowledge; returns (the alert, whether this call changed it). Acknowledging twice keeps the first.
        ``notify``: as for :meth:`add_alert`, sent only when this call changed it."""
        with self.session() as s:
            res = s.execute(update(AlertRow).where(AlertRow.alert_id == alert_id, AlertRow.state == "open")
                            .values(state="acked", acked_at=utcnow(), acked_by=by))
            changed = bool(res.rowcount)
            if changed:
                _notify(s, notify)
            s.commit()
        return self.get_alert(alert_id), changed

    def claim_deliveries(self, lease_s: float, limit: int = 20) -> list[Delivery]:
        """Take due webhook deliveries for ``lease_s`` seconds, so that two processes never send one at once."""
        now = utcnow()
        out: list[Delivery] = []
        with self.session() as s:
            due = s.scalars(
                select(WebhookDeliveryRow).where(
                    WebhookDeliveryRow.state == "pending", WebhookDeliveryRow.next_attempt_at <= now,
                    or_(WebhookDeliveryRow.locked_until.is_(None), WebhookDeliveryRow.locked_until < now),
                ).order_by(WebhookDeliveryRow.next_attempt_at).limit(limit)
            ).all()
            for d in due:
                res = s.execute(
                    update(WebhookDeliveryRow).where(
                        WebhookDeliveryRow.id == d.id,
                        or_(WebhookDeliveryRow.locked_until.is_(None), WebhookDeliveryRow.locked_until < now),
                    ).values(locked_until=now + timedelta(seconds=lease_s))
                )
                if res.rowcount:
                    out.append(Delivery(d.id, d.alert_id, d.url, d.attempts))
            s.commit()
        return out

    def delivery_result(self, delivery_id: int, *, status: int | None, error: str | None,
                        retry_at: datetime | None) -> None:
        """Record one attempt: delivered (no error), retry at ``retry_at``, or given up (``retry_at`` None)."""
        with self.session() as s:
            d = s.get(WebhookDeliveryRow, delivery_id)
            if d is None:
                return
            d.attempts += 1
            d.last_status, d.last_error, d.locked_until = status, error, None
            if error is None:
                d.state, d.delivered_at = "delivered", utcnow()
            elif retry_at is None:
                d.state = "failed"
            else:
                d.next_attempt_at = retry_at
            s.commit()

    def deliveries(self, alert_id: str) -> list[WebhookDeliveryRow]:
        with self.session() as s:
            return list(s.scalars(select(WebhookDeliveryRow).where(WebhookDeliveryRow.alert_id == alert_id)))

    # ------------------------------------------------------------- worksheets
    def get_worksheet(self, call_id: str) -> WorksheetRow | None:
        with self.session() as s:
            return s.get(WorksheetRow, call_id)

    def save_draft(self, call_id: str, draft: dict, by: str) -> WorksheetRow:
        """Store an engine's draft (``WorksheetDraft.to_json()``) as the call's worksheet.

        A redraft (during the call, or at its end after one during it) keeps every field a person corrected.
        Raises WorksheetLocked once finalized."""
        now = utcnow()
        fields = {name: {**f, "corrected": False} for name, f in draft["fields"].items()}
        with self.session() as s:
            row = s.get(WorksheetRow, call_id, with_for_update=True)
            if row is None:
                row = WorksheetRow(call_id=call_id, status="draft", version=1, engine=draft["engine"],
                                   engine_versions=_versions(draft), fields=fields, draft=draft, created_at=now,
                                   updated_at=now, updated_by=by)
                s.add(row)
                s.add(_version_row(call_id, 1, "draft", by, now, {}, None, fields))
            else:
                if row.status == "finalized":
                    raise WorksheetLocked(call_id)
                kept = {n: f for n, f in row.fields.items() if f.get("corrected")}
                changes = {n: {"from": row.fields[n]["value"], "to": f["value"]} for n, f in fields.items()
                           if n not in kept and n in row.fields and row.fields[n]["value"] != f["value"]}
                fields.update(kept)
                row.version += 1
                row.engine, row.engine_versions, row.fields, row.draft = (draft["engine"], _versions(draft),
                                                                          fields, draft)
                row.updated_at, row.updated_by = now, by
                s.add(_version_row(call_id, row.version, "redraft", by, now, changes, None, fields))
            s.commit()
            return row

    def correct_worksheet(self, call_id: str, values: dict[str, Any], by: str, reason: str | None) -> WorksheetRow:
        """Apply a validated correction; every changed field is marked corrected and recorded with who and when."""
        now = utcnow()
        with self.session() as s:
            row = _open_worksheet(s, call_id)
            fields = {n: dict(f) for n, f in row.fields.items()}
            changes = {}
            for name, value in values.items():
                if fields[name]["value"] != value:
                    changes[name] = {"from": fields[name]["value"], "to": value}
                fields[name].update(value=value, corrected=True, corrected_by=by, corrected_at=now.isoformat())
            row.fields, row.version, row.updated_at, row.updated_by = fields, row.version + 1, now, by
            s.add(_version_row(call_id, row.version, "correction", by, now, changes, reason, fields))
            s.commit()
            return row

    def finalize_worksheet(self, call_id: str, by: str) -> WorksheetRow:
        now = utcnow()
        with self.session() as s:
            row = _open_worksheet(s, call_id)
            row.status, row.version, row.finalized_at, row.finalized_by = "finalized", row.version + 1, now, by
            row.updated_at, row.updated_by = now, by
            s.add(_version_row(call_id, row.version, "finalize", by, now, {}, None, row.fields))
            s.commit()
            return row

    def worksheet_history(self, call_id: str) -> list[WorksheetVersionRow]:
        with self.session() as s:
            q = select(WorksheetVersionRow).where(WorksheetVersionRow.call_id == call_id)
            return list(s.scalars(q.order_by(WorksheetVersionRow.version)))

    def finalized_worksheets(self) -> list[WorksheetRow]:
        """Every finalized worksheet with the engine's draft it started from (for ``python -m eval corrections``)."""
        with self.session() as s:
            q = select(WorksheetRow).where(WorksheetRow.status == "finalized").order_by(WorksheetRow.finalized_at)
            return list(s.scalars(q))


def _notify(s: Session, notify: tuple[str, str] | None) -> None:
    """PostgreSQL NOTIFY in the session's transaction: delivered to every listener when, and only if, it commits."""
    if notify is not None:
        s.execute(text("SELECT pg_notify(:c, :p)"), {"c": notify[0], "p": notify[1]})


def _open_worksheet(s: Session, call_id: str) -> WorksheetRow:
    """The call's worksheet, locked for this transaction; raises NoWorksheet or WorksheetLocked (finalized)."""
    row = s.get(WorksheetRow, call_id, with_for_update=True)
    if row is None:
        raise NoWorksheet(call_id)
    if row.status == "finalized":
        raise WorksheetLocked(call_id)
    return row


def _versions(draft: dict) -> dict:
    return {"engine": draft["engine"], "version": draft["version"], **draft.get("engine_versions", {})}


def _version_row(call_id: str, version: int, kind: str, by: str, at: datetime, changes: dict, reason: str | None,
                 fields: dict) -> WorksheetVersionRow:
    return WorksheetVersionRow(call_id=call_id, version=version, kind=kind, by=by, at=at, changes=changes,
                               reason=reason, values={n: f["value"] for n, f in fields.items()})
