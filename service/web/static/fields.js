// One form control per worksheet field, chosen from the field's JSON Schema: enums as selects, sets as checkbox
// groups, booleans as 是/否, 0–10 ratings as numbers, free text as inputs or text areas.

import { h, uid } from './dom.js';

export function fieldKind(prop, defs) {
  if (prop.$ref) prop = defs[prop.$ref.split('/').pop()] || {};
  const types = [].concat(prop.type || []);
  const nullable = types.includes('null');
  if (prop.enum) return { kind: 'enum', options: prop.enum, nullable: prop.enum.includes(null) };
  if (types.includes('array')) {
    return prop.items && prop.items.enum ? { kind: 'multi', options: prop.items.enum } : { kind: 'list' };
  }
  if (types.includes('boolean')) return { kind: 'bool', nullable };
  if (types.includes('integer') || types.includes('number')) {
    return { kind: 'rating', min: prop.minimum ?? 0, max: prop.maximum ?? 10, nullable };
  }
  return { kind: nullable ? 'line' : 'text', nullable };
}

/** A control: {el, input (the element a label points at), read() → value | {error}, write(value)}. */
export function makeControl(name, spec, labelId) {
  const id = uid(`f-${name}`);
  switch (spec.kind) {
    case 'enum': return selectControl(id, spec.options.filter((o) => o !== null).map((o) => [o, o]));
    case 'bool': return selectControl(id, [[true, '是'], [false, '否']]);
    case 'multi': return checkboxControl(id, spec.options, labelId);
    case 'list': return listControl(id);
    case 'rating': return ratingControl(id, spec);
    case 'line': return lineControl(id);
    default: return textControl(id);
  }
}

function selectControl(id, options) {
  const empty = h('option', { value: '' }, '— 未填写 —');
  const select = h('select', { id, class: 'control' }, empty,
    options.map(([value], i) => h('option', { value: String(i) }, options[i][1])));
  return {
    el: select,
    input: select,
    read() {
      if (select.value === '') return null;
      return options[Number(select.value)][0];
    },
    write(value) {
      const i = options.findIndex(([v]) => v === value);
      empty.hidden = value !== null && value !== undefined && i >= 0;
      select.value = i >= 0 ? String(i) : '';
    },
  };
}

function checkboxControl(id, options, labelId) {
  const boxes = options.map((o, i) => h('input', { type: 'checkbox', id: `${id}-${i}`, value: o }));
  const el = h('div', { class: 'checks', role: 'group', 'aria-labelledby': labelId, id },
    boxes.map((box, i) => h('label', { class: 'check', for: box.id }, box, options[i])));
  return {
    el,
    input: boxes[0],
    read: () => boxes.filter((b) => b.checked).map((b) => b.value),
    write(value) {
      const set = new Set(value || []);
      for (const b of boxes) b.checked = set.has(b.value);
    },
  };
}

function listControl(id) {
  const area = h('textarea', { id, class: 'control', rows: '2' });
  return {
    el: area,
    input: area,
    read: () => area.value.split(/[\n、，,;；]+/).map((s) => s.trim()).filter(Boolean),
    write(value) { area.value = (value || []).join('\n'); },
  };
}

function ratingControl(id, spec) {
  const input = h('input', { id, class: 'control rating', type: 'number', inputmode: 'numeric', step: '1',
                             min: String(spec.min), max: String(spec.max), placeholder: '未提及' });
  return {
    el: input,
    input,
    read() {
      const raw = input.value.trim();
      if (raw === '' && !input.validity.badInput) return spec.nullable ? null : { error: '请填写一个分值' };
      const n = Number(raw);
      if (input.validity.badInput || !Number.isInteger(n)) {
        return { error: `请填写 ${spec.min}–${spec.max} 的整数${spec.nullable ? '，未提及请留空' : ''}` };
      }
      return n; // the range is the service's to check: its answer shows beside the field
    },
    write(value) { input.value = value === null || value === undefined ? '' : String(value); },
  };
}

function lineControl(id) {
  const input = h('input', { id, class: 'control', type: 'text', placeholder: '未提及', autocomplete: 'off' });
  return {
    el: input,
    input,
    read() { const v = input.value.trim(); return v === '' ? null : v; },
    write(value) { input.value = value ?? ''; },
  };
}

function textControl(id) {
  const area = h('textarea', { id, class: 'control', rows: '4' });
  return {
    el: area,
    input: area,
    read: () => area.value.trim(),
    write(value) { area.value = value ?? ''; },
  };
}

/** Equality of two field values; sets compare without order. */
export function sameValue(a, b) {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
  }
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** The service's validation messages (JSON Schema wording) in Chinese where the pattern is known. */
export function errorText(message) {
  const m = String(message || '').replace(/^[a-z_]+: /, '');
  const rules = [
    [/greater than the maximum of (\S+)/, (x) => `不能大于 ${x[1]}`],
    [/less than the minimum of (\S+)/, (x) => `不能小于 ${x[1]}`],
    [/is not one of/, () => '不是允许的选项'],
    [/is not of type/, () => '类型不正确'],
    [/non-unique/, () => '有重复的选项'],
    [/unknown field/, () => '未知字段'],
  ];
  for (const [re, say] of rules) {
    const x = m.match(re);
    if (x) return `${say(x)}（${m}）`;
  }
  return m || '取值无效';
}

export function showValue(value) {
  if (value === null || value === undefined || value === '') return '（空）';
  if (value === true) return '是';
  if (value === false) return '否';
  if (Array.isArray(value)) return value.length ? value.join('、') : '（无）';
  return String(value);
}
