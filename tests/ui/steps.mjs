// The operator's page, step by step, in headless Chromium (Debian's, driven
// by playwright-core: no browser download). Run by tests/ui_browser.rs
// against a real `movex serve`; every check is on what the page shows.
//
// Environment: MOVEX_URL (the control plane), MOVEX_TOKEN, MOVEX_MODULE (a
// .wasm to upload), MOVEX_SHOTS (a directory: one screenshot per step),
// MOVEX_SIGNALS (a directory: this script writes `corrupt` there and waits
// for the test to answer `corrupted` once it has changed a destination row),
// CHROMIUM (default /usr/bin/chromium). playwright-core is found through
// NODE_PATH, which only require() reads, hence createRequire.
import { createRequire } from 'node:module';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const URL_ = env('MOVEX_URL');
const TOKEN = env('MOVEX_TOKEN');
const MODULE = env('MOVEX_MODULE');
const SHOTS = env('MOVEX_SHOTS');
const SIGNALS = env('MOVEX_SIGNALS');
// Generous: a loaded 2-core machine is slow, and nothing here is timed.
const WAIT = 90_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Wait until `check()` is true (it may throw meanwhile), or fail saying what was awaited. */
async function until(what, check, ms = WAIT) {
  const end = Date.now() + ms;
  let last = null;
  while (Date.now() < end) {
    try {
      if (await check()) return;
      last = null;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`waited ${ms / 1000} s for ${what}${last ? ` (${last.message})` : ''}`);
}

const see = (locator, what) => locator.first().waitFor({ state: 'visible', timeout: WAIT }).catch((e) => {
  throw new Error(`${what} is not on the page: ${e.message.split('\n')[0]}`);
});

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
// The page's Content-Security-Policy must not stop anything it does.
page.on('console', (m) => m.text().includes('Content Security Policy') && errors.push(m.text()));

let n = 0;
async function step(name, run) {
  n += 1;
  const file = `${String(n).padStart(2, '0')}-${name}.png`;
  process.stdout.write(`step ${file.replace('.png', '')}: `);
  try {
    await run();
  } catch (e) {
    await page.screenshot({ path: join(SHOTS, `failed-${file}`), fullPage: true }).catch(() => {});
    console.log('FAILED');
    console.log(`  ${e.message}`);
    console.log(`--- the page's text ---\n${await page.locator('body').innerText().catch(() => '?')}`);
    await browser.close();
    process.exit(1);
  }
  if (errors.length) {
    console.log('FAILED');
    console.log(`  the page threw: ${errors.join('; ')}`);
    await browser.close();
    process.exit(1);
  }
  await page.screenshot({ path: join(SHOTS, file), fullPage: true });
  console.log('ok');
}

const state = page.getByTestId('state');
const button = (name) => page.getByRole('button', { name, exact: true });
const findingRow = (key) => page.locator(`#findings tr[data-key="${key}"]`);

await step('read-only', async () => {
  // `/` sends the browser to the page.
  await page.goto(URL_);
  await until('the redirect to /ui/', () => new URL(page.url()).pathname === '/ui/');
  await until('the state to show initial', async () => (await state.innerText()) === 'initial');
  await see(page.locator('svg.machine [data-state="src_only"].step'), 'src_only drawn as the step allowed from initial');
  // A token is configured: the page asks for it, and reads only meanwhile.
  await see(page.getByText('This movex asks for its token'), 'the token form');
  await until('Move to src_only disabled', () => button('Move to src_only').isDisabled());
  await see(page.locator('#migration .why', { hasText: 'need the token' }), 'why the buttons are disabled');
  await see(page.locator('#findings', { hasText: 'needs the token' }), 'findings saying they need the token');
  await see(page.locator('#modules tr[data-module="exact"]'), 'the modules, readable without the token');
});

await step('token', async () => {
  await page.locator('input[name="token"]').fill(TOKEN);
  await button('Use the token').click();
  await see(page.getByText('token in use'), 'the token accepted');
  await until('Move to src_only enabled', () => button('Move to src_only').isEnabled());
  await see(page.locator('#findings', { hasText: 'no findings' }), 'the findings, readable with the token');
});

await step('src_only', async () => {
  await button('Move to src_only').click();
  await see(page.getByText('moved initial → src_only'), "the move's answer");
  await until('the state to show src_only', async () => (await state.innerText()) === 'src_only');
  await see(page.locator('#history tr[data-to="src_only"]'), 'the move in the history');
});

await step('src_first', async () => {
  // A move that is not one step waits for a confirmation; cancelled, nothing moves.
  await button('Force dst_only…').click();
  await see(page.getByRole('alertdialog'), 'the confirmation of a forced move');
  await button('Cancel').click();
  await until('the confirmation gone', async () => (await page.getByRole('alertdialog').count()) === 0);
  await button('Move to src_first').click();
  await see(page.getByText('moved src_only → src_first'), "the move's answer");
  await until('the state to show src_first', async () => (await state.innerText()) === 'src_first');
  await see(page.locator('#migration p.now', { hasText: 'writes src_first' }), 'the pattern of src_first');
  await see(page.locator('#history tr[data-to="src_first"]'), 'the move in the history');
});

await step('module-uploaded', async () => {
  await page.locator('#modules input[type="file"]').setInputFiles(MODULE);
  await until('the module name taken from the file', async () => (await page.locator('input[name="module-name"]').inputValue()) === 'promote-when-clean');
  await button('Upload').click();
  await see(page.locator('#modules .result.ok', { hasText: 'promote-when-clean' }), 'the upload swapped in');
  await see(page.locator('#modules tr[data-module="promote-when-clean"]', { hasText: 'policy' }), 'the new module listed with its capability');
});

await step('garbage-refused', async () => {
  // Dropped on the page, as an operator drags a file in.
  const dropped = await page.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(new File(['this is not a wasm module'], 'garbage.wasm', { type: 'application/wasm' }));
    return d;
  });
  await page.getByTestId('drop').dispatchEvent('drop', { dataTransfer: dropped });
  await until('the dropped file named', async () => (await page.locator('input[name="module-name"]').inputValue()) === 'garbage');
  await button('Upload').click();
  await see(page.locator('#modules .result.err', { hasText: 'module "garbage" refused' }), 'the refusal with its reason');
  if ((await page.locator('#modules tr[data-module="garbage"]').count()) !== 0) throw new Error('garbage is listed as a module');
});

