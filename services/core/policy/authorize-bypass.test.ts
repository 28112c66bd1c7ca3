import { describe, expect, it } from 'vitest';
import { authorizeIntent } from './authorize.js';
import { corpus, corpusArgv, lenient } from './authorize-test-support.js';
import type { Intent } from './types.js';

// authorizeIntent against the bypass corpus (test/fixtures/policy/bypass-corpus.json).

describe('bypass corpus', () => {
  it('has entries', () => expect(corpus.entries.length).toBeGreaterThan(50));
  it.each(corpus.entries.map((e) => [e.name, e] as const))('denies %s', (_name, entry) => {
    const intent: Intent = {
      action: 'exec',
      namespace: corpus.scope.namespace,
      pod: corpus.pod,
      argv: corpusArgv(entry),
    };
    const result = authorizeIntent(
      lenient,
      { ...corpus.scope, profile: entry.profile ?? corpus.scope.profile },
      intent,
    );
    expect(result, entry.why).toMatchObject({ allow: false });
    if (!result.allow)
      expect(['COMMAND_DENIED', 'COMMAND_NOT_ALLOWED', 'SHELL_NOT_ALLOWED']).toContain(result.code);
  });
  it('still allows the benign commands of the lenient profile', () => {
    for (const argv of [
      ['ps', 'aux'],
      ['/bin/ps', '-ef'],
      ['cat', 'file.txt'],
      ['find', '.', '-name', '*.log'],
      ['echo', 'hello'],
      ['curl', '-sS', 'http://localhost:8080/'],
    ]) {
      expect(
        authorizeIntent(lenient, corpus.scope, { action: 'exec', namespace: 'payments', pod: 'api-0', argv }),
      ).toMatchObject({
        allow: true,
      });
    }
  });
  it('the readers profile still allows reading files its deny rules do not name, exactly as typed', () => {
    const readers = { ...corpus.scope, profile: 'readers' };
    for (const argv of [
      ['cat', '/proc/1/status'],
      ['cat', '/proc/1//status', '--'],
      ['cat', '-A', '/proc/self/root/etc/hostname'],
      ['cat', '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt'],
    ]) {
      expect(
        authorizeIntent(lenient, readers, { action: 'exec', namespace: 'payments', pod: 'api-0', argv }),
      ).toEqual({
        allow: true,
        rule: 'profiles.readers.commands.allow[0]',
      });
    }
  });
});
