// The README's picture of the page mid-migration (docs/img/ui.png), taken
// from the demo with Debian's chromium through playwright-core:
//
//   cargo run -p movex -- demo --inject-diff --rows 300000 --listen 127.0.0.1:8080 &
//   NODE_PATH=~/.cache/movex-ci/node/node_modules node ui/screenshot.mjs http://127.0.0.1:8080/ docs/img/ui.png
//
// It waits for a moment that shows the page at work: the application's
// writes flowing through the pool, the findings found and repaired, and
// the validation after the repair running.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const [url = 'http://127.0.0.1:8080/', out = 'docs/img/ui.png'] = process.argv.slice(2);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 });
// The demo loads its rows before it listens.
for (let tries = 0; ; tries++) {
  try {
    await page.goto(url);
    break;
  } catch (e) {
    if (tries > 240) throw e;
    await page.waitForTimeout(500);
  }
}
const started = Date.now();
const ready = async () =>
  (await page.locator('#findings .outcome.repaired').count()) > 0 &&
  (await page.locator('#runs .run .badge.running').count()) > 0 &&
  Number((await page.getByTestId('writes-rate').innerText()).replace(/,/g, '')) > 0 &&
  Date.now() - started > 20_000;
while (!(await ready().catch(() => false))) {
  if (Date.now() - started > 180_000) throw new Error('the demo never showed a repaired finding while a validation ran');
  await page.waitForTimeout(250);
}
await page.screenshot({ path: out, fullPage: true });
await browser.close();
console.log(`wrote ${out}`);
