// The console: login with a token, then the call list, one call, or (supervisors) the alerts.

import { AUTH_LOST, auth, probeRole, request } from './api.js';
import { h } from './dom.js';
import { AlertHub, AlertsView } from './alerts.js';
import { CallList } from './calls.js';
import { CallView } from './callview.js';
import { labelName, ROLES } from './labels.js';

const root = document.getElementById('app');
let schema = null;
let view = null;
let hub = null;
let nav = null;

async function boot() {
  try {
    schema = (await request('/console/schema.json', { token: null })).worksheet;
  } catch (e) {
    root.replaceChildren(h('p', { class: 'notice error' }, '无法加载控制台，请刷新页面重试。'));
    return;
  }
  window.addEventListener(AUTH_LOST, () => logout('登录已失效，请重新输入令牌。'));
  window.addEventListener('hashchange', route);
  if (auth.token && auth.role) enter();
  else showLogin();
}

function showLogin(message) {
  teardown();
  document.title = '登录 · 12356 通话助手';
  const input = h('input', { id: 'token', type: 'password', class: 'control', autocomplete: 'off',
                             spellcheck: 'false', required: true, 'aria-describedby': 'login-error' });
  const error = h('p', { id: 'login-error', class: 'login-error', role: 'alert', hidden: !message }, message || '');
  const button = h('button', { type: 'submit', class: 'primary' }, '登录');
  const form = h('form', { class: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, '12356 心理援助热线 · 通话助手'),
    h('p', { class: 'muted' }, '请输入分配给您的访问令牌。令牌只保存在本浏览器标签页中，关闭标签页即失效。'),
    h('label', { for: 'token' }, '访问令牌'), input, error, button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) {
      showError('请输入访问令牌。');
      return;
    }
    button.disabled = true;
    button.textContent = '正在验证…';
    try {
      const role = await probeRole(token);
      auth.set(token, role);
      enter();
    } catch (err) {
      showError({ 401: '令牌无效：请检查后重新输入。', 403: '此令牌没有使用控制台的权限（控制台供咨询员和督导使用）。',
                  0: '无法连接服务，请稍后再试。' }[err.status] || `登录失败（HTTP ${err.status}）。`);
      button.disabled = false;
      button.textContent = '登录';
      input.select();
    }
  });
  function showError(text) {
    error.textContent = text;
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
  }
  root.replaceChildren(h('main', { class: 'login-page' }, form));
  input.focus();
}

function enter() {
  teardown();
  const links = [h('a', { href: '#/calls', dataset: { nav: 'calls' } }, '通话列表')];
  if (auth.isSupervisor) {
    hub = new AlertHub();
    const count = h('span', { class: 'count', hidden: true });
    links.push(h('a', { href: '#/alerts', dataset: { nav: 'alerts' }, id: 'nav-alerts' }, '督导警报', count));
    const toast = h('div', { class: 'toast', role: 'alert', hidden: true });
    hub.subscribe(() => {
      const alerts = hub.sorted();
      count.textContent = String(alerts.length);
      count.hidden = alerts.length === 0;
      document.title = `${alerts.length ? `【${alerts.length} 条警报】` : ''}12356 通话助手`;
      const fresh = alerts.find((a) => hub.fresh.has(a.alert_id));
      toast.hidden = !fresh || location.hash.startsWith('#/alerts');
      if (fresh) {
        toast.replaceChildren(h('a', { href: '#/alerts' }, `新警报：通话 ${fresh.call_id} · 风险 ${fresh.risk_level} · `,
          (fresh.labels || []).map(labelName).join('、')));
      }
    });
    document.body.append(toast);
    hub.start();
  }
  nav = h('header', { class: 'topbar' },
    h('span', { class: 'brand' }, '12356 通话助手'),
    h('nav', { 'aria-label': '主导航' }, links),
    h('span', { class: 'who' }, `当前身份：${ROLES[auth.role] || auth.role}`),
    h('button', { type: 'button', class: 'link logout', onclick: () => logout() }, '退出'));
  root.replaceChildren(nav, h('main', { id: 'main' }));
  document.title = '12356 通话助手';
  route();
}

function logout(message) {
  auth.clear();
  location.hash = '';
  showLogin(message);
}

function teardown() {
  view?.destroy?.();
  view = null;
  hub?.stop();
  hub = null;
  document.querySelector('.toast')?.remove();
}

function route() {
  if (!auth.token || !nav) return;
  const main = document.getElementById('main');
  view?.destroy?.();
  view = null;
  const hash = location.hash || '#/calls';
  const match = hash.match(/^#\/calls\/(.+)$/);
  let current = 'calls';
  const callId = match ? callIdOf(match[1]) : null;
  if (match && callId === null) {
    // a link that names no call (bad %-escapes, or '.'/'..', which a browser would resolve into another API path)
    main.replaceChildren(h('div', { class: 'notice', role: 'alert' },
      h('p', {}, '链接中的通话编号无效。'), h('a', { href: '#/calls' }, '返回通话列表')));
    markNav(null);
    return;
  }
  if (match) {
    view = new CallView({ callId, schema });
  } else if (hash.startsWith('#/alerts')) {
    current = 'alerts';
    if (!auth.isSupervisor) {
      main.replaceChildren(h('div', { class: 'notice', role: 'alert' },
        h('p', {}, '督导警报仅供督导查看。'), h('a', { href: '#/calls' }, '返回通话列表')));
      markNav(current);
      return;
    }
    view = new AlertsView(hub);
    document.querySelector('.toast')?.setAttribute('hidden', '');
  } else {
    view = new CallList();
  }
  markNav(match ? null : current);
  main.replaceChildren(view.el);
  view.start?.();
}

/** The call id in a #/calls/ID link, or null when it is none a request path can carry as one segment. */
function callIdOf(encoded) {
  let id;
  try { id = decodeURIComponent(encoded); } catch (e) { return null; }
  return id === '' || id === '.' || id === '..' ? null : id;
}

function markNav(current) {
  for (const a of nav.querySelectorAll('nav a')) {
    if (a.dataset.nav === current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

boot();
