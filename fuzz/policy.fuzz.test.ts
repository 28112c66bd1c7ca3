/**
 * Fuzz targets: the policy loader and evaluator (services/core/policy).
 *
 * Loader: policy documents edited at random (a value replaced by arbitrary
 * JSON, a key deleted or added, an array emptied), and the policy file's
 * text with byte mutations. loadPolicy returns a Policy or throws
 * POLICY_INVALID; nothing else.
 * Evaluator: every policy the loader accepts is linted and asked about
 * random intents of every action for each of its profiles; authorizeIntent
 * always answers allow (with a rule) or deny (with a known code).
 * Deny rules (finding 6): for any arguments, adding more arguments anywhere,
 * or writing a denied path in another spelling (`//`, `.`, `x/..`, a procfs
 * root prefix, a trailing `/`), never turns a deny into an allow; argv is
 * never rewritten.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AirlockError, POLICY_CODES } from '../services/core/errors.js';
import {
  authorizeArgv,
  authorizeIntent,
  type Intent,
  lintPolicy,
  loadPolicy,
  type Policy,
} from '../services/core/policy/index.js';
import { testPolicyJson } from '../services/core/policy/testing.js';
import { fuzz } from './fuzz-runs.js';
import { mutatedBytes } from './mutate.js';

const repo = join(import.meta.dirname, '..');
const EXAMPLE_TEXT = readFileSync(join(repo, 'docs', 'policy.example.json'), 'utf8');
const SEEDS: unknown[] = [testPolicyJson(), JSON.parse(EXAMPLE_TEXT)];
const DENY_CODES: ReadonlySet<string> = new Set(POLICY_CODES);

/** Every path to a value inside `value` (objects and arrays), the root included. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const found = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) found.push(...paths(v, [...prefix, i]));
  } else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) found.push(...paths(v, [...prefix, k]));
  return found;
}

type Edit = { kind: 'replace' | 'delete' | 'add' | 'empty'; at: number; value: unknown; key: string };

function applyEdit(document: unknown, generated: Edit): unknown {
  // A copy: generated values (constants especially) are shared between runs and must not become
  // part of, and be edited inside, a document (a value added into itself is a cycle).
  const edit = { ...generated, value: structuredClone(generated.value) };
  const all = paths(document);
  const path = all[edit.at % all.length]!;
  if (path.length === 0) return edit.kind === 'replace' ? edit.value : document;
  let parent = document as Record<string | number, unknown>;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  const current = parent[last];
  switch (edit.kind) {
    case 'replace':
      parent[last] = edit.value;
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete parent[last];
      break;
    case 'add':
      // An own property, as JSON.parse makes it (even for `__proto__`).
      if (current !== null && typeof current === 'object' && !Array.isArray(current))
        Object.defineProperty(current, edit.key, {
          value: edit.value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else if (Array.isArray(current)) current.push(edit.value);
      break;
    case 'empty':
      parent[last] = Array.isArray(current) ? [] : current !== null && typeof current === 'object' ? {} : '';
      break;
  }
  return document;
}

const edit: fc.Arbitrary<Edit> = fc.record({
  kind: fc.constantFrom('replace', 'delete', 'add', 'empty'),
  at: fc.nat(),
  value: fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom('*', '...', '', '{namespace}', 'jit:{nope}', -1, 0, 65536, 1e308, null, [], {}),
  ),
  key: fc.oneof(
    fc.constantFrom('allow', 'deny', 'extra', '__proto__', 'constructor'),
    fc.string({ maxLength: 8 }),
  ),
});

/** A seed policy document with 1 to 6 random edits. */
const editedPolicy = fc
  .tuple(fc.constantFrom(...SEEDS), fc.array(edit, { minLength: 1, maxLength: 6 }))
  .map(([seed, edits]) => edits.reduce((doc, e) => applyEdit(doc, e), structuredClone(seed)));

function loadOrRefuse(input: unknown): Policy | undefined {
  try {
    return loadPolicy(input);
  } catch (error) {
    if (error instanceof AirlockError && error.code === 'POLICY_INVALID') return undefined;
    throw error;
  }
}

