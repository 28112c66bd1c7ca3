import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { type AirlockScope, formatAirlockScope, parseAirlockScope } from './airlock-scope.js';

const RUNBOOK = { name: 'payments-health', stepsDigest: `sha256:${'ab'.repeat(32)}` };

const SCOPE: AirlockScope = {
  cluster: 'prod-eu-1',
  namespace: 'payments',
  podPatterns: ['api-*', 'worker-?'],
  profile: 'read-only',
  requestId: 'req-01HZX',
  groups: ['jit:payments-debug'],
};

/** The members every scope has, in the order they are written. */
const REQUIRED_MEMBERS = ['cluster', 'namespace', 'podPatterns', 'profile', 'requestId', 'groups'];

describe('airlock-scope@airlock.dev', () => {
  it('round-trips a valid scope through its canonical JSON', () => {
    expect(parseAirlockScope(formatAirlockScope(SCOPE))).toEqual(SCOPE);
    expect(formatAirlockScope({ ...SCOPE })).toBe(
      '{"cluster":"prod-eu-1","namespace":"payments","podPatterns":["api-*","worker-?"],"profile":"read-only","requestId":"req-01HZX","groups":["jit:payments-debug"]}',
    );
  });

  const invalid: [string, unknown][] = [
    ['array', []],
    ['null', null],
    ['missing member', { ...SCOPE, groups: undefined }],
    ['unknown member', { ...SCOPE, admin: true }],
    ['empty cluster', { ...SCOPE, cluster: '' }],
    ['cluster with space', { ...SCOPE, cluster: 'a b' }],
    ['namespace not a label', { ...SCOPE, namespace: 'Payments' }],
    ['namespace too long', { ...SCOPE, namespace: 'a'.repeat(64) }],
    ['no pod patterns', { ...SCOPE, podPatterns: [] }],
    ['pod pattern with slash', { ...SCOPE, podPatterns: ['a/b'] }],
    ['duplicate pod pattern', { ...SCOPE, podPatterns: ['a', 'a'] }],
    ['numeric requestId', { ...SCOPE, requestId: 42 }],
    ['groups not array', { ...SCOPE, groups: 'jit:x' }],
    ['non-string group', { ...SCOPE, groups: [1] }],
    ['runbook as a string', { ...SCOPE, runbook: 'payments-health' }],
    ['runbook without digest', { ...SCOPE, runbook: { name: 'payments-health' } }],
    ['runbook with unknown member', { ...SCOPE, runbook: { ...RUNBOOK, steps: [] } }],
    ['runbook digest not sha256', { ...SCOPE, runbook: { ...RUNBOOK, stepsDigest: 'md5:00' } }],
    [
      'runbook digest upper case',
      { ...SCOPE, runbook: { ...RUNBOOK, stepsDigest: RUNBOOK.stepsDigest.toUpperCase() } },
    ],
    ['runbook null', { ...SCOPE, runbook: null }],
    ['runbook name with space', { ...SCOPE, runbook: { ...RUNBOOK, name: 'a b' } }],
    ['no container patterns', { ...SCOPE, containerPatterns: [] }],
    ['container pattern with dot', { ...SCOPE, containerPatterns: ['a.b'] }],
    ['container pattern too long', { ...SCOPE, containerPatterns: ['a'.repeat(64)] }],
    ['duplicate container pattern', { ...SCOPE, containerPatterns: ['app', 'app'] }],
    ['container patterns null', { ...SCOPE, containerPatterns: null }],
  ];
  for (const [name, value] of invalid) {
    it(`refuses ${name} with CERT_SCOPE_INVALID`, () => {
      const json = JSON.stringify(value);
      try {
        parseAirlockScope(json);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(AirlockError);
        expect((error as AirlockError).code).toBe('CERT_SCOPE_INVALID');
      }
    });
  }

  it('refuses text that is not JSON', () => {
    expect(() => parseAirlockScope('{cluster:')).toThrow(/not valid JSON/);
  });

  it('round-trips the optional runbook and containerPatterns, after the required members', () => {
    const full: AirlockScope = { ...SCOPE, runbook: RUNBOOK, containerPatterns: ['app', 'side-*'] };
    expect(parseAirlockScope(formatAirlockScope(full))).toEqual(full);
    expect(formatAirlockScope(full)).toBe(
      `${formatAirlockScope(SCOPE).slice(0, -1)},"runbook":{"name":"payments-health","stepsDigest":"${RUNBOOK.stepsDigest}"},"containerPatterns":["app","side-*"]}`,
    );
  });

  it('reads a certificate scope without the optional members as no runbook and all containers', () => {
    const old = parseAirlockScope(formatAirlockScope(SCOPE));
    expect(old.runbook).toBeUndefined();
    expect(old.containerPatterns).toBeUndefined();
    expect(Object.keys(old)).toEqual(REQUIRED_MEMBERS);
  });
});

