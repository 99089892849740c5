// Repair (/repair/*): start (from the store, or Kafka; a dry run; one
// table), stop, and its outcomes as they come.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { Button, Counts, Locked, Result, Time, Why, useAction } from './common.js';

export function Repair({ r }) {
  const act = useAction();
  const [from, setFrom] = useState('store');
  const [dry, setDry] = useState(false);
  const [table, setTable] = useState('');
  const s = r?.ok ? r.data : null;
  const start = () => {
    const body = { from, dry_run: dry };
    if (table) body.table = table;
    act.run('POST', '/repair/start', body, () => `repair started${dry ? ' (dry run)' : ''} from ${from}`);
  };
  const last = s?.last;
  return html`<section class="card" id="repair">
    <h2>Repair</h2>
    <${Locked} r=${r} what="Repair's outcomes quote rows: reading them" />
    ${s &&
    html`<p data-testid="repair-state">
        ${s.running
          ? html`<span class="badge running">running</span>`
          : s.finished_at
            ? html`<span class="badge done">settled</span> <span class="muted">finished <${Time} at=${s.finished_at} /></span>`
            : Object.keys(s.outcomes).length
              ? html`<span class="muted">none started here since movex started; auto-migrate's repairs count below</span>`
              : html`<span class="muted">not run since movex started</span>`}
        ${s.from ? html` <span class="muted">from ${s.from}${s.dry_run ? ', dry run' : ''}</span>` : ''}
      </p>
      <p>this run: <span data-testid="repair-outcomes"><${Counts} of=${s.outcomes} none="no outcome yet" /></span></p>
      <p>recorded in all: <${Counts} of=${s.recorded} /></p>
      ${s.error ? html`<p class="result err">${s.error}</p>` : ''}
      ${last?.journal?.entries > 0 &&
      html`<p>journal: ${last.journal.entries} entries, tables validated again: ${last.journal.tables?.join(', ') || 'none'}</p>`}
      ${last?.failures?.length > 0 &&
      html`<details><summary>${last.failures.length} failed</summary>
        <ul>${last.failures.map((f) => html`<li>${f.table} ${JSON.stringify(f.key)}: ${f.error}</li>`)}</ul>
      </details>`}
      ${last?.plan?.length > 0 &&
      html`<details><summary>dry run: ${last.plan.length} statements</summary>
        <ul class="plan">${last.plan.map((p) => html`<li><code>${typeof p.sql === 'string' ? p.sql : JSON.stringify(p.sql)}</code></li>`)}</ul>
      </details>`}`}
    <div class="buttons">
      <${Button} kind="primary" busy=${act.busy} onClick=${start}>Start repair<//>
      <${Button} busy=${act.busy} onClick=${() => act.run('POST', '/repair/stop', undefined, (x) => (x.data?.stopped ? 'repair stopped' : 'no repair was running'))}>Stop repair<//>
    </div>
    <div class="buttons">
      <label>from <select value=${from} onChange=${(e) => setFrom(e.target.value)}><option>store</option><option>kafka</option></select></label>
      <label class="check"><input type="checkbox" checked=${dry} onChange=${(e) => setDry(e.target.checked)} /> dry run</label>
      <label>table <input value=${table} list="known-tables" onInput=${(e) => setTable(e.target.value.trim())} placeholder="all" /></label>
    </div>
    <${Result} r=${act.result} />
    <${Why} />
  </section>`;
}