const word = fc.oneof(
  fc.constantFrom('payments', 'api-0', 'worker-1', 'dev', 'prod-eu', 'ps', 'aux', 'sh', '-c', '..', '*', ''),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const intent: fc.Arbitrary<Intent> = fc.record({
  action: fc.constantFrom('list', 'get', 'logs', 'exec', 'shell', 'port-forward', 'debug'),
  cluster: word,
  namespace: word,
  pod: word,
  argv: fc.array(word, { maxLength: 6 }),
  port: fc.oneof(fc.integer({ min: -1, max: 70000 }), fc.constantFrom(8080, 'http', 'metrics')),
  image: fc.constantFrom('busybox:1.36', 'alpine', ''),
  resource: fc.constantFrom('pods', 'events', 'nodes', 'namespaces', 'secrets', 'deployments'),
  tty: fc.boolean(),
}) as fc.Arbitrary<Intent>;

function evaluate(policy: Policy, intents: readonly Intent[]): void {
  expect(Array.isArray(lintPolicy(policy))).toBe(true);
  for (const profile of Object.keys(policy.profiles)) {
    for (const i of intents) {
      const scope = {
        profile,
        cluster: i.cluster ?? 'dev',
        namespace: i.namespace ?? 'payments',
        podPatterns: ['api-*', '*'],
      };
      const result = authorizeIntent(policy, scope, i);
      if (result.allow) expect(typeof result.rule).toBe('string');
      else expect(DENY_CODES.has(result.code)).toBe(true);
    }
  }
}

describe('fuzz: policy loader and evaluator', () => {
  it('loadPolicy on edited documents: a Policy or POLICY_INVALID; accepted ones evaluate any intent', async () => {
    await fuzz(
      'loadPolicy(edited)+authorizeIntent',
      fc.property(editedPolicy, fc.array(intent, { maxLength: 5 }), (document, intents) => {
        const policy = loadOrRefuse(document);
        if (policy) evaluate(policy, intents);
      }),
    );
  });

  it('loadPolicy on mutated policy text: a Policy or POLICY_INVALID', async () => {
    await fuzz(
      'loadPolicy(text)',
      fc.property(
        mutatedBytes([Buffer.from(EXAMPLE_TEXT)]),
        fc.array(intent, { maxLength: 3 }),
        (bytes, intents) => {
          const policy = loadOrRefuse(bytes.toString('utf8'));
          if (policy) evaluate(policy, intents);
        },
      ),
    );
  });

  const pathWord = fc.oneof(
    word,
    fc.constantFrom('/proc/1/environ', '/proc/self/environ', '--', '-A', '-vET', '/etc/hostname'),
  );
  const respell = fc.constantFrom(
    (p: string) => p.replace('/proc/', '/proc//'),
    (p: string) => p.replace('/proc/', '/proc/./'),
    (p: string) => p.replace(/\/proc\/(\d+|self)\//, '/proc/$1/../$1/'),
    (p: string) => `/proc/self/root/${p.replace(/^\/+/, '')}`,
    (p: string) => `/proc/1/root/proc/self/root/${p.replace(/^\/+/, '')}`,
    (p: string) => p.replace(/\/proc\/(\d+|self)\//, '/proc/$1/task/$1/'),
    (p: string) => `${p}/`,
    (p: string) => `../${p.replace(/^\/+/, '')}`,
  );

  it('deny rules: more arguments or another spelling of a denied path never turn a deny into an allow', async () => {
    const policy = loadPolicy(
      readFileSync(join(repo, 'test', 'fixtures', 'policy', 'bypass-policy.json'), 'utf8'),
    );
    await fuzz(
      'authorizeArgv(deny readings)',
      fc.property(
        fc.array(pathWord, { maxLength: 5 }),
        fc.array(pathWord, { maxLength: 5 }),
        fc.array(respell, { maxLength: 3 }),
        (before, after, spellings) => {
          const denied = spellings.reduce((p, f) => f(p), '/proc/1/environ');
          const argv = Object.freeze(['cat', ...before, denied, ...after]);
          expect(authorizeArgv(policy, 'readers', argv)).toMatchObject({
            allow: false,
            code: 'COMMAND_DENIED',
          });
          expect(argv[before.length + 1]).toBe(denied);
        },
      ),
    );
  });
});
