import { describe, expect, it } from 'vitest';
import { filterListToScope, REDACTED, redactEnv } from './object-scope.js';

const pod = (name: string, extra: Record<string, unknown> = {}) => ({ metadata: { name }, ...extra });
const filter = { profilePods: ['api-*', 'db-*'], sessionPods: ['api-*'] };

describe('filterListToScope (finding 8)', () => {
  it('keeps the pods both the profile and the session allow', () => {
    const list = { kind: 'PodList', items: [pod('api-0'), pod('db-0'), pod('web-0'), pod('api-1')] };
    expect(filterListToScope('pods', list, filter)).toEqual({
      kind: 'PodList',
      items: [pod('api-0'), pod('api-1')],
    });
  });

  it('drops pod items without a name, and events about pods outside the scope', () => {
    expect(filterListToScope('pods', { items: [{}, null, { metadata: {} }] }, filter)).toEqual({ items: [] });
    const events = {
      items: [
        { involvedObject: { kind: 'Pod', name: 'api-0' } },
        { involvedObject: { kind: 'Pod', name: 'db-0' } },
        { involvedObject: { kind: 'Deployment', name: 'api' } },
        {},
      ],
    };
    expect(filterListToScope('events', events, filter)).toEqual({
      items: [events.items[0], events.items[2], events.items[3]],
    });
  });

  it('leaves other kinds and non-lists alone', () => {
    const list = { items: [{ metadata: { name: 'x' } }] };
    expect(filterListToScope('deployments', list, filter)).toBe(list);
    expect(filterListToScope('pods', 'text', filter)).toBe('text');
  });
});

describe('redactEnv (finding 8)', () => {
  const container = () => ({
    name: 'main',
    env: [
      { name: 'DB_PASSWORD', value: 'hunter2' },
      { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
    ],
    envFrom: [{ secretRef: { name: 'db-creds' }, prefix: 'DB_' }, { configMapRef: { name: 'settings' } }],
  });
  const redacted = {
    name: 'main',
    env: [
      { name: 'DB_PASSWORD', value: REDACTED },
      { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
    ],
    envFrom: [{ secretRef: { name: REDACTED }, prefix: REDACTED }, { configMapRef: { name: REDACTED } }],
  };

  it('redacts env values and envFrom of every container kind of a pod, and the last-applied annotation', () => {
    const value = pod('api-0', {
      metadata: {
        name: 'api-0',
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"env":"hunter2"}', team: 'pay' },
      },
      spec: { containers: [container()], initContainers: [container()], ephemeralContainers: [container()] },
    });
    expect(redactEnv(value)).toEqual({
      metadata: {
        name: 'api-0',
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': REDACTED, team: 'pay' },
      },
      spec: { containers: [redacted], initContainers: [redacted], ephemeralContainers: [redacted] },
    });
    expect(JSON.stringify(value)).not.toContain('hunter2');
  });

  it('redacts the pod template of every item of a list (deployments, replicasets)', () => {
    const list = { items: [{ spec: { template: { spec: { containers: [container()] } } } }] };
    expect(redactEnv(list)).toEqual({
      items: [{ spec: { template: { spec: { containers: [redacted] } } } }],
    });
  });

  it('tolerates any shape', () => {
    for (const odd of [null, 1, 'x', [], { spec: 1 }, { spec: { containers: [null, { env: [1, null] }] } }])
      expect(() => redactEnv(odd)).not.toThrow();
  });
});
