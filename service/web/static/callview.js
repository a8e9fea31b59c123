// One call: its header, the live transcript (WS …/watch) and the worksheet beside it.

import { LiveSocket, request } from './api.js';
import { clock, dateTime, h } from './dom.js';
import { LEVEL_CLASS, levelRank, LIVE_STATUS, STATUS } from './labels.js';
import { Transcript } from './transcript.js';
import { describe, WorksheetPanel } from './worksheet.js';

export function riskBadge(level) {
  const lv = level || '无';
  return h('span', { class: ['badge', LEVEL_CLASS[lv] || 'lv0'], title: `风险等级：${lv}` }, `风险 ${lv}`);
}

export function statusChip(status) {
  return h('span', { class: ['status', `st-${status}`] }, STATUS[status] || status);
}

export class CallView {
  constructor({ callId, schema }) {
    this.callId = callId;
    this.call = null;
    this.sawLive = false;
    this.ended = false;
    this.transcript = new Transcript();
    this.worksheet = new WorksheetPanel({ callId, schema, transcript: this.transcript });
    this.head = h('div', { class: 'call-head' });
    this.conn = h('span', { class: 'conn', role: 'status' });
    this.el = h('div', { class: 'call-view' },
      h('div', { class: 'call-bar' }, h('a', { href: '#/calls', class: 'back' }, '← 通话列表'), this.head, this.conn),
      h('div', { class: 'split' }, this.transcript.el, this.worksheet.el));
  }

  async start() {
    let call;
    try {
      call = await request(`/v1/calls/${encodeURIComponent(this.callId)}`);
    } catch (e) {
      this.el.replaceChildren(h('div', { class: 'notice' }, h('p', {}, e.status === 404 ? `没有通话 ${this.callId}。`
        : `无法打开通话：${describe(e)}`), h('a', { href: '#/calls' }, '返回通话列表')));
      return;
    }
    this.setCall(call);
    this.transcript.load(call.segments || []);
    if (!LIVE_STATUS.has(call.status)) this.worksheet.load();
    this.socket = new LiveSocket(`/v1/calls/${encodeURIComponent(this.callId)}/watch`, {
      message: (m) => this.onMessage(m),
      status: (s) => this.showConn(s),
      refused: () => this.conn.replaceChildren('无权实时查看此通话'),
    });
  }

  destroy() {
    this.socket?.stop();
    this.worksheet.destroy();
  }

  onMessage(m) {
    switch (m.type) {
      case 'snapshot':
        this.setCall(m.call || this.call);
        this.transcript.load(m.segments || []);
        break;
      case 'partial':
        this.transcript.partial(m);
        break;
      case 'final':
        this.transcript.final(m);
        if (this.call && m.end > (this.call.audio_seconds || 0)) this.setCall({ ...this.call, audio_seconds: m.end });
        break;
      case 'risk':
        this.transcript.risk(m);
        if (this.call && m.risk_level && levelRank(m.risk_level) > levelRank(this.call.risk_level)) {
          this.setCall({ ...this.call, risk_level: m.risk_level });
        }
        break;
      case 'ended':
        this.onEnded();
        break;
      default:
        break;
    }
  }

  async onEnded() {
    if (this.ended) return;
    this.ended = true;
    this.socket.stop();
    this.conn.replaceChildren('通话已结束');
    try {
      const call = await request(`/v1/calls/${encodeURIComponent(this.callId)}`);
      this.setCall(call);
    } catch (e) { /* the header keeps what the socket said */ }
    if (this.sawLive || !this.worksheet.ws) this.worksheet.load({ wait: this.sawLive });
  }

  setCall(call) {
    this.call = call;
    const live = LIVE_STATUS.has(call.status) && !this.ended;
    if (live) this.sawLive = true;
    this.worksheet.setLive(live);
    this.el.classList.toggle('is-live', live);
    this.head.replaceChildren(
      h('h1', { class: 'call-title' }, `通话 ${call.call_id}`),
      statusChip(call.status),
      riskBadge(call.risk_level),
      h('span', { class: 'meta' }, `咨询员 ${call.counselor_id || '—'}`),
      h('span', { class: 'meta' }, `开始 ${dateTime(call.started_at)}`),
      h('span', { class: 'meta' }, `时长 ${clock(call.audio_seconds)}`));
  }

  showConn(s) {
    if (this.ended) return;
    const text = { connecting: '正在连接实时转写…', open: '● 实时', closed: '实时连接已关闭' }[s.state]
      || `连接中断，${s.retryIn} 秒后重连…`;
    this.conn.className = `conn conn-${s.state}`;
    this.conn.replaceChildren(text);
  }
}