function scopeError(json: string): string | undefined {
  try {
    parseAirlockScope(json);
    return undefined;
  } catch (error) {
    return error instanceof AirlockError ? error.code : `not an AirlockError: ${String(error)}`;
  }
}

describe('airlock-scope properties', () => {
  const digest = fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => `sha256:${hex}`);
  const validScope = fc.record(
    {
      cluster: fc.stringMatching(/^[a-z0-9-]{1,12}$/),
      namespace: fc.stringMatching(/^[a-z0-9]{1,12}$/),
      podPatterns: fc.uniqueArray(fc.stringMatching(/^[a-z0-9.*?-]{1,12}$/), { minLength: 1, maxLength: 4 }),
      profile: fc.stringMatching(/^[a-z0-9-]{1,12}$/),
      requestId: fc.stringMatching(/^[a-z0-9-]{1,12}$/),
      groups: fc.uniqueArray(fc.stringMatching(/^jit:[a-z0-9-]{1,8}$/), { maxLength: 3 }),
      runbook: fc.record({ name: fc.stringMatching(/^[a-z0-9-]{1,12}$/), stepsDigest: digest }),
      containerPatterns: fc.uniqueArray(fc.stringMatching(/^[a-z0-9*?-]{1,12}$/), {
        minLength: 1,
        maxLength: 4,
      }),
    },
    { requiredKeys: ['cluster', 'namespace', 'podPatterns', 'profile', 'requestId', 'groups'] },
  );

  it('every valid scope, with or without the optional members, round-trips', () => {
    fc.assert(
      fc.property(validScope, (scope) => {
        expect(parseAirlockScope(formatAirlockScope(scope))).toEqual(scope);
      }),
    );
  });

  it('any extra member, at the top or in runbook, is refused with CERT_SCOPE_INVALID', () => {
    const known = new Set([...REQUIRED_MEMBERS, 'runbook', 'containerPatterns', 'name', 'stepsDigest']);
    const extraKey = fc
      .string({ minLength: 1, maxLength: 12 })
      .filter((key) => !known.has(key) && key !== '__proto__');
    fc.assert(
      fc.property(validScope, extraKey, fc.jsonValue(), fc.boolean(), (scope, key, value, inRunbook) => {
        const json = JSON.parse(formatAirlockScope({ ...scope, runbook: scope.runbook ?? RUNBOOK }));
        if (inRunbook) json.runbook[key] = value;
        else json[key] = value;
        expect(scopeError(JSON.stringify(json))).toBe('CERT_SCOPE_INVALID');
      }),
    );
  });

  it('any JSON value in the optional members is either a valid member or CERT_SCOPE_INVALID, never another error', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (runbook, containerPatterns) => {
        const code = scopeError(JSON.stringify({ ...SCOPE, runbook, containerPatterns }));
        expect([undefined, 'CERT_SCOPE_INVALID']).toContain(code);
        if (code === undefined) {
          const parsed = parseAirlockScope(JSON.stringify({ ...SCOPE, runbook, containerPatterns }));
          expect(parsed.runbook?.stepsDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
          for (const c of parsed.containerPatterns ?? []) expect(c).toMatch(/^[a-z0-9*?-]{1,63}$/);
        }
      }),
    );
  });

  it('arbitrary text never escapes as anything but CERT_SCOPE_INVALID', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        expect([undefined, 'CERT_SCOPE_INVALID']).toContain(scopeError(text));
      }),
    );
  });
});
