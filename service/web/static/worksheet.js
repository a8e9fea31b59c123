// The drafted worksheet beside the transcript: each field with its confidence and evidence, counselor
// corrections (PATCH), finalization, and the history of versions.

import { ApiError, request } from './api.js';
import { dateTime, h, uid } from './dom.js';
import { errorText, fieldKind, makeControl, sameValue, showValue } from './fields.js';
import { FIELDS, HISTORY_KINDS, SECTIONS } from './labels.js';

const LOW_CONFIDENCE = 0.6;
const DRAFT_WAIT_MS = [500, 1000, 1500, 2000, 3000, 4000];

export class WorksheetPanel {
  constructor({ callId, schema, transcript }) {
    this.callId = callId;
    this.schema = schema;
    this.transcript = transcript;
    this.ws = null;
    this.rows = new Map(); // field → {spec, control, row, error, evidenceBtn, ...}
    this.live = false;
    this.destroyed = false;
    this.body = h('div', { class: 'worksheet-body' });
    this.message = h('p', { class: 'form-message', role: 'status', 'aria-live': 'polite' });
    this.el = h('section', { class: 'panel worksheet', 'aria-labelledby': 'worksheet-title' },
      h('header', { class: 'panel-head' }, h('h2', { id: 'worksheet-title' }, '工单'),
        this.statusLine = h('span', { class: 'ws-status' })),
      this.body);
    this.showNote('正在加载工单…');
  }

  get base() { return `/v1/calls/${encodeURIComponent(this.callId)}/worksheet`; }

  destroy() { this.destroyed = true; }

  /** The call is live: no worksheet until it ends, but a draft from the transcript so far can be asked for. */
  setLive(live) {
    this.live = live;
    if (live && !this.ws) {
      this.showNote('通话进行中。通话结束后将自动起草工单。',
        h('button', { type: 'button', class: 'secondary', onclick: () => this.draftNow() }, '按目前的转写起草'));
    }
  }

  /** Load the worksheet; after a call ends, wait a little for its draft to be written. */
  async load({ wait = false } = {}) {
    if (this.ws && this.saveBtn && Object.keys(this.changes()).length) {
      // never throw away what the counselor is typing: offer the newer draft instead
      this.say('通话已结束，工单已按完整转写更新。保存或撤销您的修改后，可载入最新草稿。', 'error');
      this.message.append(' ', h('button', { type: 'button', class: 'link', onclick: () => this.reload() }, '载入最新草稿'));
      return;
    }
    const delays = wait ? [...DRAFT_WAIT_MS] : [];
    for (;;) {
      try {
        const ws = await request(this.base);
        if (!this.destroyed) this.render(ws);
        return;
      } catch (e) {
        if (this.destroyed) return;
        if (e.status === 404 && delays.length) {
          this.showNote('正在起草工单…');
          await new Promise((r) => setTimeout(r, delays.shift()));
          continue;
        }
        if (e.status === 404) {
          if (this.live) this.setLive(true);
          else this.showNote('这通电话还没有工单。',
            h('button', { type: 'button', class: 'secondary', onclick: () => this.draftNow() }, '起草工单'));
          return;
        }
        this.showNote(`无法加载工单：${describe(e)}`);
        return;
      }
    }
  }

  async reload() {
    if (Object.keys(this.changes()).length && !window.confirm('放弃未保存的修改并载入最新草稿？')) return;
    this.ws = null;
    await this.load();
  }

  async draftNow() {
    this.showNote('正在起草…');
    try {
      this.render(await request(`${this.base}/draft`, { method: 'POST' }));
    } catch (e) {
      this.showNote(`起草失败：${describe(e)}`);
    }
  }

  showNote(text, ...extra) {
    this.ws = null;
    this.statusLine.replaceChildren();
    this.body.replaceChildren(h('div', { class: 'ws-note' }, h('p', {}, text), extra));
  }

