// The supervisor's desk in headless Chromium (Debian's), driven by Playwright, every page
// checked with axe-core. Run by `tests/browser/run`, which installs what this needs.
//
// Set-up, all real: a relay (`holdfast-relay`, SQLite, a free port on 127.0.0.1); Lee, a link
// worker and the team's admin, with a seeded caseload; Priya, a link worker; Sam, a
// supervisor. Lee and Priya move one case (Ada Lovelace) to different statuses offline, so
// it is contested on Sam's device; the case has sessions and measures. Sam runs
// `holdfast serve`.
//
// Then, in the browser, with the keyboard wherever a person would use it:
//  1. the link opens the queue (the token is swapped for a cookie and leaves the address);
//  2. the queue shows Ada's case as contested; Tab reaches it and Enter opens it;
//  3. the case shows the contested status with who set what, the timeline and the charts;
//  4. Lee records a session on his device and syncs: it appears on the open page with no
//     reload;
//  5. the status is settled, a supervision comment added and the case marked reviewed, by
//     keyboard; the comment and the status reach Lee's device through the relay;
//  6. pages on other origins (another port of this computer, and `localhost`, another site)
//     that post a comment to the desk change nothing (the desk refuses requests another site
//     started, checks the origin and the form token; the cookie is SameSite=Strict);
//  7. a link worker's caseload opens from the load table; the outcomes report shows its
//     tables and charts and names no one;
//  8. on every page (the queue, a contested and a settled case, a link worker's caseload,
//     the report, the refusal a browser without the cookie gets): axe-core finds no serious or critical violation,
//     and the browser reports no Content-Security-Policy violation or script error.
// With SCREENSHOTS=DIR set, the queue, the case and the report are saved as PNGs there.
//
// Stops itself after 4 minutes whatever happens (exit 3).

import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const HOLDFAST = must('HOLDFAST_BIN');
const RELAY = must('HOLDFAST_RELAY_BIN');
const CHROMIUM = must('CHROMIUM');
const SCREENSHOTS = process.env.SCREENSHOTS || '';
const PATIENTS = process.env.DESK_PATIENTS || '120';

const watchdog = setTimeout(() => {
  console.error('desk: still running after 4 minutes: stopping');
  cleanUp();
  process.exit(3);
}, 240_000);

function must(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`desk: ${name} is not set (tests/browser/run sets it)`);
    process.exit(2);
  }
  return value;
}

function say(line) {
  console.log(`desk: ${line}`);
}

function check(ok, what) {
  if (!ok) {
    throw new Error(what);
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'holdfast-desk-'));
const children = [];

function cleanUp() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {}
  }
  rmSync(scratch, { recursive: true, force: true });
}

/** Starts a long-running process; resolves with the first stdout line matching `wanted`. */
function start(command, args, wanted) {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TZ: 'UTC', RUST_LOG: 'warn', HOLDFAST_LOG: '' },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      for (const line of seen.split('\n')) {
        const match = line.match(wanted);
        if (match) {
          resolve(match);
          return;
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`${command} exited (${code}) before printing ${wanted}`)));
  });
}

/** A device of the test: a store of its own, driven by the real CLI. */
class Device {
  constructor(name) {
    this.home = join(scratch, name.split(' ')[0].toLowerCase());
    this.ok(['init', '--name', name]);
  }

  ok(args) {
    return execFileSync(HOLDFAST, ['--home', this.home, ...args], {
      env: { ...process.env, TZ: 'UTC', HOLDFAST_LOG: '' },
      encoding: 'utf8',
      timeout: 60_000,
    });
  }

  json(args) {
    return JSON.parse(this.ok(['--json', ...args]));
  }
}

async function axe(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } }),
  );
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of bad) {
    console.error(`desk: axe on ${name}: ${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target).join(', ')}`);
  }
  check(bad.length === 0, `axe found ${bad.length} serious or critical violations on ${name}`);
  say(`axe: ${name}: no serious or critical violation (${result.passes.length} rules passed)`);
}

