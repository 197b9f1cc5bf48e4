// The web view in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core; no browser
// is downloaded), on a real ZooKeeper server and the SQS server: the page follows a rollout (4 nodes,
// limit 2, one node failing its first attempt) live to its end without reloading — the task appears in the
// list, its timeline shows one bar per attempt coloured by outcome, the nodes end SUCCEEDED — then a node
// dead-lettered for good shows with its reason. It also fits a phone's width and fetches nothing from
// anywhere but its own server. Screenshots go to .tmp/screenshots/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { silentLogger } from '../../core/logger.js';
import { UiServer } from '../../ui/ui-server.js';
import { freshQueuePrefix, freshZkRoot, requireZk } from '../support/env.js';
import { Harness } from '../support/harness.js';
import { Probe } from '../support/probe.js';
import { realBackend } from '../support/real-backend.js';
import { REPO } from '../support/cli-run.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(REPO, '.tmp', 'screenshots');
const CLUSTER = 'ui:c1';
const NODES = ['u1', 'u2', 'u3', 'u4'];

describe('integration: the web view in headless Chromium', function () {
  this.timeout(180_000);
  let h: Harness | undefined;
  let ui: UiServer | undefined;
  let browser: Browser | undefined;
  let probe: Probe;
  /** Lets the held actions go (also on failure, so that the runners can drain). */
  let open: () => void = () => undefined;

  before(async function () {
    requireZk(this);
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (test/run.sh does it)`);
      this.skip();
    }
    mkdirSync(SHOTS, { recursive: true });
    probe = new Probe();
    const root = freshZkRoot();
    h = new Harness({ backend: await realBackend(root), cluster: CLUSTER, nodes: NODES, zkRoot: root, queuePrefix: freshQueuePrefix(), actions: [probe.action()], visibilitySec: 5 });
    await h.start();
    ui = new UiServer({ store: h.store, queue: h.queue, names: h.names, logger: silentLogger, port: 0, pollMs: 250, deadLetterRefreshMs: 300 });
    await ui.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    open();
    await browser?.close();
    await ui?.stop();
    await h?.stop();
  });

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  }

  it('follows a running rollout live to its end: the list, the timeline, the nodes; then a dead letter', async () => {
    const harness = h as Harness;
    const base = (ui as UiServer).url;
    const page = await (browser as Browser).newPage({ viewport: { width: 1280, height: 900 } });
    const foreign: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

    await page.goto(base);
    await page.waitForSelector('[data-testid="live-status"].on');

    // Slow enough to be seen running; u3 fails its first attempt and is retried on its grant.
    probe.failUntil.set('u3', 1);
    const gate = new Promise<void>((r) => (open = r));
    probe.onExecute = () => gate;
    const taskId = await harness.submit({ name: 'weekly-restart', limit: 2, args: { ms: 300 }, retry: { count: 2, backoff: '200ms' } });

    // The task shows up in the list by itself (no reload), running.
    const row = page.locator(`[data-testid="task-row"][data-task-id="${taskId}"]`);
    await row.waitFor();
    await page.waitForSelector(`[data-testid="task-row"][data-task-id="${taskId}"][data-state="running"]`);
    await page.waitForSelector('[data-testid="cluster"][data-held="2"][data-waiting="2"]');
    await shot(page, 'overview-running');

    await row.locator('a').first().click();
    await page.waitForURL(/#\/task\//);
    await page.waitForSelector('[data-testid="timeline"]');
    await page.waitForSelector('[data-testid="bar"][data-outcome="running"]');
    assert.equal(await page.locator('[data-testid="bar"][data-outcome="running"]').count(), 2, 'two nodes at a time');
    await shot(page, 'task-running');
    open();

    await page.waitForSelector('[data-testid="task-state"]:text("succeeded")', { timeout: 60_000 });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="node-row"][data-state="SUCCEEDED"]').length === 4);
    const bars = await page.locator('[data-testid="bar"]').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-node')}#${e.getAttribute('data-attempt')}:${e.getAttribute('data-outcome')}`));
    assert.deepEqual(bars.sort(), ['u1#1:succeeded', 'u2#1:succeeded', 'u3#1:failed', 'u3#2:succeeded', 'u4#1:succeeded']);
    // Bars sit on a time axis: a wave's later attempts start to the right of the first ones.
    const lefts = await page.locator('[data-testid="bar"]').evaluateAll((els) => els.map((e) => (e as HTMLElement).getBoundingClientRect().left));
    assert.ok(Math.max(...lefts) > Math.min(...lefts), 'attempts are spread over time');
    assert.match(await page.locator('[data-testid="progress-text"]').innerText(), /4 \/ 4 done/);
    await shot(page, 'task-succeeded');

    // A node dead-lettered for good: the overview lists it with its reason.
    probe.onExecute = undefined;
    probe.failUntil.set('u4', 99);
    const failing = await harness.submit({ name: 'doomed', limit: 1, nodes: ['u4'], args: { ms: 10 }, retry: { count: 0, backoff: '100ms' }, max_failures: 1 });
    await page.click('a[href="#/"]');
    await page.waitForURL((u) => u.hash === '#/');
    // Its only node died: nothing left to stop, so the task ends failed (not halted).
    await page.waitForSelector(`[data-testid="task-row"][data-task-id="${failing}"][data-state="failed"]`, { timeout: 60_000 });
    const dead = page.locator(`[data-testid="dead-letter"][data-task-id="${failing}"]`);
    await dead.waitFor({ timeout: 30_000 });
    const deadText = await dead.innerText();
    assert.match(deadText, /u4[\s\S]*ACTION_FAILED[\s\S]*probe told to fail/);
    assert.ok(deadText.includes(failing), 'the dead letter names its task');
    await shot(page, 'overview-dead-letter');

    assert.equal(await page.evaluate(() => sessionStorage.getItem('taskerman.loads')), '1', 'the page was never reloaded');
    assert.deepEqual(foreign, [], 'nothing fetched from outside');
    assert.deepEqual(errors, [], 'no script error');
    await page.close();
  });

  it('fits a phone: no sideways scrolling of the page, the task view readable at 390 px', async () => {
    const page = await (browser as Browser).newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const base = (ui as UiServer).url;
    await page.goto(base);
    await page.waitForSelector('[data-testid="task-row"]');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
    await shot(page, 'phone-overview');
    await page.locator('[data-testid="task-row"][data-state="succeeded"] a').first().click();
    await page.waitForURL(/#\/task\//);
    await page.waitForSelector('[data-testid="timeline"]');
    const tlOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(tlOverflow <= 0, `the task view is ${tlOverflow}px wider than the phone`);
    const barWidth = await page.locator('[data-testid="bar"]').first().evaluate((e) => (e as HTMLElement).getBoundingClientRect().width);
    assert.ok(barWidth >= 3, 'bars stay visible');
    await shot(page, 'phone-task');
    await page.close();
  });
});
