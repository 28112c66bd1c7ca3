/**
 * Policy builders for tests (shipped as real code, like OpenTelemetry's
 * in-memory exporters): a small valid policy that each test copies and
 * adjusts, so a test states only the fields it is about.
 */

import type { Policy, RequestedScope } from './types.js';
import { loadPolicy } from './validate.js';

/**
 * The `debug` profile: scoped clusters, namespaces and pods, exec with
 * command rules, a runbook, auto-approve rules and manual approval.
 */
function debugProfileJson(): Record<string, unknown> {
  return {
    groups: ['jit:debug:{cluster}:{namespace}'],
    requesterGroups: ['devs', 'oncall', 'bots'],
    maxTtlSeconds: 3600,
    scope: {
      clusters: ['dev', 'prod-*'],
      namespaces: ['payments', 'shop-*'],
      pods: ['api-*', 'worker-?'],
    },
    actions: {
      list: { resources: ['pods', 'events'] },
      get: { resources: ['pods'] },
      logs: {},
      exec: {},
      'port-forward': { ports: [8080, 'metrics'] },
      debug: { images: ['busybox:1.36'] },
    },
    commands: {
      matchBasename: false,
      allow: [
        { id: 'ps', argv: ['ps', 'aux'] },
        { id: 'ls', argv: ['ls', '...'] },
        { id: 'cat-status', argv: ['cat', '/proc/*/status'] },
        { argv: ['/usr/bin/df', '-h'] },
        { id: 'env-literal', argv: ['env'] },
      ],
      deny: [{ id: 'no-ls-root', argv: ['ls', '/root', '...'] }],
    },
    runbooks: ['snapshot'],
    approval: {
      autoApprove: [
        {
          id: 'incident',
          requesterGroups: ['oncall'],
          maxTtlSeconds: 1800,
          reasonPattern: '^INC-[0-9]+',
        },
        { id: 'runbook', requesterGroups: ['oncall', 'bots'], runbookOnly: true },
      ],
      manual: { approverGroups: ['leads'], count: 2, pendingExpirySeconds: 3600 },
    },
  };
}

/** The `shell` profile: interactive shells anywhere, basename matching, manual approval. */
function shellProfileJson(): Record<string, unknown> {
  return {
    groups: ['jit:shell:{namespace}'],
    requesterGroups: ['sre'],
    scope: { clusters: ['*'], namespaces: ['*'], pods: ['*'] },
    actions: { shell: { argv: [['/bin/sh'], ['/bin/bash', '-l']] }, exec: {} },
    commands: {
      matchBasename: true,
      allow: [{ argv: ['ps', 'aux'] }, { argv: ['top', '...'] }],
      deny: [{ argv: ['/usr/bin/top', '...'] }],
    },
    approval: { manual: { approverGroups: ['sre-leads'], count: 1, pendingExpirySeconds: 600 } },
  };
}

/** The `readonly` profile: list only, auto-approved for devs in Berlin business hours. */
function readonlyProfileJson(): Record<string, unknown> {
  return {
    groups: ['jit:read'],
    requesterGroups: ['devs'],
    maxTtlSeconds: 600,
    scope: { clusters: ['dev'], namespaces: ['*'], pods: ['*'] },
    actions: { list: { resources: ['pods', 'nodes', 'namespaces'] } },
    approval: {
      autoApprove: [
        {
          requesterGroups: ['devs'],
          businessHours: {
            timeZone: 'Europe/Berlin',
            days: ['mon', 'tue', 'wed', 'thu', 'fri'],
            start: '09:00',
            end: '17:00',
          },
        },
      ],
    },
  };
}

/** A fresh, mutable, valid policy object (JSON shape). */
export function testPolicyJson(): Record<string, unknown> & {
  profiles: Record<string, Record<string, unknown>>;
} {
  return {
    version: 1,
    limits: { maxTtlSeconds: 28800 },
    profiles: {
      debug: debugProfileJson(),
      shell: shellProfileJson(),
      readonly: readonlyProfileJson(),
    },
    runbooks: {
      snapshot: {
        steps: [
          ['ps', 'aux'],
          ['ls', '-la', '/app'],
        ],
        machineUsers: ['system:serviceaccount:ops:bot'],
      },
    },
  };
}

/** `testPolicyJson()` after an optional edit, loaded and frozen. */
export function testPolicy(edit?: (json: ReturnType<typeof testPolicyJson>) => void): Policy {
  const json = testPolicyJson();
  edit?.(json);
  return loadPolicy(json);
}

/** A request for the moderator or observer role of the test policy's `shell` profile. */
export function roleRequest(role: 'moderator' | 'observer'): RequestedScope {
  return {
    profile: 'shell',
    cluster: 'prod-eu',
    namespace: 'payments',
    podPatterns: ['*'],
    ttlSeconds: 600,
    reason: 'watch INC-1',
    role,
  };
}
