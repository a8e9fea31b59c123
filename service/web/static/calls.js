// The call list: live calls first, then the most recent; refreshed every few seconds.

import { request } from './api.js';
import { clock, dateTime, h } from './dom.js';
import { LIVE_STATUS } from './labels.js';
import { riskBadge, statusChip } from './callview.js';
import { describe } from './worksheet.js';

const REFRESH_MS = 3000;

export class CallList {
  constructor() {
    this.tbody = h('tbody');
    this.state = h('p', { class: 'list-state', role: 'status' });
    this.el = h('section', { class: 'call-list', 'aria-labelledby': 'calls-title' },
      h('div', { class: 'list-head' }, h('h1', { id: 'calls-title' }, '通话'), this.state),
      h('table', { class: 'calls' },
        h('thead', {}, h('tr', {}, ['状态', '通话编号', '风险等级', '咨询员', '开始时间', '时长', '来源']
          .map((t) => h('th', { scope: 'col' }, t)))),
        this.tbody));
    this.timer = null;
  }

  start() {
    this.refresh();
  }

  destroy() {
    clearTimeout(this.timer);
    this.timer = null;
    this.stopped = true;
  }

  async refresh() {
    try {
      const data = await request('/v1/calls?limit=50');
      if (this.stopped) return;
      this.render(data.calls || []);
      this.state.textContent = `更新于 ${dateTime(new Date().toISOString())}`;
    } catch (e) {
      if (this.stopped) return;
      this.state.textContent = `无法加载通话列表：${describe(e)}`;
    }
    this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
  }

  render(calls) {
    const key = JSON.stringify(calls);
    if (key === this.last) return; // keep focus and scroll when nothing changed
    this.last = key;
    const live = (c) => (LIVE_STATUS.has(c.status) ? 1 : 0);
    calls.sort((a, b) => live(b) - live(a) || String(b.started_at).localeCompare(String(a.started_at)));
    if (!calls.length) {
      this.tbody.replaceChildren(h('tr', {}, h('td', { colspan: '7', class: 'muted' }, '还没有通话。')));
      return;
    }
    this.tbody.replaceChildren(...calls.map((c) => {
      const href = `#/calls/${encodeURIComponent(c.call_id)}`;
      const row = h('tr', { class: ['call-row', live(c) ? 'live' : ''], dataset: { callId: c.call_id } },
        h('td', {}, statusChip(c.status)),
        h('td', {}, h('a', { href, class: 'call-link' }, c.call_id)),
        h('td', {}, riskBadge(c.risk_level)),
        h('td', {}, c.counselor_id || '—'),
        h('td', {}, dateTime(c.started_at)),
        h('td', {}, clock(c.audio_seconds)),
        h('td', {}, c.source === 'upload' ? '录音上传' : '实时'));
      row.addEventListener('click', (e) => { if (e.target.tagName !== 'A') location.hash = href; });
      return row;
    }));
  }
}
