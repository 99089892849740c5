// What every panel shares: whether the page may act (the token), the
// action hook that shows what an action answered, buttons that say why
// they are disabled, and the formats of numbers, durations and values.
import { createContext } from 'preact';
import { useContext, useState } from 'preact/hooks';
import { html } from 'htm/preact';
import { call } from './api.js';

/** `{canAct, why, refresh}`: `why` says why acting is not possible now. */
export const Page = createContext({ canAct: false, why: 'loading', refresh: () => {} });

/**
 * An action: `run(method, path, body)` sends it, then refreshes the page;
 * `result` is its answer (shown by <Result>), `busy` while it runs.
 */
export function useAction() {
  const page = useContext(Page);
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async (method, path, body, done) => {
    setBusy(true);
    const r = await call(method, path, body);
    setBusy(false);
    setResult({ ...r, done: r.ok && done ? done(r) : null });
    page.refresh();
    return r;
  };
  return { run, result, busy, clear: () => setResult(null) };
}

/** What an action answered: `done` (a sentence) or the envelope's message. */
export function Result({ r }) {
  if (!r) return null;
  const text = r.ok ? r.done || r.msg : `${r.status ? `${r.status}: ` : ''}${r.msg}`;
  return html`<p class=${`result ${r.ok ? (r.status === 202 ? 'pending' : 'ok') : 'err'}`} role="status">${text}</p>`;
}

/** A button that is disabled, saying why in its title, when the page may not act. */
export function Button({ onClick, busy, disabled, kind, children, label }) {
  const page = useContext(Page);
  const off = !page.canAct || busy || disabled;
  const title = !page.canAct ? page.why : undefined;
  return html`<button class=${kind || ''} disabled=${off} title=${title} aria-label=${label} onClick=${onClick}>${children}</button>`;
}

/** The line under a panel's buttons while they are disabled, saying why. */
export function Why() {
  const page = useContext(Page);
  return page.canAct ? null : html`<p class="why">${page.why}</p>`;
}

/** A guarded read that answered 401: what the panel shows instead. */
export function Locked({ r, what }) {
  if (r?.status === 401) return html`<p class="why">${what} needs the token (enter it at the top).</p>`;
  if (r && !r.ok) return html`<p class="result err">${r.msg}</p>`;
  return null;
}

export const num = (n) => (n == null ? '—' : Number(n).toLocaleString('en-US', { maximumFractionDigits: 1 }));

/** 3723000 -> "1h 2m 3s". */
export function duration(ms) {
  if (ms == null) return '—';
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  s %= 60;
  if (d) return `${d}d ${h}h ${m}m`;
  if (h) return `${h}h ${m}m ${s}s`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

/** An RFC 3339 time as local HH:MM:SS (the whole time in its title). */
export function Time({ at }) {
  if (!at) return '—';
  const d = new Date(at);
  return html`<time datetime=${at} title=${at}>${isNaN(d) ? at : d.toLocaleTimeString('en-GB')}</time>`;
}

/** A row value as a finding holds it (JSON): NULL marked, strings as they are. */
export function Value({ v }) {
  if (v === null || v === undefined) return html`<span class="null">NULL</span>`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Counts by name as "a 1 · b 2" chips; `none` when there are none. */
export function Counts({ of, none = 'none' }) {
  const entries = Object.entries(of || {}).filter(([, n]) => n > 0);
  if (!entries.length) return html`<span class="muted">${none}</span>`;
  return entries.map(([k, n]) => html`<span class="chip" data-name=${k}>${k} <b>${num(n)}</b></span>`);
}
