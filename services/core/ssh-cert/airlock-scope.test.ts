import { describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { type AirlockScope, formatAirlockScope, parseAirlockScope } from './airlock-scope.js';

const SCOPE: AirlockScope = {
  cluster: 'prod-eu-1',
  namespace: 'payments',
  podPatterns: ['api-*', 'worker-?'],
  profile: 'read-only',
  requestId: 'req-01HZX',
  groups: ['jit:payments-debug'],
};

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
});
