/**
 * Text output of pods, events and whoami, with a fixed `now`.
 */
import { describe, expect, it } from 'vitest';
import {
  type EventJson,
  formatAge,
  formatEventTable,
  formatPodTable,
  formatTimeLeft,
  formatWhoami,
  type PodJson,
  whoamiOf,
} from './format-output.js';

const NOW = Date.parse('2026-11-27T12:00:00Z');
const ago = (seconds: number) => new Date(NOW - seconds * 1000).toISOString();

describe('formatAge (kubectl HumanDuration)', () => {
  it.each<[number, string]>([
    [-5, '<invalid>'],
    [-1, '0s'],
    [0, '0s'],
    [5, '5s'],
    [119, '119s'],
    [120, '2m'],
    [185, '3m5s'],
    [600, '10m'],
    [179 * 60, '179m'],
    [3 * 3600, '3h'],
    [2 * 3600 + 5 * 60, '125m'],
    [5 * 3600 + 30 * 60, '5h30m'],
    [20 * 3600, '20h'],
    [4 * 86400, '4d'],
    [4 * 86400 + 3 * 3600, '4d3h'],
    [30 * 86400, '30d'],
    [2 * 365 * 86400 + 10 * 86400, '2y10d'],
    [9 * 365 * 86400, '9y'],
  ])('%ds → %s', (seconds, text) => {
    expect(formatAge(seconds * 1000)).toBe(text);
  });
});

function pod(
  name: string,
  overrides: Partial<PodJson> & { statuses?: NonNullable<PodJson['status']> },
): PodJson {
  return {
    metadata: { name, creationTimestamp: ago(300), ...overrides.metadata },
    spec: overrides.spec ?? { containers: [{}] },
    status: overrides.statuses ?? {
      phase: 'Running',
      containerStatuses: [{ name: 'app', ready: true, restartCount: 0, state: { running: {} } }],
    },
  };
}

describe('formatPodTable', () => {
  it('prints kubectl columns, statuses and ages', () => {
    const items: PodJson[] = [
      pod('api-0', {}),
      pod('api-1', {
        spec: { containers: [{}, {}] },
        statuses: {
          phase: 'Running',
          containerStatuses: [
            {
              ready: false,
              restartCount: 4,
              state: { waiting: { reason: 'CrashLoopBackOff' } },
              lastState: { terminated: { exitCode: 1, finishedAt: ago(90) } },
            },
            { ready: true, restartCount: 1, state: { running: {} } },
          ],
        },
      }),
      pod('job-x', {
        metadata: { creationTimestamp: ago(3 * 86400) },
        statuses: {
          phase: 'Succeeded',
          containerStatuses: [{ ready: false, state: { terminated: { reason: 'Completed', exitCode: 0 } } }],
        },
      }),
      pod('init-1', {
        spec: { containers: [{}], initContainers: [{}, {}] },
        statuses: {
          phase: 'Pending',
          initContainerStatuses: [{ state: { terminated: { exitCode: 0 } } }, { state: { running: {} } }],
          containerStatuses: [{ state: { waiting: { reason: 'PodInitializing' } } }],
        },
      }),
      pod('init-2', {
        spec: { containers: [{}], initContainers: [{}] },
        statuses: {
          phase: 'Pending',
          initContainerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff' } } }],
        },
      }),
      pod('oom', {
        statuses: {
          phase: 'Running',
          containerStatuses: [{ state: { terminated: { exitCode: 137, signal: 9 } } }],
        },
      }),
      pod('leaving', { metadata: { deletionTimestamp: ago(1) } }),
      pod('pending', { statuses: { phase: 'Pending' } }),
      pod('evicted', { statuses: { phase: 'Failed', reason: 'Evicted' } }),
    ];
    const lines = formatPodTable({ items }, NOW).split('\n');
    expect(lines).toEqual([
      'NAME      READY   STATUS                  RESTARTS      AGE',
      'api-0     1/1     Running                 0             5m',
      'api-1     1/2     CrashLoopBackOff        5 (90s ago)   5m',
      'job-x     0/1     Completed               0             3d',
      'init-1    0/1     Init:1/2                0             5m',
      'init-2    0/1     Init:ImagePullBackOff   0             5m',
      'oom       0/1     Signal:9                0             5m',
      'leaving   1/1     Terminating             0             5m',
      'pending   0/1     Pending                 0             5m',
      'evicted   0/1     Evicted                 0             5m',
      '',
    ]);
  });

  it('says so when there are no pods', () => {
    expect(formatPodTable({ items: [] }, NOW)).toBe('No pods found.\n');
    expect(formatPodTable({}, NOW)).toBe('No pods found.\n');
  });

  it('sanitizes names and reasons from the cluster', () => {
    const out = formatPodTable(
      { items: [pod('x\x1b[2J', { statuses: { phase: 'Running', reason: 'Bad\x07' } })] },
      NOW,
    );
    expect(out).toContain('x\\x1b[2J');
    expect(out).toContain('Bad\\x07');
    expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  });

  it('renders a pod without metadata or status', () => {
    expect(formatPodTable({ items: [{}] }, NOW)).toBe(
      'NAME        READY   STATUS    RESTARTS   AGE\n<unknown>   0/0     Unknown   0          <unknown>\n',
    );
  });
});