await step('finding', async () => {
  writeFileSync(join(SIGNALS, 'corrupt'), '');
  await until('the test to corrupt a destination row', () => existsSync(join(SIGNALS, 'corrupted')));
  await button('Start full validation').click();
  await see(page.getByText('full validation started'), "the start's answer");
  await see(page.locator('#runs .run[data-kind="full"] tr[data-table="users"]'), 'the run of users');
  await see(findingRow(7), 'the finding for key 7');
  const row = findingRow(7);
  await see(row.locator('td.col', { hasText: 'name' }), 'the differing column');
  await until('base user7 beside target corrupted', async () =>
    (await row.locator('td.base').innerText()) === 'user7' && (await row.locator('td.target').innerText()) === 'corrupted');
  await see(row.locator('.type', { hasText: 'neq' }), 'the type neq');
  await see(page.locator('#runs .run[data-kind="full"]', { hasText: 'finished' }), 'the run finished');
  await see(page.locator('#runs .run[data-kind="full"] tr[data-table="users"] .chip', { hasText: 'neq' }), 'the run counting the finding');
  await see(page.locator('#migration .decision', { hasText: 'not clean' }), "the policy's decision and reason");
});

await step('repaired', async () => {
  await button('Start repair').click();
  await see(page.getByText('repair started from store'), "the start's answer");
  await see(page.getByTestId('repair-state').getByText('settled'), 'repair settled');
  await see(page.getByTestId('repair-outcomes').locator('.chip[data-name="repaired"]', { hasText: '1' }), 'one finding repaired');
  await see(findingRow(7).locator('.outcome.repaired'), 'the finding marked repaired');
});

await browser.close();
console.log(`all ${n} steps passed; screenshots in ${SHOTS}`);
