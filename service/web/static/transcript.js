// The live transcript: partials (grey) replaced by finals, risk segments marked with their labels, evidence
// highlighting, and auto-scroll that pauses while the reader looks further up.

import { clock, h } from './dom.js';
import { labelName, SPEAKERS } from './labels.js';

const NEAR_BOTTOM_PX = 48;

export class Transcript {
  constructor() {
    this.items = new Map(); // segment_id → {el, start, text, final, labels, keywords}
    this.pendingRisk = new Map();
    this.stick = true;
    this.list = h('ol', { class: 'segments', role: 'log', 'aria-label': '通话转写', 'aria-live': 'polite',
                          'aria-relevant': 'additions' });
    this.empty = h('p', { class: 'muted empty-note' }, '暂无转写内容。');
    this.jump = h('button', { type: 'button', class: 'jump-latest', hidden: true,
                              onclick: () => this.scrollToEnd() }, '↓ 有新内容，回到最新');
    this.highlightBar = h('div', { class: 'highlight-bar', hidden: true, role: 'status' });
    this.scroller = h('div', { class: 'transcript-scroll', tabindex: '0' }, this.empty, this.list);
    this.scroller.addEventListener('scroll', () => {
      const gap = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight;
      this.stick = gap < NEAR_BOTTOM_PX;
      if (this.stick) this.jump.hidden = true;
    });
    this.el = h('section', { class: 'panel transcript', 'aria-labelledby': 'transcript-title' },
      h('header', { class: 'panel-head' }, h('h2', { id: 'transcript-title' }, '实时转写'),
        h('span', { class: 'legend' }, h('span', { class: 'swatch caller' }), '来电者',
          h('span', { class: 'swatch counselor' }), '咨询员', h('span', { class: 'swatch partial' }), '识别中')),
      this.highlightBar, this.scroller, this.jump);
  }

  /** Replace everything with the stored segments of a snapshot. */
  load(segments) {
    this.items.clear();
    this.pendingRisk.clear();
    this.list.replaceChildren();
    for (const s of segments) {
      this.upsert(s.segment_id, s.speaker, s.start, s.end, s.text, true);
      if (s.risk && s.risk.length) this.risk({ segment_id: s.segment_id, labels: s.risk, keywords: [] });
    }
    this.afterChange(true);
  }

  partial(m) {
    const item = this.items.get(m.segment_id);
    if (item && item.final) return; // a final replaces every partial of its segment
    const unstable = typeof m.unstable === 'string' ? m.unstable : '';
    this.upsert(m.segment_id, m.speaker, m.start, null, m.text, false, unstable);
    this.afterChange();
  }

  final(m) {
    this.upsert(m.segment_id, m.speaker, m.start, m.end, m.text, true);
    this.afterChange();
  }

  risk(m) {
    const item = this.items.get(m.segment_id);
    if (!item || !item.final) {
      this.pendingRisk.set(m.segment_id, m);
      return;
    }
    for (const l of m.labels || []) if (!item.labels.includes(l)) item.labels.push(l);
    item.keywords.push(...(m.keywords || []));
    this.render(item);
  }

  upsert(id, speaker, start, end, text, final, unstable = '') {
    let item = this.items.get(id);
    if (!item) {
      item = { id, el: h('li', { class: 'seg', dataset: { seg: String(id) } }), labels: [], keywords: [] };
      this.items.set(id, item);
    }
    Object.assign(item, { speaker: speaker || 'mixed', start: start ?? 0, end, text: text || '', final, unstable });
    this.place(item);
    if (final && this.pendingRisk.has(id)) {
      const r = this.pendingRisk.get(id);
      this.pendingRisk.delete(id);
      this.risk(r);
      return;
    }
    this.render(item);
  }

  /** Keep the list in call-time order (both channels interleave); new text almost always goes last. */
  place(item) {
    let node = this.list.lastElementChild;
    while (node) {
      if (node !== item.el) {
        const other = this.items.get(Number(node.dataset.seg));
        if (!(other.start > item.start || (other.start === item.start && other.id > item.id))) break;
      }
      node = node.previousElementSibling;
    }
    const ref = node ? node.nextElementSibling : this.list.firstElementChild;
    if (ref !== item.el) this.list.insertBefore(item.el, ref);
  }

  render(item) {
    const el = item.el;
    const evidence = el.classList.contains('evidence');
    el.className = ['seg', item.speaker, item.final ? 'final' : 'partial', item.labels.length ? 'risk' : '',
                    evidence ? 'evidence' : ''].filter(Boolean).join(' ');
    el.setAttribute('aria-busy', item.final ? 'false' : 'true');
    const meta = h('div', { class: 'seg-meta' },
      h('span', { class: 'who' }, SPEAKERS[item.speaker] || item.speaker),
      h('time', {}, clock(item.start)),
      item.final ? null : h('span', { class: 'recognizing' }, '识别中…'),
      item.labels.map((l) => h('span', { class: 'risk-tag', dataset: { label: l } }, labelName(l))));
    const text = h('p', { class: 'seg-text' }, highlighted(item.text, item.keywords),
      item.unstable ? h('span', { class: 'unstable' }, item.unstable) : null);
    el.replaceChildren(meta, text);
  }

  afterChange(force = false) {
    this.empty.hidden = this.items.size > 0;
    if (this.stick || force) this.scrollToEnd();
    else this.jump.hidden = false;
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.stick = true;
    this.jump.hidden = true;
  }

  /** Highlight the given segments and scroll to the first; returns how many were found. */
  highlight(ids, what) {
    this.clearHighlight();
    const found = ids.map((id) => this.items.get(id)).filter(Boolean);
    for (const item of found) item.el.classList.add('evidence');
    const missing = ids.length - found.length;
    this.highlightBar.replaceChildren(
      h('span', {}, `「${what}」的依据：${found.length} 句`, missing ? `（${missing} 句不在当前转写中）` : ''),
      h('button', { type: 'button', class: 'link', onclick: () => this.clearHighlight() }, '清除高亮'));
    this.highlightBar.hidden = false;
    found.sort((a, b) => a.start - b.start);
    if (found.length) {
      this.stick = false;
      found[0].el.scrollIntoView({ block: 'center', behavior: 'smooth' });
    }
    return found.length;
  }

  clearHighlight() {
    for (const el of this.list.querySelectorAll('.seg.evidence')) el.classList.remove('evidence');
    this.highlightBar.hidden = true;
  }
}

/** The text with its risk keywords wrapped in <mark>, built from text nodes. */
function highlighted(text, keywords) {
  const spans = [];
  for (const k of keywords || []) {
    if (!k.text) continue;
    let from = 0;
    let at;
    while ((at = text.indexOf(k.text, from)) >= 0) {
      spans.push([at, at + k.text.length, k.label]);
      from = at + k.text.length;
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  const out = [];
  let pos = 0;
  for (const [a, b, label] of spans) {
    if (a < pos) continue;
    if (a > pos) out.push(text.slice(pos, a));
    out.push(h('mark', { title: labelName(label) }, text.slice(a, b)));
    pos = b;
  }
  out.push(text.slice(pos));
  return out;
}
