"""Supervisor alerts: persisted, fanned out to every console of every process, delivered to webhooks."""

from service.alerts.hub import AlertHub, alert_json
from service.alerts.webhooks import sign, verify

__all__ = ["AlertHub", "alert_json", "sign", "verify"]
