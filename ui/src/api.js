// Every request the page makes goes through here: only the documented
// routes (docs/openapi.json), their envelope {code, msg, data}, and the
// token, kept in sessionStorage for this tab and sent as a bearer token.

// The routes sit beside /ui/: relative, so the page also works behind a
// proxy that serves movex under a path prefix.
const BASE = new URL('../', location.href);
const KEY = 'movex.token';

export const token = {
  get: () => sessionStorage.getItem(KEY) || '',
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

/**
 * One request. `body`: a Blob or ArrayBuffer (sent as it is: a module
 * upload), anything else as JSON. Never throws: a movex that does not
 * answer is `{status: 0}`. The result: `{status, ok, code, msg, data}`,
 * `ok` when the envelope says 0 (a 202, a move still pending, is ok too).
 */
export async function call(method, path, body) {
  const headers = {};
  const t = token.get();
  if (t) headers.Authorization = `Bearer ${t}`;
  let payload;
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    payload = body;
    headers['Content-Type'] = 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let resp;
  try {
    resp = await fetch(new URL(path.replace(/^\//, ''), BASE), { method, headers, body: payload, cache: 'no-store' });
  } catch (e) {
    return { status: 0, ok: false, code: null, msg: `movex does not answer (${e.message})`, data: null };
  }
  let env = null;
  try {
    env = await resp.json();
  } catch {
    // not an envelope: answered by something other than movex
  }
  return {
    status: resp.status,
    ok: resp.ok && env?.code === 0,
    code: env?.code ?? null,
    msg: env?.msg ?? `HTTP ${resp.status}`,
    data: env?.data ?? null,
  };
}

export const get = (path) => call('GET', path);
