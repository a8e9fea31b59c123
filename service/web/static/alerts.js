// Supervisor alerts: one socket (WS /v1/alerts) for the whole session, open alerts highest and newest first,
// a sound and visual cue for new ones, acknowledgement.

import { LiveSocket, request } from './api.js';
import { clock, dateTime, h } from './dom.js';
import { labelName, levelRank } from './labels.js';
import { riskBadge } from './callview.js';
import { describe } from './worksheet.js';

const FRESH_MS = 15000;

export class AlertHub {
  constructor() {
    this.alerts = new Map(); // alert_id → alert
    this.fresh = new Set();
    this.seen = new Set();
    this.listeners = new Set();
    this.status = { state: 'connecting' };
    this.sound = sessionStorage.getItem('scribe.console.sound') !== 'off';
    this.audio = null;
  }

  start() {
    this.socket = new LiveSocket('/v1/alerts', {
      open: () => { this.alerts.clear(); this.changed(); },
      message: (m) => this.onMessage(m),
      status: (s) => { this.status = s; this.changed(); },
      refused: () => { this.status = { state: 'refused' }; this.changed(); },
    });
    // Browsers let a page play sound only after a user gesture: prepare the audio on the first one.
    this.unlock = () => { this.ensureAudio(); };
    document.addEventListener('pointerdown', this.unlock, { once: true });
    document.addEventListener('keydown', this.unlock, { once: true });
  }

  stop() {
    this.socket?.stop();
    document.removeEventListener('pointerdown', this.unlock);
    document.removeEventListener('keydown', this.unlock);
    this.audio?.close?.();
  }

  onMessage(m) {
    if (m.type === 'alert') {
      if (m.state && m.state !== 'open') return;
      this.alerts.set(m.alert_id, m);
      // every alert is cued once per page: open ones at login, then live ones, not the replays after a reconnect
      if (!this.seen.has(m.alert_id)) {
        this.seen.add(m.alert_id);
        this.fresh.add(m.alert_id);
        setTimeout(() => { this.fresh.delete(m.alert_id); this.changed(); }, FRESH_MS);
        this.cue(m);
      }
      this.changed();
    } else if (m.type === 'ack') {
      if (this.alerts.delete(m.alert_id)) this.changed();
    }
  }

  async ack(alertId) {
    const alert = await request(`/v1/alerts/${encodeURIComponent(alertId)}/ack`, { method: 'POST' });
    this.alerts.delete(alertId);
    this.changed();
    return alert;
  }

  /** Open alerts, highest level first, then newest. */
  sorted() {
    return [...this.alerts.values()].sort((a, b) => levelRank(b.risk_level) - levelRank(a.risk_level)
      || String(b.raised_at).localeCompare(String(a.raised_at)));
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed() {
    for (const fn of this.listeners) fn();
  }

  setSound(on) {
    this.sound = on;
    sessionStorage.setItem('scribe.console.sound', on ? 'on' : 'off');
    if (on) this.ensureAudio();
    this.changed();
  }

  ensureAudio() {
    if (!this.audio && window.AudioContext) this.audio = new AudioContext();
    this.audio?.resume?.();
  }

  cue(alert) {
    document.body.classList.add('alert-flash');
    setTimeout(() => document.body.classList.remove('alert-flash'), 1600);
    if (!this.sound || !this.audio || this.audio.state !== 'running') return;
    const urgent = levelRank(alert.risk_level) >= 4;
    const t0 = this.audio.currentTime;
    for (let i = 0; i < (urgent ? 3 : 2); i += 1) {
      const osc = this.audio.createOscillator();
      const gain = this.audio.createGain();
      osc.frequency.value = i % 2 ? 660 : 880;
      gain.gain.setValueAtTime(0.0001, t0 + i * 0.3);
      gain.gain.exponentialRampToValueAtTime(0.25, t0 + i * 0.3 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.3 + 0.25);
      osc.connect(gain).connect(this.audio.destination);
      osc.start(t0 + i * 0.3);
      osc.stop(t0 + i * 0.3 + 0.26);
    }
  }
}

export class AlertsView {
  constructor(hub) {
    this.hub = hub;
    this.list = h('ol', { class: 'alerts', 'aria-label': '未处理的警报' });
    this.state = h('p', { class: 'list-state', role: 'status' });
    this.soundBtn = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'true',
                                  onclick: () => this.hub.setSound(!this.hub.sound) });
    this.el = h('section', { class: 'alerts-view', 'aria-labelledby': 'alerts-title' },
      h('div', { class: 'list-head' }, h('h1', { id: 'alerts-title' }, '督导警报'), this.state, this.soundBtn),
      this.list);
    this.errors = new Map();
    this.unsubscribe = hub.subscribe(() => this.render());
    this.render();
  }

  destroy() {
    this.unsubscribe();
  }

  render() {
    const { state, retryIn } = this.hub.status;
    this.state.className = `list-state conn-${state}`;
    this.state.textContent = { open: '● 实时接收中', connecting: '正在连接…', refused: '此令牌不能接收警报',
                               closed: '连接已关闭' }[state] || `连接中断，${retryIn} 秒后重连…`;
    this.soundBtn.textContent = this.hub.sound ? '声音提示：开' : '声音提示：关';
    this.soundBtn.setAttribute('aria-pressed', String(this.hub.sound));
    const alerts = this.hub.sorted();
    if (!alerts.length) {
      this.list.replaceChildren(h('li', { class: 'no-alerts muted' }, '目前没有未处理的警报。'));
      return;
    }
    this.list.replaceChildren(...alerts.map((a) => this.card(a)));
  }

  card(a) {
    const btn = h('button', { type: 'button', class: 'ack', onclick: () => this.acknowledge(a.alert_id, btn) },
      '确认已知悉');
    const err = this.errors.get(a.alert_id);
    const fresh = this.hub.fresh.has(a.alert_id);
    return h('li', { class: ['alert-card', `lvl-${levelRank(a.risk_level)}`, fresh ? 'fresh' : ''],
                     dataset: { alertId: a.alert_id, callId: a.call_id } },
      h('div', { class: 'alert-head' },
        riskBadge(a.risk_level),
        h('span', { class: 'labels' }, (a.labels || []).map((l) => h('span', { class: 'risk-tag' }, labelName(l)))),
        h('time', { datetime: a.raised_at }, dateTime(a.raised_at))),
      h('p', { class: 'alert-who' },
        h('a', { href: `#/calls/${encodeURIComponent(a.call_id)}`, class: 'call-link' }, `通话 ${a.call_id}`),
        h('span', {}, ` · 咨询员 ${a.counselor_id || '未知'}`)),
      h('ul', { class: 'evidence' }, (a.evidence || []).map((e) => h('li', {},
        h('span', { class: 'at' }, clock(e.start)), h('q', {}, e.text)))),
      err ? h('p', { class: 'error', role: 'alert' }, err) : null,
      h('div', { class: 'alert-actions' }, btn,
        h('a', { href: `#/calls/${encodeURIComponent(a.call_id)}`, class: 'button secondary' }, '查看通话')));
  }

  async acknowledge(alertId, btn) {
    btn.disabled = true;
    btn.textContent = '正在确认…';
    try {
      await this.hub.ack(alertId);
      this.errors.delete(alertId);
    } catch (e) {
      this.errors.set(alertId, `确认失败：${describe(e)}`);
      this.render();
    }
  }
}
