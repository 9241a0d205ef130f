// The node's HTTP API, called with the bearer token in a header (never in a URL).

const TOKEN_KEY = 'omoi.apiToken';
let token = null;
let onRefused = () => {};

export class Unauthorized extends Error {}

/** An answer other than 2xx: `status`, and the server's `code` and `field` when it gave them. */
export class ApiError extends Error {
  constructor(status, error) {
    super(`${status} ${error.code || ''}: ${error.message}${error.field ? ` (field ${error.field})` : ''}`);
    this.status = status;
    this.code = error.code;
    this.field = error.field;
  }
}

export const getToken = () => token;
export const storedToken = () => localStorage.getItem(TOKEN_KEY);

export function setToken(value) {
  token = value;
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

/** Called (once per refusal) when the node answers 401: the frame shows the sign-in form. */
export function onTokenRefused(fn) {
  onRefused = fn;
}

export function refused() {
  setToken(null);
  onRefused('The node refused this token. Enter the current one.');
}

export async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: { authorization: `Bearer ${token}`, ...(options.body ? { 'content-type': 'application/json' } : {}), ...(options.headers || {}) },
  });
  if (res.status === 401) throw new Unauthorized('the API refused the token');
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, body && body.error ? body.error : { message: res.statusText });
  return body;
}

/** POSTs a JSON body (`{}` when none). */
export const post = (path, body) => api(path, { method: 'POST', body: JSON.stringify(body || {}) });

const connectionListeners = new Set();
export function onConnection(fn) {
  connectionListeners.add(fn);
}

/** Runs one refresh; a refused token returns to the sign-in form, other failures show in the header. */
export async function guarded(fn) {
  try {
    await fn();
    for (const l of connectionListeners) l('connected', 'ok');
  } catch (err) {
    if (err instanceof Unauthorized) refused();
    else for (const l of connectionListeners) l(`error: ${err.message}`, 'bad');
  }
}
