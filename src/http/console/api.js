// The console's one door to the server: the JSON gateway under /api/ (the same gRPC
// services, with the same token checks, as the gRPC listener). Pages call call(), watch()
// and role(); they never build requests themselves.
//
//   call(service, method, body)            -> Promise<answer JSON>; throws ApiError
//   watch(service, method, body, onMessage, onError) -> close()
//   token() / setToken(t)                  the bearer token, kept for this tab only
//   whoami() / role()                      who the server says the token is
//
// `service` is 'ClientCommandService' or a full name ('rebound.v1.ClientCommandService').

const KEY = 'rebound.token';

/** An error answered by the server: `code` is the gRPC code name ('RESOURCE_EXHAUSTED'). */
export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(KEY) || '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
  identity = null;
}

function fullName(service) {
  return service.includes('.') ? service : `rebound.v1.${service}`;
}

function headers() {
  const h = { 'content-type': 'application/json' };
  const t = token();
  if (t) h.authorization = `Bearer ${t}`;
  return h;
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError('UNKNOWN', `HTTP ${response.status}: the answer is not JSON`);
  }
  if (!response.ok) throw new ApiError(body.code || 'UNKNOWN', body.message || `HTTP ${response.status}`);
  return body;
}

/** Run one unary method. */
export async function call(service, method, body = {}) {
  let response;
  try {
    response = await fetch(`/api/${fullName(service)}/${method}`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify(body),
      credentials: 'omit',
    });
  } catch (err) {
    throw new ApiError('UNAVAILABLE', `the server cannot be reached: ${err.message}`);
  }
  return answer(response);
}

/**
 * Follow a server-streaming method as server-sent events. onMessage gets each message;
 * onError (optional) gets an ApiError when the stream is refused or fails. A stream ended by
 * a server restart (UNAVAILABLE) or a dropped connection is reopened after a pause.
 * Returns close().
 */
export function watch(service, method, body, onMessage, onError = () => {}) {
  let source = null;
  let closed = false;
  let retry = null;
  const params = new URLSearchParams({ request: JSON.stringify(body || {}) });
  if (token()) params.set('access_token', token());
  const url = `/api/${fullName(service)}/${method}?${params}`;
  const reopen = () => {
    if (source) source.close();
    source = null;
    if (!closed && retry === null) retry = setTimeout(() => { retry = null; open(); }, 2000);
  };
  const open = () => {
    if (closed) return;
    source = new EventSource(url);
    source.onmessage = (e) => onMessage(JSON.parse(e.data));
    source.addEventListener('end', () => { source.close(); });
    source.addEventListener('error', (e) => {
      if (e.data === undefined) { reopen(); return; } // the connection dropped
      const err = JSON.parse(e.data);
      if (err.code === 'UNAVAILABLE') { reopen(); return; }
      source.close();
      onError(new ApiError(err.code, err.message));
    });
  };
  open();
  return () => {
    closed = true;
    if (retry !== null) clearTimeout(retry);
    if (source) source.close();
  };
}

let identity = null;

/** `{principal, role, auth}` as the server's auth gate sees this tab's token. */
export async function whoami() {
  if (!identity) {
    identity = fetch('/api/whoami', { headers: headers(), credentials: 'omit' })
      .then(answer)
      .catch((err) => { identity = null; throw err; });
  }
  return identity;
}

const RANK = { viewer: 1, operator: 2, admin: 3 };

/** The token's role: 'viewer', 'operator' or 'admin' ('admin' when auth is off: the server refuses nothing). */
export async function role() {
  const me = await whoami();
  return me.role || 'admin';
}

/** Whether the token's role is at least `needed`; false when the token is refused. */
export async function can(needed) {
  try {
    return RANK[await role()] >= RANK[needed];
  } catch {
    return false;
  }
}
