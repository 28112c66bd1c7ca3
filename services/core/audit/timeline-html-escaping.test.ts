/**
 * Property: whatever text the trails and the Kubernetes audit log carry
 * (they are untrusted: a user picks argv, pod names, reasons), the page
 * contains only the elements and attributes the renderer writes itself. No
 * `<script` and no attribute (`onerror=`, `style=`, …) from an input
 * survives, and embedded recording data contains no `<`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildTimeline } from './timeline.js';
import { renderTimelineHtml } from './timeline-html.js';

const TAGS = new Set(
  'html head meta title style body header h1 h2 h3 p span code section small table thead tbody tr th td div details summary a pre button script'.split(
    ' ',
  ),
);
const ATTRIBUTES = new Set(
  'lang charset http-equiv content class id title style data-lane data-frames href type'.split(' '),
);
// One tag as the renderer writes it: lower-case name, double-quoted attributes.
const TAG = /^<(\/?)([a-z0-9]+)((?: [a-z-]+="[^"<>]*")*)>/;

/** Every problem with the page's markup; empty when it holds only the renderer's own tags. */
function markupProblems(html: string): string[] {
  const problems: string[] = [];
  // The content of <script> elements is not markup: check it separately.
  const scripts = [...html.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)];
  for (const s of scripts.slice(0, -1))
    if ((s[1] ?? '').includes('<')) problems.push('< inside embedded data');
  const body = html.replace(/^<!DOCTYPE html>\n/, '').replace(/(<script[^>]*>)[\s\S]*?(<\/script>)/g, '$1$2');
  for (let i = body.indexOf('<'); i >= 0; i = body.indexOf('<', i + 1)) {
    const m = TAG.exec(body.slice(i));
    if (m === null) {
      problems.push(`stray < at ${JSON.stringify(body.slice(i, i + 30))}`);
      continue;
    }
    if (!TAGS.has(m[2] ?? '')) problems.push(`unexpected element ${m[2]}`);
    for (const a of (m[3] ?? '').matchAll(/ ([a-z-]+)="[^"<>]*"/g))
      if (!ATTRIBUTES.has(a[1] ?? '')) problems.push(`unexpected attribute ${a[1]}`);
  }
  return problems;
}

const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc
    .array(
      fc.constantFrom(
        '<',
        '>',
        '"',
        "'",
        '&',
        '=',
        ' ',
        '/',
        'script',
        '<script>',
        '</script>',
        '<img src=x onerror=alert(1)>',
        '" onmouseover="x',
        "' style='x",
        '<!--',
        '-->',
        '\u2028',
        '&lt;',
        'a',
      ),
      { maxLength: 12 },
    )
    .map((parts) => parts.join('')),
);

function record(tier: string, time: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ type: 'event', tier, time, ...fields });
}

describe('timeline HTML escaping', () => {
  it('no element or attribute from untrusted input survives (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(hostile, { minLength: 12, maxLength: 12 }), (s) => {
        const ids = { session_id: s[0], request_id: s[1], trace_id: s[2] };
        const sources = [
          {
            name: s[3] ?? 'x',
            content: [
              record('broker', '2026-11-27T10:00:00.000Z', {
                event: 'cert.revoked',
                decision: 'allow',
                ...ids,
              }),
              record('mediator', '2026-11-27T10:00:01.000Z', {
                event: s[4] || 'e',
                actor: { user: s[5], kind: s[6], address: s[7] },
                target: { namespace: s[8], pod: s[9], container: s[10], argv: [s[11], s[4]] },
                decision: 'deny',
                code: s[6],
                reason: s[7],
                details: { [s[8] ?? 'k']: s[9], recording: s[10] },
                ...ids,
              }),
              JSON.stringify({
                kind: 'Event',
                apiVersion: 'audit.k8s.io/v1',
                auditID: s[2],
                stage: 'ResponseComplete',
                verb: s[5],
                requestURI: `/api/v1/x/exec?command=${encodeURIComponent(s[9] ?? '')}&container=${encodeURIComponent(s[10] ?? '')}`,
                user: { username: s[11] },
                impersonatedUser: { username: s[4], extra: { 'airlock.dev/request-id': [s[1]] } },
                objectRef: { resource: s[8], namespace: s[9], name: s[10], subresource: 'exec' },
                responseStatus: { code: 200, message: s[3] },
                requestReceivedTimestamp: '2026-11-27T10:00:01.500Z',
                stageTimestamp: '2026-11-27T10:00:02.000Z',
              }),
            ].join('\n'),
          },
        ];
        const { entries } = buildTimeline(sources);
        const html = renderTimelineHtml({
          entries,
          filter: { session: s[0], user: s[5] },
          files: [s[3] ?? ''],
          recordings: [
            { ref: s[10] ?? '', foundAt: s[11], frames: [[0, s[9] ?? '']], problem: undefined },
            { ref: s[4] ?? '', foundAt: undefined, frames: [], problem: s[7] },
          ],
        });
        expect(markupProblems(html)).toEqual([]);
        expect(html.match(/<script/gi)).toHaveLength(2); // one recording's data, the player
      }),
      { numRuns: 200 },
    );
  });

  it('the checker itself finds an injected element and attribute', () => {
    expect(markupProblems('<p>ok</p><img src=x onerror=alert(1)>')).toEqual([
      'stray < at "<img src=x onerror=alert(1)>"',
    ]);
    expect(markupProblems('<p onclick="x">ok</p><iframe>')).toEqual([
      'unexpected attribute onclick',
      'unexpected element iframe',
    ]);
  });
});
