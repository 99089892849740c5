// Modules (/modules): what serves, with its calls, failures by kind and
// warm-up; upload a new one (file picker or drag and drop) and see it
// swapped in or refused with the reason; delete one.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { Button, Counts, Result, Why, num, useAction } from './common.js';

/** `tag_by_column.wasm` -> `tag-by-column`: cargo's file name for a package. */
const guessName = (file) => file.name.replace(/\.wasm$/i, '').replace(/_/g, '-');

function Upload() {
  const act = useAction();
  const [file, setFile] = useState(null);
  const [name, setName] = useState('');
  const [over, setOver] = useState(false);
  const pick = (f) => {
    if (!f) return;
    setFile(f);
    setName(guessName(f));
    act.clear();
  };
  const send = () =>
    act.run('PUT', `/modules/${encodeURIComponent(name)}`, file, (r) => `${r.data.name} ${r.data.version} loaded and serving (sha256 ${r.data.sha256.slice(0, 12)}…)`);
  const drop = (e) => {
    e.preventDefault();
    setOver(false);
    pick(e.dataTransfer?.files?.[0]);
  };
  return html`<div class="upload">
    <div class=${`drop ${over ? 'over' : ''}`} data-testid="drop" onDragOver=${(e) => { e.preventDefault(); setOver(true); }}
      onDragLeave=${() => setOver(false)} onDrop=${drop}>
      Drop a module's <code>.wasm</code> here, or <label class="file">choose a file<input type="file" accept=".wasm,application/wasm" onChange=${(e) => pick(e.target.files[0])} /></label>
      ${file && html`<p><b>${file.name}</b> <span class="muted">${num(file.size)} bytes</span></p>`}
    </div>
    ${file &&
    html`<div class="buttons">
      <label>as module <input name="module-name" value=${name} onInput=${(e) => setName(e.target.value.trim())} /></label>
      <${Button} kind="primary" busy=${act.busy} disabled=${!name} onClick=${send}>Upload<//>
    </div>`}
    <${Result} r=${act.result} />
  </div>`;
}

function Row({ m }) {
  const act = useAction();
  const [sure, setSure] = useState(false);
  return html`<tr data-module=${m.name}>
    <td><b>${m.name}</b></td>
    <td>${m.module_version} <span class="muted">#${m.version}</span></td>
    <td><code title=${m.hash}>${m.hash.slice(0, 12)}</code></td>
    <td>${m.capabilities.filter((c) => c !== 'describe').join(', ')}</td>
    <td>${num(m.calls)}</td>
    <td><${Counts} of=${m.failures} /></td>
    <td>${num(m.load_ms)} ms${m.cache_hit ? html` <span class="muted">cached</span>` : ''}, ${num(m.size / 1024)} KiB</td>
    <td>
      ${sure
        ? html`<${Button} kind="danger" busy=${act.busy} onClick=${() => act.run('DELETE', `/modules/${encodeURIComponent(m.name)}`, undefined, (r) => `${r.data.unloaded} unloaded`)}>Delete ${m.name}<//>
            <button onClick=${() => setSure(false)}>Keep</button>`
        : html`<${Button} onClick=${() => setSure(true)}>Delete…<//>`}
      <${Result} r=${act.result} />
    </td>
  </tr>`;
}

export function Modules({ r }) {
  const d = r?.ok ? r.data : null;
  const w = d?.warmup;
  return html`<section class="card span2" id="modules">
    <h2>Modules</h2>
    ${w &&
    html`<p>warm-up <span class=${`badge ${w.status}`}>${w.status}</span> ${w.successCount} of ${w.totalModules} loaded in ${num(w.elapsedMs)} ms
      ${w.failures?.length ? html`<ul class="err">${w.failures.map((f) => html`<li>${f.file}: ${f.error}</li>`)}</ul>` : ''}</p>`}
    ${d &&
    html`<table>
      <thead><tr><th>name</th><th>version</th><th>hash</th><th>capabilities</th><th>calls</th><th>failures</th><th>load</th><th></th></tr></thead>
      <tbody>${d.modules.map((m) => html`<${Row} key=${m.name} m=${m} />`)}</tbody>
    </table>`}
    <${Upload} />
    <${Why} />
  </section>`;
}
