/**
 * The timeline page in a real browser at 1400×1000: the summary counts,
 * the tracks of the time axis, rows that expand, the Kubernetes command,
 * revocation-forced closes not counted as denials, and the recording
 * player replaying the output into its <pre>. One screenshot is written
 * (to the temporary directory, or to $AIRLOCK_TIMELINE_SCREENSHOT, which
 * is how docs/timeline.png is made).
 *
 * Needs Debian's chromium (`apt-get install chromium`) and `playwright-core`
 * (a dev dependency); `.ci/run` installs chromium. Without either the test
 * fails, naming what is missing: a skip would let a machine without chromium
 * pass without ever rendering the page.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAsciicast } from './asciicast.js';
import { buildTimeline } from './timeline.js';
import { playableFrames, renderTimelineHtml } from './timeline-html.js';
import { revokedSessionStory } from './timeline-test-story.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
/** The slice of playwright-core's API used here (the package is optional, so its types are not imported). */
interface Locator {
  count(): Promise<number>;
  allInnerTexts(): Promise<string[]>;
  innerText(): Promise<string>;
  isVisible(): Promise<boolean>;
  getAttribute(name: string): Promise<string | null>;
  textContent(): Promise<string | null>;
  click(): Promise<void>;
  waitFor(options: { timeout: number }): Promise<void>;
  locator(selector: string, options?: { hasText: string }): Locator;
  first(): Locator;
}
interface Page {
  on(event: string, listener: (arg: never) => void): void;
  setContent(html: string, options: { waitUntil: 'load' }): Promise<void>;
  locator(selector: string, options?: { hasText: string }): Locator;
  evaluate(expression: string): Promise<unknown>;
  screenshot(options: { path: string }): Promise<Buffer>;
}
interface Browser {
  newPage(options?: { viewport: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}
// A variable specifier keeps tsc from resolving the optional package.
const PLAYWRIGHT = 'playwright-core';
let playwright: { chromium: { launch(options: unknown): Promise<Browser> } } | undefined;
try {
  playwright = await import(PLAYWRIGHT);
} catch {
  playwright = undefined;
}

const EXAMPLES = join(import.meta.dirname, '../../../docs/examples');

describe('timeline HTML in headless chromium', () => {
  it('renders the four lanes, each entry in its lane, and plays the recording', async () => {
    if (CHROMIUM === undefined) throw new Error('chromium not installed: apt-get install -y chromium');
    if (playwright === undefined) throw new Error('playwright-core not installed: npm ci');
    const sources = ['broker.jsonl', 'mediator.jsonl', 'executor.jsonl', 'kube-audit.log'].map((f) => ({
      name: f,
      content: readFileSync(join(EXAMPLES, f), 'utf8'),
    }));
    const { entries } = buildTimeline(sources, { session: 'ses_8Kq2' });
    const cast = parseAsciicast(readFileSync(join(EXAMPLES, 'ses_8Kq2-1.cast'), 'utf8'));
    const html = renderTimelineHtml({
      entries,
      filter: { session: 'ses_8Kq2' },
      recordings: [
        {
          ref: '/var/lib/airlock/recordings/ses_8Kq2-1.cast',
          foundAt: 'ses_8Kq2-1.cast',
          frames: playableFrames(cast.frames),
          problem: undefined,
        },
      ],
    });

    const browser = await playwright.chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('pageerror', (e: Error) => errors.push(e.message));
      page.on('console', (m: { type(): string; text(): string }) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('request', (r: { url(): string }) => requests.push(r.url()));
      await page.setContent(html, { waitUntil: 'load' });

      expect(await page.locator('.track .track-name').allInnerTexts()).toEqual([
        'broker',
        'mediator',
        'executor',
        'kubernetes',
      ]);
      // One compact row per entry, each marked with its lane.
      const rowLanes = (await page.evaluate(`Array.from(document.querySelectorAll('details.row')).map((d) =>
        Array.from(d.classList).find((c) => c.startsWith('lane-')).slice(5))`)) as string[];
      expect(rowLanes).toEqual(entries.map((e) => e.lane));
      expect(await page.locator('details.row.outcome-deny').count()).toBe(2);
      expect(
        await page.evaluate(
          `getComputedStyle(document.querySelector('details.row.outcome-deny')).backgroundColor`,
        ),
      ).toBe('rgb(255, 240, 240)');

      const player = page.locator('.player');
      expect(await player.count()).toBe(1);
      // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText, the rendered text a user sees
      expect(await player.locator('pre').innerText()).toBe('');
      await player.locator('button.play').click();
      // (The page's CSP forbids eval, so wait with a locator rather than waitForFunction.)
      await player.locator('pre', { hasText: 'ps aux' }).waitFor({ timeout: 5000 });
      await player.locator('button.play', { hasText: 'replay' }).waitFor({ timeout: 5000 });
      const screen = await player.locator('pre').textContent();
      expect(screen).toContain('USER       PID %CPU');
      expect(screen).not.toContain('\u001b');
      // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText, the rendered text a user sees
      expect(await player.locator('button.play').innerText()).toBe('replay');
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('about:') && !u.startsWith('data:'))).toEqual([]);
    } finally {
      await browser.close();
    }
  });
  it('at 1400×1000: the summary counts a revoked session right, tracks have bars, a row expands to the kube command', async () => {
    if (CHROMIUM === undefined) throw new Error('chromium not installed: apt-get install -y chromium');
    if (playwright === undefined) throw new Error('playwright-core not installed: npm ci');
    const { entries } = buildTimeline(revokedSessionStory());
    const html = renderTimelineHtml({
      entries,
      filter: { request: 'req_R' },
      files: ['broker.jsonl', 'kube-audit.log'],
    });
    const browser = await playwright.chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (e: Error) => errors.push(e.message));
      await page.setContent(html, { waitUntil: 'load' });

      // The header and the summary: one refused shell is the only denial; the
      // three CERT_REVOKED closes are "closed"; the log stream that began
      // before the revocation is not access after it.
      const counts = await page.locator('p.counts span').allInnerTexts();
      expect(counts.slice(0, 5)).toEqual([
        `${entries.length} entries`,
        '8 allowed',
        '1 denied',
        '3 closed by revocation or expiry',
        '0 after revocation',
      ]);
      const summary = page.locator('table.summary tbody tr');
      expect(await summary.count()).toBe(1);
      const cells = await summary.locator('td').allInnerTexts();
      expect(cells).toEqual([
        'request req_R',
        'alice, bob',
        'asked: prod:payments/api-*\npods/exec prod:payments/api-0 [app] -- ps aux\npods/log prod:payments/api-0 [app]',
        '2026-11-27 10:00:00.000',
        '30.5 s',
        'ses_R',
        '8',
        '1',
        '3',
        '10:00:30.000',
        'none',
      ]);
      expect(await page.locator('details.row.late').count()).toBe(0);
      const logRow = page.locator('details.row.lane-kubernetes', { hasText: 'pods/log' });
      expect(await logRow.getAttribute('class')).toBe('row lane-kubernetes outcome-allow');

      // The time axis: a bar per request (broker), per session (mediator,
      // executor; closed by revocation), per API request (kubernetes).
      const bars = (await page.evaluate(`Array.from(document.querySelectorAll('.track')).map((t) =>
        [t.dataset.lane, Array.from(t.querySelectorAll('.bar')).map((b) => b.className + ' ' + (b.getBoundingClientRect().width >= 3))])`)) as [
        string,
        string[],
      ][];
      expect(bars).toEqual([
        ['broker', ['bar true']],
        ['mediator', ['bar closed true']],
        ['executor', ['bar closed true']],
        ['kubernetes', ['bar true', 'bar true']],
      ]);
      expect(await page.locator('.track[data-lane=mediator] .tick.deny').count()).toBe(1);
      expect(await page.locator('.overlay .revocation').count()).toBe(1);

      // Compact rows: every time on one line, every row one line high.
      const heights =
        (await page.evaluate(`Array.from(document.querySelectorAll('details.row > summary')).map((s) =>
        [s.querySelector('.t').getBoundingClientRect().height, s.getBoundingClientRect().height])`)) as [
          number,
          number,
        ][];
      for (const [time, row] of heights) {
        expect(time).toBeLessThan(20);
        expect(row).toBeLessThan(26);
      }

      // A row expands into its details table, with the command of the exec.
      const execRow = page.locator('details.row.lane-kubernetes', { hasText: 'pods/exec' });
      const command = execRow.locator('code.command');
      expect(await command.isVisible()).toBe(false);
      await execRow.locator('summary').click();
      expect(await command.isVisible()).toBe(true);
      expect(await command.textContent()).toBe('ps aux');
      expect(await execRow.locator('table.kv th').allInnerTexts()).toContain('requestURI');
      expect(await execRow.locator('summary .target').textContent()).toBe(
        'pods/exec payments/api-0 [app] -- ps aux',
      );

      const scratch = mkdtempSync(join(tmpdir(), 'timeline-'));
      const png = await page.screenshot({
        path: process.env.AIRLOCK_TIMELINE_SCREENSHOT ?? join(scratch, 'timeline.png'),
      });
      rmSync(scratch, { recursive: true, force: true });
      // PNG IHDR: width and height, big-endian, at bytes 16 and 20.
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1400, 1000]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
