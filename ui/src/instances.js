// The fleet (/instances): each movex instance and library pool, the
// generation it applies and has acknowledged, and who a move waits for.
import { html } from 'htm/preact';
import { duration } from './common.js';

export function Instances({ r }) {
  const f = r?.ok ? r.data : null;
  return html`<section class="card" id="instances">
    <h2>Instances</h2>
    ${r && !r.ok ? html`<p class="result err">${r.msg}</p>` : ''}
    ${f &&
    html`<p>generation <b>${f.generation}</b> (${f.state})${f.pending.length ? html`, <span class="warn">waiting for ${f.pending.join(', ')}</span>` : ''}</p>
      <table>
        <thead><tr><th>instance</th><th>role</th><th>applies</th><th>acknowledged</th><th>heartbeat</th><th>live</th></tr></thead>
        <tbody>
          ${f.instances.map(
            (i) => html`<tr data-instance=${i.name}>
              <td title=${`${i.host}, pid ${i.pid}, movex ${i.version}`}><b>${i.name}</b>${i.id === f.me ? html` <span class="muted">(this one)</span>` : ''}</td>
              <td>${i.role}</td>
              <td>${i.applied}</td>
              <td>${i.acked}${i.acked < f.generation && i.live ? html` <span class="warn">behind</span>` : ''}</td>
              <td>${duration(i.heartbeat_age_ms)} ago</td>
              <td>${i.live ? 'yes' : html`<span class="muted">no</span>`}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <p class="muted">${f.note}</p>`}
  </section>`;
}
