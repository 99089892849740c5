// Builds the operator's page into dist/: one script, one style sheet and
// index.html, with fixed names (host/src/http/ui.rs embeds exactly these
// files). `npm ci && npm run build`; the output is committed, so building
// movex needs no npm.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';

const dist = new URL('./dist/', import.meta.url);
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);
await esbuild.build({
  entryPoints: { main: 'src/main.js' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outdir: 'dist',
  legalComments: 'eof',
  logLevel: 'warning',
});
copyFileSync(new URL('./index.html', import.meta.url), new URL('index.html', dist));
let total = 0;
for (const f of readdirSync(dist).sort()) {
  const n = statSync(new URL(f, dist)).size;
  total += n;
  console.log(`dist/${f.padEnd(12)} ${(n / 1024).toFixed(1).padStart(6)} KiB`);
}
console.log(`${'total'.padEnd(17)} ${(total / 1024).toFixed(1).padStart(6)} KiB`);
