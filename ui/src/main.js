// The operator's page: polls the documented routes every POLL_MS and lays
// out the panels. Which routes it reads, and how it learns whether it may
// act: a route behind the token that answers 401 means a token is
// configured and this tab has none (or a wrong one), so the page asks for
// it once and keeps it in sessionStorage; until then it only reads.
import { render } from 'preact';
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { get, token } from './api.js';
import { Page, Time } from './common.js';
import { Migration } from './machine.js';
import { Runs } from './runs.js';
import { Findings } from './findings.js';
import { Repair } from './repair.js';
import { Modules } from './modules.js';
import { Charts, WINDOW_MS, sample } from './charts.js';
import { History } from './history.js';
import { Instances } from './instances.js';

const POLL_MS = 2000;
const OPEN = ['/status', '/modules', '/history', '/instances'];
// Behind the token when one is configured: they can show row values.
const GUARDED = ['/validations/current', '/copy/status', '/repair/status'];

function TokenForm({ refused, onToken }) {
  const [t, setT] = useState('');
  const submit = (e) => {
    e.preventDefault();
    if (t) onToken(t);
  };
  return html`<form class="token" onSubmit=${submit}>
    <label>This movex asks for its token (MOVEX_TOKEN or [http] token) to act and to show row data:
      <input type="password" name="token" autocomplete="off" value=${t} onInput=${(e) => setT(e.target.value.trim())} /></label>
    <button class="primary" type="submit">Use the token</button>
    ${refused && html`<span class="err">that token was refused</span>`}
  </form>`;
}

function Header({ status, auth, refused, at, down, onToken, onForget }) {
  const faults = [
    ...Object.entries(status?.faults || {}).map(([k, f]) => `${k}: ${f.cause}`),
    ...Object.entries(status?.pool_health || {}).map(([k, e]) => `${k === 'src' ? 'source' : 'destination'}: ${e}`),
  ];
  return html`<header>
      <h1>movex</h1>
      ${status && html`<span class="badge state">${status.current_state}</span>`}
      ${down
        ? html`<span class="err">${down}</span>`
        : html`<span class="muted">updated <${Time} at=${at} /> · every ${POLL_MS / 1000} s</span>`}
      ${faults.length > 0 && html`<span class="err">unhealthy</span>`}
      <span class="spacer"></span>
      ${auth === 'ok' && html`<span class="muted">token in use <button class="link" onClick=${onForget}>forget it</button></span>`}
      ${auth === 'open' && html`<span class="muted">no token configured</span>`}
      ${auth === 'needed' && html`<${TokenForm} refused=${refused} onToken=${onToken} />`}
    </header>
    ${faults.length > 0 && html`<ul class="faults">${faults.map((f) => html`<li>${f}</li>`)}</ul>`}`;
}

function App() {
  const [answers, setAnswers] = useState({});
  const [auth, setAuth] = useState('unknown');
  const [refused, setRefused] = useState(false);
  const [at, setAt] = useState(null);
  const [tick, setTick] = useState(0);
  const samples = useRef([]);
  const seq = useRef({ sent: 0, shown: 0 });

  const refresh = async () => {
    const mine = ++seq.current.sent;
    const routes = [...OPEN, ...GUARDED];
    const got = await Promise.all(routes.map(get));
    // An older poll answering after a newer one is not shown.
    if (mine < seq.current.shown) return;
    seq.current.shown = mine;
    const next = Object.fromEntries(routes.map((r, i) => [r, got[i]]));
    const guarded = GUARDED.map((r) => next[r]);
    if (guarded.some((r) => r.status === 401)) {
      if (token.get()) {
        token.clear();
        setRefused(true);
      }
      setAuth('needed');
    } else if (guarded.some((r) => r.ok)) {
      setAuth(token.get() ? 'ok' : 'open');
    }
    const s = next['/status'];
    if (s.ok) {
      const now = Date.now() / 1000;
      samples.current = [...samples.current.filter((x) => x.at > now - WINDOW_MS / 1000), sample(s.data)];
      setAt(new Date().toISOString());
    }
    setAnswers(next);
    setTick((t) => t + 1);
  };

  useEffect(() => {
    let stopped = false;
    let timer;
    const loop = async () => {
      await refresh();
      if (!stopped) timer = setTimeout(loop, POLL_MS);
    };
    loop();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);

  const s = answers['/status'];
  const status = s?.ok ? s.data : null;
  const down = s && !s.ok ? (s.status ? `GET /status: ${s.msg}` : s.msg) : null;
  const canAct = auth === 'open' || auth === 'ok';
  const why =
    auth === 'needed'
      ? 'Read-only: moving, starting and uploading need the token (enter it at the top).'
      : auth === 'unknown'
        ? 'Waiting for movex to answer.'
        : '';
  const onToken = (t) => {
    token.set(t);
    setRefused(false);
    refresh();
  };
  const onForget = () => {
    token.clear();
    refresh();
  };
  const v = answers['/validations/current'];
  const c = answers['/copy/status'];
  const tables = [
    ...new Set([...(v?.ok ? v.data.flatMap((r) => r.tables.map((t) => t.table)) : []), ...(c?.ok ? c.data.recorded.map((t) => t.table) : [])]),
  ];
  return html`<${Page.Provider} value=${{ canAct, why, refresh }}>
    <${Header} status=${status} auth=${auth} refused=${refused} at=${at} down=${down} onToken=${onToken} onForget=${onForget} />
    <main>
      <${Migration} status=${status} />
      <${Charts} samples=${samples.current} status=${status} />
      <${Instances} r=${answers['/instances']} />
      <${History} r=${answers['/history']} />
      <${Runs} validations=${v} copy=${c} />
      <${Findings} tick=${tick} tables=${tables} canRead=${auth} />
      <${Repair} r=${answers['/repair/status']} />
      <${Modules} r=${answers['/modules']} />
    </main>
  <//>`;
}

render(html`<${App} />`, document.getElementById('app'));
