#!/usr/bin/env node
/*
 * The browser half of test_web: opens smpweb's page in headless Chromium
 * (Debian's /usr/bin/chromium, driven by playwright-core) and answers
 * commands, one per line on stdin, with one line on stdout: "ok <json>" or
 * "fail <reason>". The C test (test_web.c) runs the daemon and the session
 * and asks this script what the page shows at each step, so every assertion
 * about the page is made on what a person would see (the DOM text) and on
 * the page's own model of the dots.
 *
 *   open URL                 load the page
 *   plan N TIMEOUT_S         wait until the page has drawn N dots
 *   state S DELIVERED T_S    wait until it shows state S and DELIVERED dots
 *   caughtup N T_S           running, >= N dots drawn delivered, as many as
 *                            the status says
 *   fault S U T_S            an alarm in the event list, state S, U uncertain
 *   banner T_S               wait until the "gone" banner shows
 *   nobanner T_S             wait until no banner shows
 *   bench K                  time a full repaint and a frame of K dots
 *   screenshot FILE          save a PNG of the page
 *   quit
 */
'use strict';
const fs = require('fs');
const readline = require('readline');

const CHROMIUM = process.env.SMP_CHROMIUM || '/usr/bin/chromium';
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.log('fail playwright-core is not installed: run `npm ci` in tests/web');
  process.exit(3);
}
if (!fs.existsSync(CHROMIUM)) {
  console.log('fail ' + CHROMIUM + ' is missing: apt-get install chromium');
  process.exit(3);
}

function reply(ok, v) {
  process.stdout.write((ok ? 'ok ' : 'fail ') + (typeof v === 'string' ? v : JSON.stringify(v)) + '\n');
}

async function main() {
  const profile = fs.mkdtempSync('/tmp/smpweb-chromium-');
  /* A fresh profile each run (playwright passes it as --user-data-dir). */
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = browser.pages()[0] || await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => {
    if (!r.url().startsWith(new URL(page.url() || 'http://x/').origin))
      errors.push('request outside smpweb: ' + r.url());
  });

  const view = () => page.evaluate(() => ({
    alarms: Array.from(document.querySelectorAll('#events li.alarm')).map((li) => li.textContent),
    counts: window.smpweb.counts(),
    state: document.getElementById('state').textContent,
    dots: document.getElementById('dots').textContent,
    banner: window.smpweb.banner(),
    note: document.getElementById('plannote').textContent,
  }));
  const until = async (pred, timeoutS) => {
    const end = Date.now() + timeoutS * 1000;
    let v = null;
    for (;;) {
      v = await view();
      if (pred(v)) return [true, v];
      if (Date.now() > end) return [false, v];
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const a = line.trim().split(/\s+/);
    try {
      if (errors.length) { reply(false, 'page errors: ' + errors.join('; ')); errors.length = 0; continue; }
      switch (a[0]) {
        case 'open':
          await page.goto(a[1]);
          reply(true, await view());
          break;
        case 'plan': {
          const [ok, v] = await until((v) => v.counts.total === +a[1], +a[2]);
          reply(ok, v);
          break;
        }
        case 'state': {
          const [ok, v] = await until((v) => v.state === a[1] &&
            v.counts.delivered === +a[2], +a[3]);
          reply(ok, v);
          break;
        }
        case 'caughtup': {
          /* Running, at least N dots drawn delivered, and exactly as many
           * as the daemon's status counts: a watcher that missed the first
           * dots' messages stays short of it until the session ends. */
          const [ok, v] = await until((v) => v.state === 'running' &&
            v.counts.delivered >= +a[1] &&
            v.counts.delivered === parseInt(v.dots, 10), +a[2]);
          reply(ok, v);
          break;
        }
        case 'fault': {
          /* An alarm standing out in the event list, state S, and U dots
           * drawn uncertain. */
          const [ok, v] = await until((v) => v.alarms.length > 0 &&
            v.state === a[1] && v.counts.uncertain === +a[2], +a[3]);
          reply(ok, v);
          break;
        }
        case 'banner': {
          const [ok, v] = await until((v) => v.banner !== '', +a[1]);
          reply(ok, v);
          break;
        }
        case 'nobanner': {
          const [ok, v] = await until((v) => v.banner === '', +a[1]);
          reply(ok, v);
          break;
        }
        case 'bench':
          reply(true, await page.evaluate((k) => window.smpweb.bench(k), +a[1]));
          break;
        case 'screenshot':
          await page.screenshot({ path: a[1] });
          reply(true, a[1]);
          break;
        case 'quit':
          await browser.close();
          fs.rmSync(profile, { recursive: true, force: true });
          reply(true, 'bye');
          process.exit(0);
          break;
        default:
          reply(false, 'unknown command ' + a[0]);
      }
    } catch (e) {
      reply(false, String(e).split('\n')[0]);
    }
  }
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}

main().catch((e) => { reply(false, String(e).split('\n')[0]); process.exit(1); });
