/**
 * The timeline page in a real browser: the four lanes render, entries sit in
 * their lane, and the recording player replays the output into its <pre>.
 *
 * Needs Debian's chromium (`apt-get install chromium`) and `playwright-core`
 * (a dev dependency); `.ci/run` installs chromium. Without either the test
 * fails, naming what is missing: a skip would let a machine without chromium
 * pass without ever rendering the page.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAsciicast } from './asciicast.js';
import { buildTimeline } from './timeline.js';
import { playableFrames, renderTimelineHtml } from './timeline-html.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
/** The slice of playwright-core's API used here (the package is optional, so its types are not imported). */
interface Locator {
  count(): Promise<number>;
  allInnerTexts(): Promise<string[]>;
  innerText(): Promise<string>;
  textContent(): Promise<string | null>;
  click(): Promise<void>;
  waitFor(options: { timeout: number }): Promise<void>;
  locator(selector: string, options?: { hasText: string }): Locator;
  first(): Locator;
}
interface Page {
  on(event: string, listener: (arg: never) => void): void;
  setContent(html: string, options: { waitUntil: 'load' }): Promise<void>;
  locator(selector: string): Locator;
  evaluate(expression: string): Promise<unknown>;
}
interface Browser {
  newPage(): Promise<Page>;
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

      expect(await page.locator('th.lane').allInnerTexts()).toEqual([
        'broker',
        'mediator',
        'executor',
        'kubernetes',
      ]);
      expect(await page.locator('tbody tr').count()).toBe(entries.length);
      // Each row has exactly one filled cell, in the column of its lane.
      const filled = (await page.evaluate(`Array.from(document.querySelectorAll('tbody tr')).map((tr) =>
        Array.from(tr.children).slice(1).findIndex((td) => td.children.length > 0))`)) as number[];
      const lanes = ['broker', 'mediator', 'executor', 'kubernetes'];
      expect(filled.map((i) => lanes[i])).toEqual(entries.map((e) => e.lane));
      expect(await page.locator('.entry.deny').count()).toBe(2);
      expect(
        await page.evaluate(`getComputedStyle(document.querySelector('.entry.deny')).backgroundColor`),
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
});
