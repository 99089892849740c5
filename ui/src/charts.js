// The pool over the last minutes: writes per second on each side and the
// secondary's failures per second, as rates of the counters in /status
// (`pool_metrics.by_side`), sampled at each poll; and the journal's size.
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { num } from './common.js';

/** How long the charts reach back. */
export const WINDOW_MS = 10 * 60 * 1000;

/** What a /status answer adds to the samples (its counters and movex's uptime). */
export function sample(status) {
  const c = status.pool_metrics.by_side;
  return {
    at: Date.now() / 1000,
    uptime: status.uptime_ms,
    source: c.source_success,
    destination: c.destination_success,
    failed: c.journaled?.secondary_failed ?? 0,
  };
}

/** Per-second rates between consecutive samples, timed by movex's uptime; none across a restart. */
function rates(samples, keys) {
  const cols = [[], ...keys.map(() => [])];
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1], samples[i]];
    const dt = (b.uptime - a.uptime) / 1000;
    if (dt <= 0) continue;
    cols[0].push(b.at);
    keys.forEach((k, j) => cols[j + 1].push(b[k] >= a[k] ? (b[k] - a[k]) / dt : null));
  }
  return cols;
}

function Chart({ title, series, data }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const width = () => Math.max(240, box.current.clientWidth);
    plot.current = new uPlot(
      {
        width: width(),
        height: 130,
        legend: { show: true },
        cursor: { y: false },
        scales: { y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [{}, { size: 44 }],
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, fill: `${s.color}22`, value: (u, v) => (v == null ? '—' : `${num(v)}/s`) }))],
      },
      data,
      box.current,
    );
    const resize = new ResizeObserver(() => plot.current.setSize({ width: width(), height: 130 }));
    resize.observe(box.current);
    return () => {
      resize.disconnect();
      plot.current.destroy();
    };
  }, []);
  useEffect(() => plot.current?.setData(data), [data]);
  return html`<figure class="chart"><figcaption>${title}</figcaption><div ref=${box}></div></figure>`;
}

export function Charts({ samples, status }) {
  const writes = rates(samples, ['source', 'destination']);
  const failed = rates(samples, ['failed']);
  const last = (col) => col[col.length - 1];
  return html`<section class="card" id="pool">
    <h2>The pool</h2>
    <p>
      <span data-testid="writes-rate">${num((last(writes[1]) ?? 0) + (last(writes[2]) ?? 0))}</span> writes/s now
      · <span data-testid="journal">journal: ${num(status?.journal_stored)} entries stored${status?.journal_waiting ? html`, <b class="warn">${num(status.journal_waiting)} waiting for the store</b>` : ''}</span>
    </p>
    <${Chart} title="writes per second" series=${[{ label: 'source', color: '#2563eb' }, { label: 'destination', color: '#059669' }]} data=${writes} />
    <${Chart} title="secondary failures per second (journaled)" series=${[{ label: 'failed', color: '#dc2626' }]} data=${failed} />
  </section>`;
}
