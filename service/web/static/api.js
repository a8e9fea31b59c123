// The service API as the console uses it: the token (kept in sessionStorage only), JSON requests, and
// WebSockets that reconnect with backoff.

const TOKEN_KEY = 'scribe.console.token';
const ROLE_KEY = 'scribe.console.role';

export const auth = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  get role() { return sessionStorage.getItem(ROLE_KEY); },
  get isSupervisor() { return this.role === 'supervisor' || this.role === 'admin'; },
  set(token, role) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(ROLE_KEY, role);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ROLE_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === 'string' ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

/** Raised on the window when the service no longer accepts the token (the app goes back to the login). */
export const AUTH_LOST = 'scribe:auth-lost';

export async function request(path, { method = 'GET', body, token = auth.token } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
                              cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    throw new ApiError(0, '无法连接服务');
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (!res.ok) {
    if (res.status === 401 && token === auth.token && auth.token) window.dispatchEvent(new Event(AUTH_LOST));
    throw new ApiError(res.status, data && typeof data === 'object' && 'detail' in data ? data.detail : data);
  }
  return data;
}

/** Which console a token opens (GET /v1/me): 'counselor' or 'supervisor' (admin too); throws ApiError(401|0),
 * or ApiError(403) for a role with no console (telephony). */
export async function probeRole(token) {
  const me = await request('/v1/me', { token });
  if (me.role === 'counselor') return 'counselor';
  if (me.role === 'supervisor' || me.role === 'admin') return 'supervisor';
  throw new ApiError(403, `role ${me.role} has no console`);
}

export function wsUrl(path) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const sep = path.includes('?') ? '&' : '?';
  return `${scheme}://${location.host}${path}${sep}token=${encodeURIComponent(auth.token || '')}`;
}

const POLICY = 1008;

/**
 * A WebSocket that reconnects with exponential backoff (1 s … 30 s, with jitter) until closed or told to stop.
 * handlers: message(obj), status({state: 'connecting'|'open'|'waiting'|'closed', retryIn}), open(), refused(event).
 * A close with 1008 (bad token or role) is not retried.
 */
export class LiveSocket {
  constructor(path, handlers) {
    this.path = path;
    this.handlers = handlers;
    this.delay = 1000;
    this.stopped = false;
    this.timer = null;
    this.ws = null;
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    this.emitStatus('connecting');
    const ws = new WebSocket(wsUrl(this.path));
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 1000;
      this.emitStatus('open');
      this.handlers.open?.();
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      this.handlers.message?.(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (ev.code === POLICY) {
        this.stopped = true;
        this.emitStatus('closed');
        this.handlers.refused?.(ev);
        return;
      }
      const wait = Math.min(30000, this.delay) * (0.8 + Math.random() * 0.4);
      this.delay = Math.min(30000, this.delay * 2);
      this.emitStatus('waiting', Math.round(wait / 1000));
      this.timer = setTimeout(() => this.connect(), wait);
    };
  }

  /** Stop for good (the server finished, or the view went away). */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
  }

  emitStatus(state, retryIn) {
    this.handlers.status?.({ state, retryIn });
  }
}
