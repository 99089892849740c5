// Findings (/discrepancies): filtered by table, type, tag and run, paged,
// each differing column's base and target values side by side, and what
// repair did with each.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { get } from './api.js';
import { Locked, Time, Value } from './common.js';

const TYPES = ['target_missing', 'base_missing', 'neq', 'comparator_error'];
const PAGE = 20;

function query(filter, after) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) if (v) q.set(k, v);
  if (after) q.set('after', after);
  q.set('limit', PAGE);
  return `/discrepancies?${q}`;
}

/** One finding: a row per differing column (or one row without columns). */
function Finding({ f }) {
  const cols = f.columns.length ? f.columns : [null];
  const n = cols.length;
  const repair = f.repair;
  return cols.map(
    (c, i) => html`<tr class=${i === 0 ? 'first' : ''} data-key=${JSON.stringify(f.key)}>
      ${i === 0 &&
      html`<td rowspan=${n} class="key">${typeof f.key === 'string' ? f.key : JSON.stringify(f.key)}</td>
        <td rowspan=${n}>${f.table}</td>
        <td rowspan=${n}><span class=${`type ${f.type}`}>${f.type}</span></td>
        <td rowspan=${n}>${f.tag ?? html`<span class="muted">—</span>`}</td>`}
      ${c
        ? html`<td class="col">${c.column}</td><td class="base"><${Value} v=${c.base} /></td><td class="target"><${Value} v=${c.target} /></td>`
        : html`<td colspan="3" class="muted">${f.reason || (f.type === 'target_missing' ? 'the target lacks the row' : f.type === 'base_missing' ? 'the base lacks the row' : '')}</td>`}
      ${i === 0 &&
      html`<td rowspan=${n} class="run">${f.run_id} <span class="muted" title="the base side">${f.direction}</span><br /><${Time} at=${f.detected_at} /></td>
        <td rowspan=${n}>${repair ? html`<span class=${`outcome ${repair.outcome}`} title=${repair.detail || ''}>${repair.outcome}</span>` : html`<span class="muted">not yet</span>`}</td>`}
    </tr>`,
  );
}

export function Findings({ tick, tables, canRead }) {
  const [filter, setFilter] = useState({ table: '', type: '', tag: '', run: '' });
  // `after` of each page shown so far: back pops one.
  const [pages, setPages] = useState([0]);
  const [r, setR] = useState(null);
  const after = pages[pages.length - 1];
  useEffect(() => {
    let live = true;
    get(query(filter, after)).then((x) => live && setR(x));
    return () => {
      live = false;
    };
  }, [tick, filter, after, canRead]);
  const set = (k) => (e) => {
    setFilter({ ...filter, [k]: e.target.value.trim() });
    setPages([0]);
  };
  const items = r?.ok ? r.data.items : [];
  const next = r?.ok ? r.data.next : null;
  const runs = [...new Set(items.map((f) => f.run_id))];
  return html`<section class="card wide" id="findings">
    <h2>Findings</h2>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label>table <input name="table" list="known-tables" value=${filter.table} onChange=${set('table')} /></label>
      <label>type <select name="type" value=${filter.type} onChange=${set('type')}>
        <option value="">any</option>
        ${TYPES.map((t) => html`<option value=${t}>${t}</option>`)}
      </select></label>
      <label>tag <input name="tag" value=${filter.tag} onChange=${set('tag')} /></label>
      <label>run <input name="run" list="known-runs" value=${filter.run} onChange=${set('run')} /></label>
      <datalist id="known-tables">${tables.map((t) => html`<option value=${t} />`)}</datalist>
      <datalist id="known-runs">${runs.map((t) => html`<option value=${t} />`)}</datalist>
    </form>
    <${Locked} r=${r} what="Findings hold row values: reading them" />
    ${r?.ok &&
    (items.length
      ? html`<table class="findings">
          <thead><tr><th>key</th><th>table</th><th>type</th><th>tag</th><th>column</th><th>base</th><th>target</th><th>run</th><th>repair</th></tr></thead>
          <tbody>${items.map((f) => html`<${Finding} f=${f} />`)}</tbody>
        </table>`
      : html`<p class="muted">no findings${Object.values(filter).some(Boolean) ? ' match these filters' : ''}</p>`)}
    <div class="buttons pager">
      <button disabled=${pages.length < 2} onClick=${() => setPages(pages.slice(0, -1))}>← previous</button>
      <span class="muted">page ${pages.length}</span>
      <button disabled=${next == null} onClick=${() => setPages([...pages, next])}>next →</button>
    </div>
  </section>`;
}
