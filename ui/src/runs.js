// Copy and validation runs: per table, rows done, rows/s, ETA and a
// progress bar (/copy/status, /validations/current); start and stop.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { Button, Counts, Locked, Result, Why, duration, num, useAction } from './common.js';

function Bar({ percent }) {
  if (percent == null) return html`<span class="muted">—</span>`;
  const p = Math.max(0, Math.min(100, percent));
  return html`<progress max="100" value=${p} title=${`${p.toFixed(1)}%`}></progress> <span class="pct">${p.toFixed(0)}%</span>`;
}

function Validations({ r }) {
  const act = useAction();
  const [restart, setRestart] = useState(true);
  const [minutes, setMinutes] = useState(60);
  const [every, setEvery] = useState(0);
  const runs = r?.ok ? r.data : [];
  return html`<div class="runs">
    <h3>Validation</h3>
    <${Locked} r=${r} what="Validation progress" />
    ${runs.length === 0 && r?.ok ? html`<p class="muted">no validation has run since movex started</p>` : ''}
    ${runs.map(
      (run) => html`<div class="run" data-kind=${run.kind}>
        <p><b>${run.kind}</b> <span class=${`badge ${run.running ? 'running' : 'done'}`}>${run.running ? 'running' : 'finished'}</span>
          <span class="muted">${duration(run.elapsed_ms)}</span></p>
        <table>
          <thead><tr><th>table</th><th>rows done</th><th>rows/s</th><th>ETA</th><th>progress</th><th>findings</th></tr></thead>
          <tbody>
            ${run.tables.map(
              (t) => html`<tr data-table=${t.table}>
                <td>${t.table}</td>
                <td>${num(t.done)}${t.estimate ? html` <span class="muted">of ~${num(t.estimate)}</span>` : ''}</td>
                <td>${num(t.rows_per_sec)}</td>
                <td>${t.eta_secs == null ? '—' : duration(t.eta_secs * 1000)}</td>
                <td><${Bar} percent=${t.percent} /></td>
                <td><${Counts} of=${t.findings} /></td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>`,
    )}
    <div class="buttons">
      <${Button} kind="primary" busy=${act.busy} onClick=${() =>
        act.run('POST', '/full/start', { restart }, (x) => `full validation started (${x.data?.mode}; ${x.data?.tables?.length ?? 0} tables)`)}>Start full validation<//>
      <label class="check"><input type="checkbox" checked=${restart} onChange=${(e) => setRestart(e.target.checked)} /> from the first row</label>
      <${Button} busy=${act.busy} onClick=${() => act.run('POST', '/full/stop', undefined, (x) => (x.data?.stopped ? 'full validation stopped' : 'no full validation was running'))}>Stop full<//>
    </div>
    <div class="buttons">
      <${Button} busy=${act.busy} onClick=${() =>
        act.run('POST', '/incr/start', { utime: Date.now() - minutes * 60000, interval: every * 1000 }, () => 'incremental validation started')}>Start incremental<//>
      <label>rows changed in the last <input type="number" min="1" class="n" value=${minutes} onInput=${(e) => setMinutes(+e.target.value)} /> min,</label>
      <label>every <input type="number" min="0" class="n" value=${every} onInput=${(e) => setEvery(+e.target.value)} /> s (0: once)</label>
      <${Button} busy=${act.busy} onClick=${() => act.run('POST', '/incr/stop', undefined, (x) => (x.data?.stopped ? 'incremental validation stopped' : 'no incremental validation was running'))}>Stop incremental<//>
    </div>
    <${Result} r=${act.result} />
  </div>`;
}

function Copy({ r }) {
  const act = useAction();
  const s = r?.ok ? r.data : null;
  const tables = s?.tables?.length ? s.tables : [];
  return html`<div class="runs">
    <h3>Copy</h3>
    <${Locked} r=${r} what="The copy's progress" />
    ${s &&
    html`<p>${s.running ? html`<span class="badge running">running</span>` : s.finished_at ? html`<span class="badge done">finished</span>` : html`<span class="muted">not run since movex started</span>`}
      ${s.error ? html` <span class="err">${s.error}</span>` : ''}</p>`}
    ${tables.length > 0 &&
    html`<table>
      <thead><tr><th>table</th><th>state</th><th>rows copied</th><th>rows/s</th><th>ETA</th><th>progress</th></tr></thead>
      <tbody>
        ${tables.map(
          (t) => html`<tr data-table=${t.table}>
            <td>${t.table}</td>
            <td>${t.state}${t.throttled ? html` <span class="warn" title=${t.throttled}>slowed</span>` : ''}${t.error ? html` <span class="err">${t.error}</span>` : ''}</td>
            <td>${num(t.rows_copied)}${t.estimated_rows ? html` <span class="muted">of ~${num(t.estimated_rows)}</span>` : ''}</td>
            <td>${num(t.rows_per_sec)}</td>
            <td>${t.eta_secs == null ? '—' : duration(t.eta_secs * 1000)}</td>
            <td><${Bar} percent=${t.state === 'done' ? 100 : t.estimated_rows ? (100 * t.rows_copied) / t.estimated_rows : null} /></td>
          </tr>`,
        )}
      </tbody>
    </table>`}
    ${s && !tables.length && s.recorded?.length > 0 &&
    html`<p class="muted">copied before: ${s.recorded.map((c) => `${c.table} (${c.state}, ${num(c.rows_copied)} rows)`).join(', ')}</p>`}
    <div class="buttons">
      <${Button} busy=${act.busy} onClick=${() => act.run('POST', '/copy/start', {}, () => 'copy started')}>Start copy<//>
      <${Button} busy=${act.busy} onClick=${() => act.run('POST', '/copy/stop', undefined, (x) => (x.data?.stopped ? 'copy stopped' : 'no copy was running'))}>Stop copy<//>
    </div>
    <${Result} r=${act.result} />
  </div>`;
}

export function Runs({ validations, copy }) {
  return html`<section class="card wide" id="runs">
    <h2>Copy and validation</h2>
    <div class="row">
      <${Copy} r=${copy} />
      <${Validations} r=${validations} />
    </div>
    <${Why} />
  </section>`;
}
