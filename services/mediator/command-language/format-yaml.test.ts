/**
 * formatYaml: kubectl-style YAML that a YAML parser reads back as the same
 * JSON value, with strings quoted wherever YAML 1.1 or 1.2 would read them
 * as something else, and nothing a terminal interprets.
 */
import fc from 'fast-check';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { sanitizeForTerminal } from '../../core/command-language/sanitize.js';
import { formatYaml } from './format-yaml.js';

describe('formatYaml', () => {
  it('prints a pod as kubectl get -o yaml does', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'payments-api-0',
        labels: { app: 'payments-api', 'app.kubernetes.io/part-of': 'payments' },
        creationTimestamp: '2026-11-27T08:00:00Z',
        annotations: {},
      },
      spec: {
        containers: [
          {
            name: 'main',
            image: 'docker.io/library/busybox:1.37',
            command: ['sh', '-c', 'echo "hi" # not a comment'],
            ports: [{ containerPort: 8080, name: 'http' }],
          },
        ],
        nodeName: null,
        tolerations: [],
      },
      status: { phase: 'Running', ready: true },
    };
    expect(formatYaml(pod)).toBe(
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata:',
        '  name: payments-api-0',
        '  labels:',
        '    app: payments-api',
        '    app.kubernetes.io/part-of: payments',
        '  creationTimestamp: "2026-11-27T08:00:00Z"',
        '  annotations: {}',
        'spec:',
        '  containers:',
        '  - name: main',
        '    image: docker.io/library/busybox:1.37',
        '    command:',
        '    - sh',
        '    - "-c"',
        '    - "echo \\"hi\\" # not a comment"',
        '    ports:',
        '    - containerPort: 8080',
        '      name: http',
        '  nodeName: null',
        '  tolerations: []',
        'status:',
        '  phase: Running',
        '  ready: true',
        '',
      ].join('\n'),
    );
  });

  it.each([
    // YAML 1.1 booleans and null in any case, numbers, timestamps, empty.
    'yes',
    'No',
    'ON',
    'off',
    'y',
    'N',
    'true',
    'Null',
    '~',
    '123',
    '0x1F',
    '1e3',
    '.inf',
    '2026-11-27',
    '1:20',
    '',
    // Indicators and syntax.
    '-c',
    '- x',
    'a: b',
    'key:',
    'a #b',
    '#x',
    '&anchor',
    '*alias',
    '!tag',
    '[a]',
    '{a}',
    "'q'",
    '"q"',
    '%x',
    '@x',
    '|',
    '>',
    '?',
    ' lead',
    'trail ',
    'line\nbreak',
  ])('quotes %j', (text) => {
    expect(formatYaml({ k: text })).toMatch(/^k: "/);
    expect(load(formatYaml({ k: text }))).toEqual({ k: text });
    expect(load(formatYaml({ [text]: 1 }))).toEqual({ [text]: 1 });
  });

  it.each(['Running', 'payments-api-0', 'v1', 'INC-1234 checkout errors', 'busybox:1.37', 'a/b.c@d+e'])(
    'leaves %j plain',
    (text) => {
      expect(formatYaml({ k: text })).toBe(`k: ${text}\n`);
    },
  );

  it('escapes terminal controls, bidi overrides and separators', () => {
    const text = formatYaml({ m: 'a\x1b[31m\x7f\x9b\u202e\u2028\ufeffb' });
    expect(text).toBe('m: "a\\u001b[31m\\x7f\\x9b\\u202e\\u2028\\ufeffb"\n');
    expect(sanitizeForTerminal(text.trimEnd())).toBe(text.trimEnd());
  });

  it('prints nested sequences and scalars at the top', () => {
    expect(formatYaml([[1, 2], [], { a: [{}] }])).toBe('- - 1\n  - 2\n- []\n- a:\n  - {}\n');
    expect(formatYaml('x')).toBe('x\n');
    expect(formatYaml({})).toBe('{}\n');
  });

  it('reads back as the same value, with nothing a terminal interprets on any line', () => {
    const key = fc.string({ unit: 'grapheme', maxLength: 12 });
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.string({ unit: 'grapheme', maxLength: 20 }),
        fc.constantFrom('yes', 'off', '0x10', '1e5', '- a', 'a: b', 'null', '', ' x'),
        fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(key, tie('value'), { maxKeys: 4 }),
      ),
    }));
    fc.assert(
      fc.property(json.value, (value) => {
        const text = formatYaml(value);
        expect(load(text)).toEqual(value);
        for (const line of text.split('\n')) expect(sanitizeForTerminal(line)).toBe(line);
      }),
      { numRuns: 3000 },
    );
  });
});