/** Presses Enter on the focused button and waits for the page it leads to. */
async function submit(page, pattern, what) {
  try {
    await Promise.all([page.waitForURL(pattern, { timeout: 15_000 }), page.keyboard.press('Enter')]);
  } catch (e) {
    const text = await page.evaluate(() => document.body.innerText).catch(() => '?');
    throw new Error(`${what}: did not reach ${pattern}; the page says: ${text.slice(0, 600)}`);
  }
}

/** Clicks `target` and waits for the page it leads to. */
async function submitClick(page, target, pattern) {
  await Promise.all([page.waitForURL(pattern, { timeout: 15_000 }), target.click()]);
}

/** Presses Tab until the focused element satisfies `is`, at most `limit` times. */
async function tabTo(page, is, what, limit = 400) {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(is)) {
      return;
    }
  }
  throw new Error(`Tab never reached ${what}`);
}

async function main() {
  // The relay.
  const [, relayUrl] = await start(
    RELAY,
    ['--listen', '127.0.0.1:0', '--data-dir', join(scratch, 'relay')],
    /^listening on (\S+)/,
  );
  say(`relay at ${relayUrl}`);

  // The team: Lee (admin, link worker) with a seeded caseload, Priya, and Sam (supervisor).
  const lee = new Device('Lee Quinn');
  const priya = new Device('Priya Natarajan');
  const sam = new Device('Sam Okafor');
  lee.ok(['seed', '--patients', PATIENTS, '--assets', '50']);
  const ada = lee.json(['patient', 'add', '--name', 'Ada Lovelace', '--practice', 'Chapel Allerton Medical Centre']).case_id;
  lee.ok(['referral', 'add', ada, '--source', 'gp', '--reason', 'isolated since bereavement']);
  lee.ok(['status', 'set', ada, 'active']);
  for (const [on, answers] of [['2026-06-01', '3,4,3,8'], ['2026-08-03', '5,6,5,6'], ['2026-10-05', '7,7,6,4']]) {
    lee.ok(['measure', 'record', 'ons4', ada, '--answers', answers, '--on', on]);
  }
  lee.ok(['measure', 'record', 'gse', ada, '--answers', '2,2,2,2,2,2,2,2,2,2', '--on', '2026-06-01']);
  lee.ok(['measure', 'record', 'gse', ada, '--answers', '3,3,3,2,3,3,3,2,3,3', '--on', '2026-10-05']);
  lee.ok(['session', 'record', ada, '--mode', 'home-visit', '--minutes', '45', '--note', 'First visit: talked about the allotment.']);
  lee.ok(['team', 'create', '--relay', relayUrl]);
  const invite = (role) => lee.json(['invite', 'create', '--role', role]).code;
  priya.ok(['invite', 'redeem', invite('link-worker')]);
  sam.ok(['invite', 'redeem', invite('supervisor')]);
  lee.ok(['sync']);
  priya.ok(['sync']);
  // Lee and Priya move Ada's case at once, offline from each other.
  lee.ok(['status', 'set', ada, 'holding', '--reason', 'waiting for the bereavement service']);
  priya.ok(['status', 'set', ada, 'tapering', '--reason', 'settling into the walking group']);
  lee.ok(['sync']);
  priya.ok(['sync']);
  sam.ok(['sync']);
  say(`team set up: ${PATIENTS} seeded patients and Ada's case (${ada.slice(0, 8)}), contested on Sam's device`);

  // Sam's desk.
  const [, listening] = await start(HOLDFAST, ['--home', sam.home, '--json', 'serve'], /^(\{.*"listening".*\})$/);
  const link = JSON.parse(listening).url;
  const origin = new URL(link).origin;
  say(`desk at ${origin}`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
    const page = await context.newPage();
    const violations = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) {
        violations.push(m.text());
      }
    });
    page.on('pageerror', (e) => violations.push(`script error: ${e.message}`));

    // 1. The link: the token becomes a cookie and leaves the address bar.
    await page.goto(link);
    await page.waitForURL(`${origin}/`);
    await page.waitForSelector('h1');
    const cookies = await context.cookies();
    const cookie = cookies.find((c) => c.name === `holdfast_desk_${new URL(origin).port}`);
    check(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', `the cookie: ${JSON.stringify(cookies)}`);
    check((await page.title()).includes('Review queue'), `title: ${await page.title()}`);

    // 2. The queue.
    const adaRow = page.locator('tr', { has: page.getByRole('link', { name: 'Ada Lovelace' }) });
    check((await adaRow.innerText()).includes('status contested'), 'Ada is not flagged contested in the queue');
    const rows = await page.locator('table.queue tbody tr').count();
    say(`queue: ${rows} cases to review`);
    await axe(page, 'the queue');
    if (SCREENSHOTS) {
      await page.screenshot({ path: join(SCREENSHOTS, 'desk-queue.png') });
    }
    // The skip link first, then Tab to Ada's case and open it with Enter.
    await page.keyboard.press('Tab');
    check(
      (await page.evaluate(() => document.activeElement.textContent)).includes('Skip to the main content'),
      'the first Tab does not reach the skip link',
    );
    await tabTo(page, () => document.activeElement.textContent === 'Ada Lovelace', "Ada's case");
    await submit(page, `**/cases/${ada}`, "opening Ada's case");

    // 3. The case, contested.
    const main = page.locator('main');
    check((await main.innerText()).includes('Contested'), 'the case page does not show the contested status');
    for (const who of ['Lee Quinn', 'Priya Natarajan']) {
      check((await page.locator('.contested fieldset').innerText()).includes(who), `who set what: no ${who}`);
    }
    check((await page.locator('figure.chart svg polyline').count()) >= 5, 'the measure charts are missing');
    await axe(page, 'a contested case');

    // 4. Lee records a session; it appears here without a reload.
    await page.evaluate(() => {
      window.notReloaded = true;
    });
    lee.ok(['session', 'record', ada, '--mode', 'phone', '--minutes', '20', '--note', 'Walked to the allotment together.']);
    lee.ok(['sync']);
    await page.waitForFunction(() => document.querySelector('main').innerText.includes('Walked to the allotment together.'), null, {
      timeout: 30_000,
    });
    check(await page.evaluate(() => window.notReloaded === true), 'the page was reloaded');
    say("Lee's new session appeared on the open page without a reload");
    if (SCREENSHOTS) {
      await page.screenshot({ path: join(SCREENSHOTS, 'desk-case.png'), fullPage: true });
    }

    // 5. Settle the status by keyboard: Tab to the tapering choice, Space, Enter on the button.
    await tabTo(page, () => document.activeElement.type === 'radio', 'the status choices');
    while (!(await page.evaluate(() => document.activeElement.value === 'tapering'))) {
      await page.keyboard.press('ArrowDown');
    }
    await page.keyboard.press('Space');
    await tabTo(page, () => document.activeElement.textContent === 'Settle the status', 'the settle button');
    await submit(page, '**?done=resolved', 'settling the status');
    check((await main.innerText()).includes('Status settled.'), 'no word that the status was settled');
    check(!(await main.innerText()).includes('Contested:'), 'still contested after settling');
    await axe(page, 'a settled case');

    // A comment, typed.
    await tabTo(page, () => document.activeElement.id === 'comment-text', 'the comment box');
    await page.keyboard.type('Well held. Shall we talk about the waiting list on Friday?');
    await tabTo(page, () => document.activeElement.textContent === 'Add the comment', 'the comment button');
    await submit(page, '**?done=commented', 'adding a comment');
    check((await main.innerText()).includes('Comment added.'), 'no word that the comment was added');

    // Marked reviewed.
    await tabTo(page, () => document.activeElement.textContent === 'Mark reviewed', 'the review button');
    await submit(page, '**?done=reviewed', 'marking reviewed');
    check((await main.innerText()).includes('Marked reviewed.'), 'no word that the case was reviewed');

    // The comment and the settled status reach Lee through the relay.
    const until = Date.now() + 30_000;
    for (;;) {
      lee.ok(['sync']);
      const file = lee.json(['case', 'show', ada]).case_file;
      const said = file.supervision.map((c) => c.text);
      if (said.includes('Well held. Shall we talk about the waiting list on Friday?') && file.status.claims.length === 1) {
        check(file.status.claims[0].value === 'tapering', `Lee sees ${file.status.claims[0].value}`);
        break;
      }
      check(Date.now() < until, "the desk's comment and status never reached Lee");
      await new Promise((r) => setTimeout(r, 300));
    }
    say("the comment and the settled status reached Lee's device");

    // 6. Pages elsewhere post a comment to the desk: nothing changes.
    const evil = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!DOCTYPE html><html lang="en"><title>elsewhere</title><body>
        <form id="f" method="post" action="${origin}/cases/${ada}/comments">
        <input name="csrf" value="${'0'.repeat(64)}"><input name="text" value="forged from elsewhere">
        </form><script>document.getElementById('f').submit()</script></body></html>`);
    });
    await new Promise((r) => evil.listen(0, '127.0.0.1', r));
    const refusals = [];
    for (const host of ['127.0.0.1', 'localhost']) {
      const elsewhere = await context.newPage();
      const answer = elsewhere.waitForResponse((r) => r.url().startsWith(`${origin}/cases/`));
      await elsewhere.goto(`http://${host}:${evil.address().port}/`);
      const status = (await answer).status();
      check(status === 401 || status === 403, `a post from ${host} got ${status}`);
      refusals.push(`${host}: ${status}`);
      await elsewhere.close();
    }
    evil.close();
    await page.goto(`${origin}/cases/${ada}`);
    check(!(await main.innerText()).includes('forged from elsewhere'), 'a post from another origin changed the case');
    say(`forms on other origins were refused (${refusals.join(', ')}) and changed nothing`);

    // A link worker's caseload, from the load table.
    await page.goto(`${origin}/`);
    await submitClick(page, page.locator('table.load').getByRole('link', { name: 'Lee Quinn' }), '**/caseloads/*');
    check((await page.locator('h1').innerText()) === 'Caseload: Lee Quinn', 'the caseload page has no heading');
    check((await page.getByRole('link', { name: 'Ada Lovelace' }).count()) === 1, "Ada is not on Lee's caseload");
    await axe(page, "a link worker's caseload");

    // The outcomes report: tables and charts, no names.
    await page.goto(`${origin}/report`);
    check((await page.locator('h1').innerText()) === 'Outcomes report', 'the report page has no heading');
    check((await page.locator('figure.bars svg rect').count()) > 0, 'the report has no bar chart');
    check(!(await main.innerText()).includes('Ada Lovelace'), 'the report names a patient');
    await axe(page, 'the outcomes report');
    if (SCREENSHOTS) {
      await page.screenshot({ path: join(SCREENSHOTS, 'desk-report.png'), fullPage: true });
    }

    // A browser without the cookie gets the refusal page, which passes axe too.
    const stranger = await browser.newContext();
    const outside = await stranger.newPage();
    const refused = await outside.goto(`${origin}/`);
    check(refused.status() === 401, `a browser without the cookie got ${refused.status()}`);
    check(!(await outside.locator('body').innerText()).includes('Ada'), 'the refusal shows records');
    await axe(outside, 'the refusal page');
    await stranger.close();

    // The queue again: Ada's case has left it.
    await page.goto(`${origin}/`);
    check((await page.getByRole('link', { name: 'Ada Lovelace' }).count()) === 0, 'Ada is still in the queue after review');
    await axe(page, 'the queue after review');

    check(violations.length === 0, `the browser reported: ${violations.join('; ')}`);
    say('no Content-Security-Policy violation or script error');
  } finally {
    await browser.close();
  }
}

main()
  .then(() => {
    clearTimeout(watchdog);
    cleanUp();
    say('passed');
  })
  .catch((e) => {
    console.error(`desk: FAILED: ${e.stack || e}`);
    clearTimeout(watchdog);
    cleanUp();
    process.exit(1);
  });
