// The demo page (`GET /` of the demo app) in a real browser: Debian's
// chromium, headless, driven by playwright-core over the DevTools protocol.
// Every panel is used with real clicks against the real demo, and what it
// shows is checked against the values the demo contract fixes. A screenshot
// of the page after the run goes to $SERVERWAMP_SCREENSHOT.
//
// Run by ./run.sh, which starts the demo and sets SERVERWAMP_HTTP.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

// playwright-core is installed (from the lock file) in interop/node.
const require = createRequire(new URL('../node/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const base = process.env.SERVERWAMP_HTTP;
const screenshot = process.env.SERVERWAMP_SCREENSHOT;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!base || !screenshot) throw new Error('run through interop/browser/run.sh (SERVERWAMP_HTTP, SERVERWAMP_SCREENSHOT)');

const WAIT = 15_000;
let profile;
let context;
let page;
const problems = []; // uncaught page errors and console errors (a CSP violation is one)

/** Waits until element #id's text contains `text`, then returns the text. */
async function textOf(id, text, timeout = WAIT) {
  try {
    await page.waitForFunction(
      ([id, text]) => (document.getElementById(id)?.textContent ?? '').includes(text),
      [id, text],
      { timeout },
    );
  } catch {
    const actual = await page.evaluate((id) => document.getElementById(id)?.textContent, id);
    assert.fail(`#${id} never showed ${JSON.stringify(text)}; it shows ${JSON.stringify(actual)}`);
  }
  return page.evaluate((id) => document.getElementById(id).textContent, id);
}

/** The texts of the items of list #id. */
function items(id) {
  return page.$$eval(`#${id} li`, (lis) => lis.map((li) => li.textContent));
}

/** The names of the WAMP messages in the page's wire log, in order. */
function wire() {
  return page.$$eval('#log li strong', (names) => names.map((n) => n.textContent.trim()));
}

/** Logs in with the form `#login-<realm>` and waits for the session's identity. */
async function login(form, fields, expected) {
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
  await page.click(`#${form} button`);
  return textOf('identity', expected);
}

describe('the demo page in headless chromium', () => {
  before(async () => {
    profile = mkdtempSync(join(tmpdir(), 'serverwamp-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    // Nothing but the demo: the page must work offline.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(base + '/') || url === base) return route.continue();
      problems.push(`request outside the demo: ${url}`);
      return route.abort();
    });
    const response = await page.goto(base + '/');
    assert.equal(response.status(), 200);
  });

  after(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test('joins realm1 anonymously on load and shows the identity', async () => {
    assert.equal(await page.title(), 'serverwamp demo');
    await textOf('state', 'open');
    assert.equal(await page.textContent('#realm'), 'realm1');
    assert.match(await page.textContent('#session'), /^[1-9][0-9]*$/);
    const identity = await textOf('identity', 'identity: null');
    assert.match(identity, /^realm: realm1\n/);
    assert.match(identity, /authmethod: anonymous/);
    assert.match(identity, /peer: 127\.0\.0\.1/);
    assert.deepEqual((await wire()).slice(0, 2), ['HELLO', 'WELCOME']);
  });

  test('tickets: a wrong ticket is refused', async () => {
    const shown = await login('login-tickets', { 'ticket-authid': 'alice', 'ticket-ticket': 'wrong' },
      'could not join tickets');
    assert.equal(shown, 'could not join tickets: wamp.error.authentication_failed');
    assert.equal(await textOf('state', 'closed'), 'closed (wamp.error.authentication_failed)');
    assert.equal(await page.$eval('#panels', (panels) => panels.disabled), true);
  });

  test('cra: bob signs the challenge with HMAC-SHA256 (WebCrypto)', async () => {
    const identity = await login('login-cra', { 'cra-authid': 'bob', 'cra-secret': 'bobsecret' },
      'identity: {"name":"bob"}');
    assert.match(identity, /^realm: cra\n/);
    assert.match(identity, /authid: bob · authrole: RegularUser · authmethod: wampcra/);
    assert.ok((await wire()).includes('CHALLENGE'));
    assert.ok((await wire()).includes('AUTHENTICATE'));
  });

  test('cra: carol\'s salted secret is derived with PBKDF2 (WebCrypto)', async () => {
    const identity = await login('login-cra', { 'cra-authid': 'carol', 'cra-secret': 'carolsecret' },
      'identity: {"name":"carol"}');
    assert.match(identity, /authid: carol · authrole: RegularUser · authmethod: wampcra/);
    const saltedChallenge = await page.$$eval('#log li', (lis) =>
      lis.map((li) => li.textContent).filter((t) => t.includes('CHALLENGE') && t.includes('"salt":"salt123"')));
    assert.equal(saltedChallenge.length, 1);
  });

  test('cra: a wrong secret is refused', async () => {
    const shown = await login('login-cra', { 'cra-authid': 'bob', 'cra-secret': 'carolsecret' },
      'could not join cra');
    assert.equal(shown, 'could not join cra: wamp.error.authentication_failed');
  });

  test('cookies: the page sets myName=Jeff and the upgrade carries it', async () => {
    const identity = await login('login-cookies', { 'cookie-name': 'Jeff' }, 'identity: {"name":"Jeff"}');
    assert.match(identity, /^realm: cookies\n/);
    assert.match(identity, /authid: Jeff · authrole: user · authmethod: transport/);
    assert.match(await page.evaluate(() => document.cookie), /(^|; )myName=Jeff(;|$)/);
  });

  test('tickets: alice logs in with her ticket', async () => {
    const identity = await login('login-tickets', { 'ticket-authid': 'alice', 'ticket-ticket': 'secret123' },
      'identity: {"name":"alice"}');
    assert.match(identity, /^realm: tickets\n/);
    assert.match(identity, /authid: alice · authrole: user · authmethod: ticket/);
    assert.equal(await page.textContent('#realm'), 'tickets');
    assert.equal(await page.textContent('#state'), 'open');
    assert.equal(await page.$eval('#panels', (panels) => panels.disabled), false);
  });

  test('math.add: 2 + 3', async () => {
    await page.fill('#add-1', '2');
    await page.fill('#add-2', '3');
    await page.click('#add-form button');
    assert.equal(await textOf('add-out', 'args'), 'math.add →\nargs: [5]');
  });

  test('calls without arguments and input.check', async () => {
    await page.click('[data-call="sandwich.ingredients"]');
    assert.equal(await textOf('simple-out', 'args'), 'sandwich.ingredients →\nargs: ["Peanut Butter","Jelly","Bread"]');
    await page.click('[data-call="calendar.zodiac"]');
    const zodiac = await textOf('simple-out', 'kwargs');
    assert.deepEqual(JSON.parse(zodiac.split('kwargs: ')[1]), { gregorianYear: 2020, 生肖: '鼠' });
    await page.fill('#check-value', 'hello');
    await page.click('#check-form button');
    const error = await textOf('check-out', 'ERROR');
    assert.equal(error, 'input.check →\nERROR demo.error.bad_input\nkwargs: ' +
      '{"errorCode":"BAD_INPUT","errorMessage":"You should have supplied a number instead of a string."}');
  });

  test('countdown.liftoff: progressive results arrive one by one, then SUCCESS', async () => {
    await page.fill('#countdown-interval', '0.4');
    await page.click('#countdown-form button');
    // The first report is on the page while the call is still running.
    await page.waitForFunction(() => document.querySelectorAll('#countdown-progress li').length >= 1, null, { timeout: WAIT });
    assert.equal(await page.textContent('#countdown-out'), 'calling countdown.liftoff…');
    const final = await textOf('countdown-out', 'final');
    assert.equal(final, 'final: {"liftoffStatus":"SUCCESS"}');
    const reports = await items('countdown-progress');
    assert.deepEqual(reports.map((r) => r.split(' at ')[0]),
      ['progress {"timeLeft":3}', 'progress {"timeLeft":2}', 'progress {"timeLeft":1}']);
  });

  test('app.slow: Cancel ends the call with wamp.error.canceled', async () => {
    await page.fill('#slow-delay', '30');
    await page.click('#slow-call');
    await textOf('slow-out', 'app.slow running');
    assert.equal(await page.isDisabled('#slow-cancel'), false);
    const started = Date.now();
    await page.click('#slow-cancel');
    const answer = await textOf('slow-out', 'ERROR');
    assert.equal(answer, 'app.slow →\nERROR wamp.error.canceled');
    assert.ok(Date.now() - started < 10_000, 'canceled long before the 30 s delay');
    const names = await wire();
    assert.ok(names.includes('CANCEL'));
    assert.equal(names.at(-1), 'ERROR');
    assert.equal(await page.isDisabled('#slow-cancel'), true);
    assert.equal(await page.isDisabled('#slow-call'), false);
  });

  test('events: subscribe, publish, see the event live', async () => {
    await page.click('[data-topic="docs.changes"]');
    await textOf('events', 'docs.changes ["Thanks for subscribing!"]');
    await page.click('[data-topic="hourly_updates"]');
    assert.match(await textOf('topics-out', 'subscribed to hourly_updates'), /^subscribed to hourly_updates \(subscription [1-9][0-9]*\)$/);
    assert.equal(await page.textContent('[data-topic="hourly_updates"]'), 'Unsubscribe hourly_updates');
    const message = `Hello from chromium ${Date.now()}`;
    await page.fill('#publish-message', message);
    await page.click('#publish-form button');
    assert.equal(await textOf('publish-out', 'args'), 'updates.publish →\nargs: [1]');
    await textOf('events', `hourly_updates ${JSON.stringify([message])}`);
    const newest = (await items('events'))[0];
    assert.ok(newest.endsWith(` hourly_updates ${JSON.stringify([message])}`), newest);
  });

  test('no page errors, no console errors, nothing fetched from elsewhere; screenshot', async () => {
    // Leave something in the countdown panel for the screenshot.
    await page.fill('#countdown-interval', '0.05');
    await page.click('#countdown-form button');
    await textOf('countdown-out', 'final');
    // The whole page in one viewport, so that the sticky log pane sits at
    // the top of its column as a reader sees it.
    await page.evaluate(() => window.scrollTo(0, 0));
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: 1280, height: Math.min(height, 4000) });
    await page.screenshot({ path: screenshot });
    assert.ok(statSync(screenshot).size > 10_000, 'the screenshot is a real image');
    assert.deepEqual(problems, []);
  });
});