  render(ws) {
    this.ws = ws;
    this.rows.clear();
    const finalized = ws.status === 'finalized';
    this.statusLine.replaceChildren(
      h('span', { class: ['chip', finalized ? 'done' : 'draft'] }, finalized ? '已定稿' : '草稿'),
      ` 第 ${ws.version} 版`);
    const defs = this.schema.$defs || {};
    const props = this.schema.properties || {};
    const known = new Set(SECTIONS.flatMap(([, names]) => names));
    const others = Object.keys(props).filter((n) => !known.has(n)); // a field the console has no place for yet
    const sections = [];
    for (const [title, names] of [...SECTIONS, ['其他', others]]) {
      const rows = names.filter((n) => props[n])
        .map((n) => this.fieldRow(n, fieldKind(props[n], defs), ws.fields[n] || {}));
      if (rows.length) sections.push(h('fieldset', { class: 'ws-section' }, h('legend', {}, title), rows));
    }
    this.fieldset = h('div', { class: 'ws-fields' }, sections);
    if (finalized) lock(this.fieldset);
    this.reason = h('input', { type: 'text', id: 'ws-reason', class: 'control', autocomplete: 'off',
                               placeholder: '例如：来电者后来说明了年龄' });
    this.saveBtn = h('button', { type: 'submit', class: 'primary', disabled: true }, '保存更正');
    this.resetBtn = h('button', { type: 'button', class: 'secondary', disabled: true,
                                  onclick: () => this.reset() }, '撤销修改');
    this.finalizeBtn = h('button', { type: 'button', class: 'finalize', onclick: () => this.askFinalize() }, '定稿');
    this.historyBtn = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false',
                                    onclick: () => this.toggleHistory() }, '修改记录');
    this.history = h('section', { class: 'history', hidden: true, 'aria-label': '修改记录' });
    const meta = h('p', { class: 'ws-meta' },
      finalized ? `由 ${ws.finalized_by || '—'} 于 ${dateTime(ws.finalized_at)} 定稿；工单已锁定，不能再修改。`
                : `起草引擎：${ws.engine || '—'}${versions(ws.engine_versions)} · 最近更新 ${dateTime(ws.updated_at)}` +
                  (ws.updated_by ? `（${ws.updated_by}）` : ''));
    const actions = finalized
      ? h('div', { class: 'ws-actions' }, this.historyBtn)
      : h('div', { class: 'ws-actions' },
        h('label', { for: 'ws-reason', class: 'reason-label' }, '更正原因'), this.reason,
        this.saveBtn, this.resetBtn, this.finalizeBtn, this.historyBtn);
    this.form = h('form', { class: ['ws-form', finalized ? 'locked' : ''], novalidate: true,
                            'aria-label': '工单表单', onsubmit: (e) => { e.preventDefault(); this.save(); } },
      meta, this.fieldset, this.message, actions, this.history);
    this.form.addEventListener('input', () => this.refreshDirty());
    this.form.addEventListener('change', () => this.refreshDirty());
    this.body.replaceChildren(this.form);
  }

  fieldRow(name, spec, field) {
    const info = FIELDS[name] || { name };
    const labelId = uid(`l-${name}`);
    const control = makeControl(name, spec, labelId);
    control.write(field.value ?? null);
    const error = h('p', { class: 'field-error', id: uid(`e-${name}`), hidden: true });
    const evidence = field.evidence || [];
    const evidenceBtn = h('button', {
      type: 'button', class: 'evidence-btn', 'aria-pressed': 'false', disabled: !evidence.length,
      title: evidence.length ? '在转写中高亮这些句子' : '没有引用的句子',
      onclick: () => this.showEvidence(name),
    }, evidence.length ? `依据 ${evidence.length} 句` : '无依据');
    const conf = field.confidence;
    const row = h('div', { class: ['field', `kind-${spec.kind}`], dataset: { field: name } },
      h('div', { class: 'field-head' },
        spec.kind === 'multi' ? h('span', { id: labelId, class: 'field-label' }, info.name)
                              : h('label', { id: labelId, class: 'field-label', for: control.input.id }, info.name),
        h('span', { class: ['conf', conf !== null && conf !== undefined && conf < LOW_CONFIDENCE ? 'low' : ''],
                    title: '起草引擎对这一项的把握' },
          conf === null || conf === undefined ? '置信度 —' : `置信度 ${Math.round(conf * 100)}%`),
        field.corrected ? h('span', { class: 'chip corrected' }, '已更正') : null,
        h('span', { class: 'chip dirty-tag' }, '未保存'),
        evidenceBtn),
      control.el,
      info.hint ? h('p', { class: 'hint' }, info.hint) : null,
      error);
    control.input.setAttribute('aria-describedby', error.id);
    this.rows.set(name, { spec, control, row, error, evidenceBtn, original: field.value ?? null });
    return row;
  }

  showEvidence(name) {
    const r = this.rows.get(name);
    const on = r.evidenceBtn.getAttribute('aria-pressed') !== 'true';
    for (const other of this.rows.values()) other.evidenceBtn.setAttribute('aria-pressed', 'false');
    if (!on) {
      this.transcript.clearHighlight();
      return;
    }
    r.evidenceBtn.setAttribute('aria-pressed', 'true');
    const ids = (this.ws.fields[name] && this.ws.fields[name].evidence) || [];
    this.transcript.highlight(ids, (FIELDS[name] || { name }).name);
  }

  /** Fields whose value differs from the saved one: name → value (or {error}). */
  changes() {
    const out = {};
    for (const [name, r] of this.rows) {
      const v = r.control.read();
      if (v && typeof v === 'object' && !Array.isArray(v) && 'error' in v) out[name] = v;
      else if (!sameValue(v, r.original)) out[name] = v;
    }
    return out;
  }

  refreshDirty() {
    if (!this.saveBtn) return;
    const changed = this.changes();
    for (const [name, r] of this.rows) r.row.classList.toggle('dirty', name in changed);
    const any = Object.keys(changed).length > 0;
    this.saveBtn.disabled = !any;
    this.resetBtn.disabled = !any;
  }

  reset() {
    for (const r of this.rows.values()) r.control.write(r.original);
    this.clearErrors();
    this.refreshDirty();
    this.say('已撤销未保存的修改。');
  }

  clearErrors() {
    for (const r of this.rows.values()) setError(r, null);
  }

  say(text, kind = 'ok') {
    this.message.className = `form-message ${kind}`;
    this.message.textContent = text;
  }

  async save() {
    this.clearErrors();
    const changed = this.changes();
    const bad = Object.entries(changed).filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v) && 'error' in v);
    if (bad.length) {
      for (const [name, v] of bad) setError(this.rows.get(name), v.error);
      this.rows.get(bad[0][0]).control.input.focus();
      this.say('有字段填写不正确，请按提示修改后再保存。', 'error');
      return;
    }
    if (!Object.keys(changed).length) return;
    const body = { fields: changed };
    const reason = this.reason.value.trim();
    if (reason) body.reason = reason;
    this.saveBtn.disabled = true;
    this.say('正在保存…', 'busy');
    try {
      const ws = await request(this.base, { method: 'PATCH', body });
      this.render(ws);
      this.say(`已保存更正（第 ${ws.version} 版）：${Object.keys(changed).map((n) => (FIELDS[n] || { name: n }).name).join('、')}。`);
    } catch (e) {
      this.saveBtn.disabled = false;
      if (e.status === 422) this.showFieldErrors(e.detail);
      else if (e.status === 409) this.say('工单已定稿，不能再修改。请刷新查看定稿内容。', 'error');
      else this.say(`保存失败：${describe(e)}`, 'error');
    }
  }

  showFieldErrors(detail) {
    const general = [];
    let first = null;
    for (const d of Array.isArray(detail) ? detail : [{ message: detail }]) {
      const name = d.field || (Array.isArray(d.loc) ? d.loc[d.loc.length - 1] : null);
      const r = name && this.rows.get(name);
      const text = errorText(d.message || d.msg);
      if (r) {
        setError(r, text);
        first = first || r;
      } else general.push(text);
    }
    if (first) first.control.input.focus();
    this.say(`未保存：${general.length ? general.join('；') : '请按字段旁的提示修改。'}`, 'error');
  }

  askFinalize() {
    if (Object.keys(this.changes()).length) {
      this.say('还有未保存的修改：请先保存或撤销，再定稿。', 'error');
      return;
    }
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'fin-title' },
      h('h3', { id: 'fin-title' }, '确认定稿？'),
      h('p', {}, '定稿后工单将被锁定，不能再修改。'),
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, '取消'),
        h('button', { type: 'button', class: 'finalize', id: 'confirm-finalize',
                      onclick: () => { dialog.close(); this.finalize(); } }, '确认定稿')));
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  async finalize() {
    this.say('正在定稿…', 'busy');
    try {
      this.render(await request(`${this.base}/finalize`, { method: 'POST' }));
      this.say('工单已定稿。');
    } catch (e) {
      if (e.status === 409) {
        await this.load();
        this.say('工单已经定稿。', 'error');
      } else this.say(`定稿失败：${describe(e)}`, 'error');
    }
  }

  async toggleHistory() {
    const open = this.history.hidden;
    this.history.hidden = !open;
    this.historyBtn.setAttribute('aria-expanded', String(open));
    if (!open) return;
    this.history.replaceChildren(h('p', { class: 'muted' }, '正在加载修改记录…'));
    try {
      const data = await request(`${this.base}/history`);
      this.history.replaceChildren(h('h3', {}, '修改记录'), historyList(data.versions || []));
      this.history.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    } catch (e) {
      this.history.replaceChildren(h('p', { class: 'error' }, `无法加载修改记录：${describe(e)}`));
    }
  }
}

