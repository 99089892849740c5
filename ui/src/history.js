// The history of transitions (/history), newest first.
import { html } from 'htm/preact';
import { Time } from './common.js';

export function History({ r }) {
  const moves = r?.ok ? r.data : [];
  return html`<section class="card" id="history">
    <h2>History</h2>
    ${r && !r.ok ? html`<p class="result err">${r.msg}</p>` : ''}
    ${moves.length === 0
      ? html`<p class="muted">no move yet</p>`
      : html`<table>
          <thead><tr><th>when</th><th>move</th><th>by</th><th>reason</th></tr></thead>
          <tbody>
            ${moves.slice(0, 50).map(
              (t) => html`<tr data-to=${t.to}>
                <td><${Time} at=${t.at} /></td>
                <td><b>${t.from} → ${t.to}</b>${t.forced ? html` <span class="warn">forced</span>` : ''}</td>
                <td>${t.by}</td>
                <td>${t.reason}</td>
              </tr>`,
            )}
          </tbody>
        </table>`}
  </section>`;
}