describe('formatEventTable', () => {
  it('prints events oldest first with kubectl columns', () => {
    const items: EventJson[] = [
      {
        type: 'Warning',
        reason: 'BackOff',
        message: 'Back-off restarting failed container',
        involvedObject: { kind: 'Pod', name: 'api-1' },
        lastTimestamp: ago(30),
      },
      {
        type: 'Normal',
        reason: 'Scheduled',
        message: 'Successfully assigned payments/api-1 to node-1',
        involvedObject: { kind: 'Pod', name: 'api-1' },
        lastTimestamp: null,
        eventTime: ago(600),
      },
      {
        type: 'Normal',
        reason: 'ScalingReplicaSet',
        message: 'Scaled up replica set api-7d4 to 2',
        involvedObject: { kind: 'Deployment', name: 'api' },
        series: { lastObservedTime: ago(120) },
        lastTimestamp: ago(900),
      },
    ];
    expect(formatEventTable({ items }, NOW).split('\n')).toEqual([
      'LAST SEEN   TYPE      REASON              OBJECT           MESSAGE',
      '10m         Normal    Scheduled           pod/api-1        Successfully assigned payments/api-1 to node-1',
      '2m          Normal    ScalingReplicaSet   deployment/api   Scaled up replica set api-7d4 to 2',
      '30s         Warning   BackOff             pod/api-1        Back-off restarting failed container',
      '',
    ]);
  });

  it('escapes control characters and newlines in messages', () => {
    const out = formatEventTable(
      { items: [{ type: 'Normal', reason: 'X', message: 'a\nb\x1b]0;t\x07', lastTimestamp: ago(1) }] },
      NOW,
    );
    expect(out.split('\n')[1]).toBe('1s          Normal   X        /        a\\x0ab\\x1b]0;t\\x07');
  });

  it('says so when there are no events', () => {
    expect(formatEventTable({ items: [] }, NOW)).toBe('No events found.\n');
  });
});

describe('formatTimeLeft', () => {
  it.each<[number, string]>([
    [-1, 'expired'],
    [0, 'expired'],
    [0.5, 'expired'],
    [45, '45s'],
    [750, '12m30s'],
    [3840, '1h4m'],
    [51 * 3600, '2d3h'],
  ])('%ds → %s', (seconds, text) => {
    expect(formatTimeLeft(NOW + seconds * 1000, NOW)).toBe(text);
  });
});

describe('formatWhoami', () => {
  it('prints the session', () => {
    expect(
      formatWhoami(
        {
          user: 'alice@example.com',
          groups: ['sre', 'oncall'],
          profile: 'oncall-debug',
          cluster: 'prod-eu-1',
          namespace: 'payments',
          pod_patterns: ['api-*', 'worker-*'],
          expires_at_ms: NOW + 3840_000,
          session_id: 's-123',
          request_id: 'req-9',
        },
        NOW,
      ),
    ).toBe(
      [
        'user:       alice@example.com',
        'groups:     sre, oncall',
        'profile:    oncall-debug',
        'cluster:    prod-eu-1',
        'namespace:  payments',
        'pods:       api-*, worker-*',
        'session:    s-123',
        'request:    req-9',
        'expires:    2026-11-27T13:04:00.000Z (1h4m left)',
        '',
      ].join('\n'),
    );
  });

  it('shows the runbook and the container patterns of the scope when it has them (findings 1 and 8)', () => {
    const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
    const session = {
      session_id: 's-1',
      user: 'system:serviceaccount:ops:runner',
      groups: [],
      profile: 'runbooks',
      cluster: 'c',
      namespace: 'n',
      pod_patterns: ['api-*'],
      expires_at_ms: NOW + 60_000,
      request_id: 'req-1',
    };
    const base = {
      id: 's-1',
      requestId: 'req-1',
      user: 'system:serviceaccount:ops:runner',
      groups: [],
      expiresAtMs: NOW + 60_000,
    };
    const who = whoamiOf({
      ...base,
      scope: {
        profile: 'runbooks',
        cluster: 'c',
        namespace: 'n',
        podPatterns: ['api-*'],
        runbook: { name: 'payments-health', stepsDigest: digest },
        containerPatterns: ['app'],
      },
    });
    expect(who).toEqual({
      ...session,
      runbook: { name: 'payments-health', steps_digest: digest },
      container_patterns: ['app'],
    });
    // The wire's field names in the wire's order: `whoami -o json` prints what it printed before.
    expect(Object.keys(who)).toEqual([...Object.keys(session), 'runbook', 'container_patterns']);
    const out = formatWhoami(who, NOW);
    expect(out).toContain('containers:  app\n');
    expect(out).toContain('runbook:     payments-health (only its steps; sha256:0123456789ab…)\n');
    expect(
      whoamiOf({
        ...base,
        scope: { profile: 'runbooks', cluster: 'c', namespace: 'n', podPatterns: ['api-*'] },
      }),
    ).toEqual(session);
  });

  it('shows empty lists and expiry, and sanitizes certificate strings', () => {
    const out = formatWhoami(
      {
        user: 'mallory\x1b[8m',
        groups: [],
        profile: 'p',
        cluster: 'c',
        namespace: 'n',
        pod_patterns: [],
        expires_at_ms: NOW - 1000,
      },
      NOW,
    );
    expect(out).toBe(
      [
        'user:       mallory\\x1b[8m',
        'groups:     <none>',
        'profile:    p',
        'cluster:    c',
        'namespace:  n',
        'pods:       <none>',
        'expires:    2026-11-27T11:59:59.000Z (expired)',
        '',
      ].join('\n'),
    );
  });
});
