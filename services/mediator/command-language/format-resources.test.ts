/**
 * `get KIND` tables and `describe POD`: readable lines, as kubectl prints
 * them, with every cluster string on one sanitised terminal line.
 */
import { describe, expect, it } from 'vitest';
import { formatPodDescription, formatResourceTable } from './format-resources.js';

const NOW = Date.parse('2026-11-27T09:00:00Z');
const CREATED = '2026-11-27T08:00:00Z';

describe('formatResourceTable', () => {
  it('lists deployments as kubectl get deploy does', () => {
    const list = {
      items: [
        {
          metadata: { name: 'payments-api', creationTimestamp: CREATED },
          spec: { replicas: 3 },
          status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
        },
        { metadata: { name: 'idle' }, spec: {}, status: {} },
      ],
    };
    expect(formatResourceTable('deployments', list, NOW)).toBe(
      [
        'NAME           READY   UP-TO-DATE   AVAILABLE   AGE',
        'payments-api   2/3     3            2           60m',
        'idle           0/0     0            0           <unknown>',
        '',
      ].join('\n'),
    );
  });

  it('lists replicasets, nodes and namespaces', () => {
    expect(
      formatResourceTable(
        'replicasets',
        {
          items: [
            {
              metadata: { name: 'api-7d', creationTimestamp: CREATED },
              spec: { replicas: 2 },
              status: { replicas: 2, readyReplicas: 1 },
            },
          ],
        },
        NOW,
      ),
    ).toBe('NAME     DESIRED   CURRENT   READY   AGE\napi-7d   2         2         1       60m\n');
    expect(
      formatResourceTable(
        'nodes',
        {
          items: [
            {
              metadata: {
                name: 'node-1',
                creationTimestamp: CREATED,
                labels: { 'node-role.kubernetes.io/worker': '' },
              },
              spec: { unschedulable: true },
              status: {
                conditions: [{ type: 'Ready', status: 'True' }],
                nodeInfo: { kubeletVersion: 'v1.34.0' },
              },
            },
          ],
        },
        NOW,
      ),
    ).toBe(
      'NAME     STATUS                     ROLES    AGE   VERSION\nnode-1   Ready,SchedulingDisabled   worker   60m   v1.34.0\n',
    );
    expect(
      formatResourceTable(
        'namespaces',
        {
          items: [
            { metadata: { name: 'payments', creationTimestamp: CREATED }, status: { phase: 'Active' } },
          ],
        },
        NOW,
      ),
    ).toBe('NAME       STATUS   AGE\npayments   Active   60m\n');
    expect(formatResourceTable('deployments', { items: [] }, NOW)).toBe('No deployments found.\n');
  });

  it('prints pods and events with the pods and events tables', () => {
    expect(formatResourceTable('pods', { items: [] }, NOW)).toBe('No pods found.\n');
    expect(formatResourceTable('events', { items: [] }, NOW)).toBe('No events found.\n');
  });

  it('keeps a hostile name on its line', () => {
    const out = formatResourceTable('namespaces', { items: [{ metadata: { name: 'a\n\x1b[2Jb' } }] }, NOW);
    expect(out.split('\n')).toHaveLength(3);
    expect(out).toContain('a\\x0a\\x1b[2Jb');
  });
});

describe('formatPodDescription', () => {
  const pod = {
    metadata: {
      name: 'payments-api-0',
      namespace: 'payments',
      labels: { app: 'payments-api', tier: 'web' },
      ownerReferences: [{ kind: 'StatefulSet', name: 'payments-api' }],
    },
    spec: {
      serviceAccountName: 'default',
      nodeName: 'node-1',
      containers: [
        {
          name: 'main',
          image: 'busybox:1.37',
          command: ['sh', '-c', 'echo hi\nexec httpd'],
          ports: [{ containerPort: 8080, name: 'http' }],
        },
      ],
    },
    status: {
      phase: 'Running',
      hostIP: '10.0.0.1',
      podIP: '10.1.0.5',
      startTime: CREATED,
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: 'True' },
      ],
      containerStatuses: [
        {
          name: 'main',
          ready: true,
          restartCount: 1,
          state: { running: { startedAt: CREATED } },
          lastState: { terminated: { reason: 'Error', exitCode: 2, finishedAt: CREATED } },
        },
      ],
    },
  };

  it('lays the pod out as kubectl describe pod does', () => {
    expect(formatPodDescription(pod, NOW)).toBe(
      [
        'Name:             payments-api-0',
        'Namespace:        payments',
        'Service Account:  default',
        'Node:             node-1/10.0.0.1',
        'Start Time:       2026-11-27T08:00:00.000Z (60m ago)',
        'Labels:           app=payments-api',
        '                  tier=web',
        'Annotations:      <none>',
        'Status:           Running',
        'IP:               10.1.0.5',
        'Controlled By:    StatefulSet/payments-api',
        'Containers:',
        '  main:',
        '    Image:          busybox:1.37',
        '    Command:',
        '      sh',
        '      -c',
        '      echo hi\\x0aexec httpd',
        '    Ports:          8080/TCP (http)',
        '    State:          Running',
        '      Started:      2026-11-27T08:00:00.000Z (60m ago)',
        '    Last State:     Terminated',
        '      Reason:       Error',
        '      Exit Code:    2',
        '      Finished:     2026-11-27T08:00:00.000Z (60m ago)',
        '    Ready:          True',
        '    Restart Count:  1',
        '    Environment:    <none>',
        'Conditions:',
        '  Type          Status',
        '  Initialized   True',
        '  Ready         True',
        "Events:           see 'events' for the namespace's events",
        '',
      ].join('\n'),
    );
  });

  it('lists each environment variable with its value or source, as kubectl describe does', () => {
    const text = formatPodDescription(
      {
        metadata: { name: 'api-0' },
        spec: {
          containers: [
            {
              name: 'main',
              env: [
                { name: 'DB_PASSWORD', value: '<redacted>' },
                { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
                { name: 'ESC', value: 'a\u001b[31mb' },
              ],
              envFrom: [{ configMapRef: { name: 'settings' } }],
            },
          ],
        },
      },
      0,
    );
    expect(text).toContain(
      [
        '    Environment:',
        '      DB_PASSWORD:  <redacted>',
        '      TOKEN:        <set from secretKeyRef>',
        '      ESC:          a\\x1b[31mb',
        '    Environment Variables from:',
        '      settings  configMap',
      ].join('\n'),
    );
  });

  it('describes an empty or odd object without failing', () => {
    const out = formatPodDescription(
      { metadata: { name: 'x\x1b]0;owned\x07' }, spec: { containers: 'no' } },
      NOW,
    );
    expect(out).toContain('Name:             x\\x1b]0;owned\\x07');
    expect(out).toContain('Status:           Unknown');
    expect(formatPodDescription(null, NOW)).toContain('Name:             <none>');
  });
});
