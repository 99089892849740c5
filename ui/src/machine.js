// The migration: the state machine as a picture (from /status `machine`),
// the moves allowed from here as buttons (a forced one behind a
// confirmation), auto-migrate, and the policy's last decision.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { Button, Result, Time, Why, duration, useAction } from './common.js';

const W = 128;
const GAP = 26;
const H = 58;

/** Six boxes in order; the current one filled; arrows to the steps allowed from it. */
function Picture({ machine }) {
  const x = (i) => 4 + i * (W + GAP);
  const at = machine.findIndex((m) => m.move === 'current');
  const width = x(machine.length) - GAP + 4;
  return html`<svg class="machine" viewBox=${`0 0 ${width} ${H + 44}`} role="img" aria-label="the state machine">
    <defs>
      <marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
        <path d="M0,0 L10,5 L0,10 z" class="head" />
      </marker>
    </defs>
    ${machine.slice(1).map((_, i) => html`<line class="order" x1=${x(i) + W} y1=${14 + H / 2} x2=${x(i + 1)} y2=${14 + H / 2} />`)}
    ${machine.map((m, i) => {
      if (m.move !== 'step' || at < 0) return null;
      // A step forward arcs above the boxes, a step back below.
      const fwd = i > at;
      const [a, b] = [x(at) + W / 2, x(i) + W / 2];
      const y = fwd ? 14 : 14 + H;
      const bend = fwd ? 2 : H + 26;
      return html`<path class="step" marker-end="url(#head)" d=${`M${a},${y} C${a},${bend} ${b},${bend} ${b},${y}`} />`;
    })}
    ${machine.map(
      (m, i) => html`<g class=${`state ${m.move}`} data-state=${m.state}>
        <rect x=${x(i)} y="14" width=${W} height=${H} rx="8" />
        <text x=${x(i) + W / 2} y="38" class="name">${m.state}</text>
        <text x=${x(i) + W / 2} y="58" class="pattern">writes ${m.pattern}</text>
      </g>`,
    )}
  </svg>`;
}

function Moves({ status }) {
  const act = useAction();
  const [confirm, setConfirm] = useState(null);
  const [reason, setReason] = useState('');
  const from = status.current_state;
  const move = (m, force) => {
    setConfirm(null);
    const body = force ? { force: true, reason: reason || `forced from the operator's page` } : { reason: `requested on the operator's page` };
    act.run('POST', m.route, body, (r) => `moved ${r.data?.from ?? from} → ${r.data?.to ?? m.state}`);
  };
  const targets = status.machine.filter((m) => m.route && m.move !== 'current');
  return html`<div class="moves">
    <div class="buttons">
      ${targets.map((m) =>
        m.move === 'step'
          ? html`<${Button} kind="primary" busy=${act.busy} onClick=${() => move(m, false)}>Move to ${m.state}<//>`
          : html`<${Button} kind="warn" busy=${act.busy} onClick=${() => setConfirm(m)}>Force ${m.state}…<//>`,
      )}
    </div>
    ${confirm &&
    html`<div class="confirm" role="alertdialog" aria-label="confirm the forced move">
      <p>Force the move <b>${from} → ${confirm.state}</b>? It is not one step forward or back: the state machine would refuse it
        without force. The pool writes by <b>${confirm.pattern}</b> at once.</p>
      <label>Reason (kept in the history) <input value=${reason} onInput=${(e) => setReason(e.target.value)} placeholder="why" /></label>
      <div class="buttons">
        <${Button} kind="danger" onClick=${() => move(confirm, true)}>Force the move to ${confirm.state}<//>
        <button onClick=${() => setConfirm(null)}>Cancel</button>
      </div>
    </div>`}
    <${Result} r=${act.result} />
  </div>`;
}

function Auto({ status }) {
  const act = useAction();
  const a = status.auto_migrate;
  return html`<div class="auto">
    <h3>Auto-migrate</h3>
    ${a
      ? html`<p><span class=${`badge ${a.status}`}>${a.status}</span> in <b>${a.state || '—'}</b>${a.step ? html`, ${a.step}` : ''}
          ${a.instance ? html` <span class="muted">on ${a.instance}</span>` : ''}</p>
          <p class="reason">${a.reason}</p>`
      : html`<p class="muted">not started</p>`}
    <div class="buttons">
      <${Button} busy=${act.busy} onClick=${() => act.run('POST', '/auto-migrate', undefined, () => 'auto-migrate started')}>Start auto-migrate<//>
      <${Button} busy=${act.busy} disabled=${a?.status !== 'running'} onClick=${() =>
        act.run('POST', '/auto-migrate/cancel', undefined, (r) => (r.data?.cancelled ? 'auto-migrate cancelled' : 'auto-migrate was not running'))}>Cancel auto-migrate<//>
    </div>
    <${Result} r=${act.result} />
  </div>`;
}

function Decision({ d }) {
  return html`<div class="decision">
    <h3>Last policy decision</h3>
    ${d
      ? html`<p><b>${d.action}${d.to ? ` → ${d.to}` : ''}</b>
          ${d.to ? html` <span class=${d.applied ? 'ok' : 'warn'}>${d.applied ? 'applied' : 'not applied'}</span>` : ''}
          <span class="muted"> — ${d.by}, ${d.trigger}, <${Time} at=${d.at} /></span></p>
          <p class="reason">${d.reason}</p>`
      : html`<p class="muted">the policy has not been consulted yet</p>`}
  </div>`;
}

export function Migration({ status }) {
  if (!status) return null;
  const pending = status.fleet?.pending || [];
  return html`<section class="card wide" id="migration">
    <h2>Migration</h2>
    <p class="now">
      <span class="big" data-testid="state">${status.current_state}</span>
      writes <b>${status.current_pattern}</b>${status.state_ms == null ? html`, <span class="muted">no move yet</span>` : html`, for <b>${duration(status.state_ms)}</b>`}
      ${status.migration_stats?.state_since ? html` <span class="muted">(since <${Time} at=${status.migration_stats.state_since} />)</span>` : ''}
      ${pending.length ? html` <span class="badge pending">waiting for ${pending.join(', ')}</span>` : ''}
    </p>
    <${Picture} machine=${status.machine} />
    <${Moves} status=${status} />
    <${Why} />
    <div class="row">
      <${Auto} status=${status} />
      <${Decision} d=${status.migration_stats?.last_decision} />
    </div>
  </section>`;
}
