import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { testPolicyJson } from './testing.js';
import { loadPolicy, pointerToPath, validatePolicy } from './validate.js';

type Json = ReturnType<typeof testPolicyJson>;
// biome-ignore lint/suspicious/noExplicitAny: tests poke at untyped JSON
type Any = any;

function errorsAfter(edit: (json: Any) => void) {
  const json = testPolicyJson();
  edit(json);
  return validatePolicy(json);
}

describe('validatePolicy', () => {
  it('accepts the shipped example and the test policy', () => {
    const example = JSON.parse(readFileSync('docs/policy.example.json', 'utf8'));
    expect(validatePolicy(example)).toEqual([]);
    expect(validatePolicy(testPolicyJson())).toEqual([]);
  });

  it('names schema errors by path', () => {
    const errors = errorsAfter((j: Json & Any) => {
      j.version = 2;
      j.profiles.debug.maxTtlSeconds = 'an hour';
      j.profiles.debug.actions['port-forward'].ports[0] = 70000;
      j.profiles.debug.actions.exex = {};
      delete j.profiles.debug.scope.pods;
      j.profiles.debug.approval.manual.count = 0;
      j.profiles.debug.approval.autoApprove[0] = { id: 'empty' };
      j.profiles.debug.actions.list.resources = ['secrets'];
      j.profiles.Bad_Name = j.profiles.readonly;
    });
    const byPath = Object.fromEntries(errors.map((e) => [e.path, e.message]));
    expect(byPath).toMatchObject({
      version: 'must be 1',
      'profiles.debug.maxTtlSeconds': 'must be integer',
      'profiles.debug.actions.port-forward.ports[0]': 'must be a port number (1-65535) or a port name',
      'profiles.debug.actions.exex': 'is not a known field',
      'profiles.debug.scope.pods': 'is required',
      'profiles.debug.approval.manual.count': 'must be >= 1',
      'profiles.debug.approval.autoApprove[0]': 'must state at least one condition',
      'profiles.Bad_Name': expect.stringContaining('is not a valid name'),
    });
    expect(byPath['profiles.debug.actions.list.resources[0]']).toMatch(/^must be one of "pods"/);
  });

  it('names semantic errors by path', () => {
    const errors = errorsAfter((j: Any) => {
      j.profiles.debug.groups = ['jit:{user}', 'jit:{namespace', 'jit:ok:{namespace}'];
      j.profiles.debug.maxTtlSeconds = 86400;
      j.profiles.debug.commands.allow.push({ argv: ['*sh', '-c'] }, { argv: ['ls', '...', 'x'] });
      j.profiles.debug.commands.allow.push({ argv: ['../bin/ps'] }, { argv: ['ps', 'a\u0000'] });
      j.profiles.debug.runbooks = ['missing'];
      j.profiles.debug.approval.autoApprove[0].reasonPattern = '([';
      j.profiles.readonly.approval.autoApprove[0].businessHours.timeZone = 'Mars/Olympus';
      j.profiles.readonly.approval.autoApprove[0].businessHours.end = '08:00';
      delete j.profiles.shell.commands;
    });
    const paths = errors.map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'profiles.debug.groups[0]',
        'profiles.debug.groups[1]',
        'profiles.debug.maxTtlSeconds',
        'profiles.debug.commands.allow[5].argv[0]',
        'profiles.debug.commands.allow[6].argv[1]',
        'profiles.debug.commands.allow[7].argv',
        'profiles.debug.commands.allow[8].argv',
        'profiles.debug.runbooks[0]',
        'profiles.debug.approval.autoApprove[0].reasonPattern',
        'profiles.readonly.approval.autoApprove[0].businessHours.timeZone',
        'profiles.readonly.approval.autoApprove[0].businessHours.end',
        'profiles.shell.commands',
      ]),
    );
    expect(paths).not.toContain('profiles.debug.groups[2]');
    expect(errors.find((e) => e.path === 'profiles.debug.groups[0]')?.message).toContain(
      'unknown placeholder {user}',
    );
  });

  it('refuses groups that do not start with jit:, so no template can yield system:', () => {
    const errors = errorsAfter((j: Any) => {
      j.profiles.debug.groups = ['system:masters', '{namespace}:admins'];
    });
    expect(errors).toEqual([
      { path: 'profiles.debug.groups[0]', message: 'must match pattern "^jit:"' },
      { path: 'profiles.debug.groups[1]', message: 'must match pattern "^jit:"' },
    ]);
  });

  it('reports a non-object policy at the root', () => {
    expect(validatePolicy(null)).toEqual([{ path: '(root)', message: 'must be object' }]);
  });
});

describe('loadPolicy', () => {
  it('throws POLICY_INVALID listing every problem as path: message', () => {
    const json: Any = testPolicyJson();
    json.version = 3;
    json.limits.maxTtlSeconds = 5;
    let error: unknown;
    try {
      loadPolicy(json);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AirlockError);
    expect((error as AirlockError).code).toBe('POLICY_INVALID');
    expect((error as AirlockError).detail?.split('\n')).toEqual([
      'version: must be 1',
      'limits.maxTtlSeconds: must be >= 60',
    ]);
  });

  it('parses JSON text and reports syntax errors as POLICY_INVALID', () => {
    expect(loadPolicy(JSON.stringify(testPolicyJson())).version).toBe(1);
    expect(() => loadPolicy('{ nope')).toThrowError(expect.objectContaining({ code: 'POLICY_INVALID' }));
  });

  it('returns a frozen copy and leaves the input alone', () => {
    const json = testPolicyJson();
    const policy = loadPolicy(json);
    expect(Object.isFrozen(policy.profiles.debug?.commands?.allow)).toBe(true);
    expect(Object.isFrozen(json)).toBe(false);
  });
});

describe('pointerToPath', () => {
  it('renders array indices in brackets and unescapes ~1', () => {
    expect(pointerToPath('/profiles/a~1b/ports/0', 'x')).toBe('profiles.a/b.ports[0].x');
    expect(pointerToPath('')).toBe('(root)');
  });
});