function historyList(versions) {
  if (!versions.length) return h('p', { class: 'muted' }, '暂无记录。');
  return h('ol', { class: 'history-list', reversed: true },
    [...versions].reverse().map((v) => h('li', { class: ['version', `kind-${v.kind}`],
                                                 dataset: { version: String(v.version) } },
      h('div', { class: 'version-head' },
        h('strong', {}, `第 ${v.version} 版 · ${HISTORY_KINDS[v.kind] || v.kind}`),
        h('span', {}, ` ${v.by || '—'} · ${dateTime(v.at)}`)),
      v.reason ? h('p', { class: 'reason' }, `原因：${v.reason}`) : null,
      Object.keys(v.changes || {}).length
        ? h('ul', { class: 'changes' }, Object.entries(v.changes).map(([name, c]) => h('li', {},
          h('span', { class: 'field-name' }, (FIELDS[name] || { name }).name), '：',
          h('del', {}, showValue(c.from)), ' → ', h('ins', {}, showValue(c.to)))))
        : null)));
}

/** A finalized worksheet: choices are disabled, texts read-only (still selectable); evidence stays clickable. */
function lock(root) {
  for (const el of root.querySelectorAll('select, input, textarea')) {
    if (el.matches('select, input[type=checkbox]')) el.disabled = true;
    else el.readOnly = true;
    el.setAttribute('aria-readonly', 'true');
  }
}

function setError(r, text) {
  r.error.textContent = text || '';
  r.error.hidden = !text;
  r.row.classList.toggle('invalid', Boolean(text));
  if (text) r.control.input.setAttribute('aria-invalid', 'true');
  else r.control.input.removeAttribute('aria-invalid');
}

function versions(v) {
  if (!v || typeof v !== 'object') return '';
  const parts = Object.entries(v).map(([k, x]) => `${k} ${typeof x === 'object' ? JSON.stringify(x) : x}`);
  return parts.length ? `（${parts.join('，')}）` : '';
}

export function describe(e) {
  if (e instanceof ApiError) {
    if (e.status === 0) return '无法连接服务';
    if (e.status === 403) return '没有权限';
    if (e.status === 404) return '不存在';
    return typeof e.detail === 'string' ? e.detail : `HTTP ${e.status}`;
  }
  return String(e);
}
