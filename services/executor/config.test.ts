import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../core/errors.js';
import { loadExecutorConfig } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'executor-config-'));
const write = (name: string, value: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
};

const valid = {
  listen: '127.0.0.1:7443',
  cluster: 'prod',
  policyFile: 'policy.json',
  sshUserCaKeysFile: 'ssh-ca.pub',
  mediatorCaBundleFile: 'mediator-ca.pem',
  executorCa: { certFile: 'executor-ca.pem', keyFile: 'executor-ca.key' },
  serving: {},
  audit: { path: 'audit/executor.jsonl', signingKeyFile: 'audit.key' },
};

describe('executor configuration', () => {
  it('fills documented defaults and resolves paths relative to the file', () => {
    const config = loadExecutorConfig(write('ok.json', valid));
    expect(config.policyFile).toBe(join(dir, 'policy.json'));
    expect(config.audit.path).toBe(join(dir, 'audit/executor.jsonl'));
    expect(config.serving).toEqual({
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      lifetimeSeconds: 86_400,
    });
    expect(config.revocation).toEqual({ krlFiles: [], denyListFiles: [] });
    expect(config.drainSeconds).toBe(30);
    expect(config.kubeCredentials).toBe('impersonation');
    expect(config.loginRecordFile).toBe(join(dir, 'audit/used-logins.jsonl'));
    expect(config.limits).toEqual({ maxSessionsPerUser: 10 });
    const custom = loadExecutorConfig(
      write('record.json', {
        ...valid,
        loginRecordFile: 'state/logins.jsonl',
        limits: { maxSessionsPerUser: 3 },
      }),
    );
    expect(custom.loginRecordFile).toBe(join(dir, 'state/logins.jsonl'));
    expect(custom.limits.maxSessionsPerUser).toBe(3);
    expect(loadExecutorConfig(write('csr.json', { ...valid, kubeCredentials: 'csr' })).kubeCredentials).toBe(
      'csr',
    );
  });

  it('takes an audit.offPodAck block (timeout default 5000 ms) and refuses a non-HTTP endpoint', () => {
    const ack = loadExecutorConfig(
      write('ack.json', {
        ...valid,
        audit: { ...valid.audit, offPodAck: { endpoint: 'http://store:4318/v1/logs' } },
      }),
    );
    expect(ack.audit.offPodAck).toEqual({ endpoint: 'http://store:4318/v1/logs', timeoutMs: 5000 });
    expect(loadExecutorConfig(write('no-ack.json', valid)).audit.offPodAck).toBeUndefined();
    const bad = {
      ...valid,
      audit: { ...valid.audit, offPodAck: { endpoint: 'file:///tmp/x', timeoutMs: 10 } },
    };
    let error: unknown;
    try {
      loadExecutorConfig(write('bad-ack.json', bad));
    } catch (e) {
      error = e;
    }
    expect((error as AirlockError).code).toBe('CONFIG_INVALID');
    expect((error as AirlockError).detail?.split('\n').sort()).toEqual([
      'audit.offPodAck.endpoint: must match pattern "^https?://[^\\s]+$"',
      'audit.offPodAck.timeoutMs: must be >= 100',
    ]);
  });

  it('names every bad field by path', () => {
    const bad = {
      ...valid,
      listen: 'nowhere',
      serving: { lifetimeSeconds: 10 },
      executorCa: { certFile: 'x' },
      kubeCredentials: 'token',
      extra: 1,
    };
    let error: unknown;
    try {
      loadExecutorConfig(write('bad.json', bad));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AirlockError);
    expect((error as AirlockError).code).toBe('CONFIG_INVALID');
    const lines = (error as AirlockError).detail?.split('\n').sort();
    expect(lines).toEqual([
      '(root): unknown field extra',
      'executorCa: needs exactly one of: dir | certFile + keyFile',
      'kubeCredentials: must be equal to one of the allowed values',
      'listen: must match pattern "^.+:[0-9]{1,5}$"',
      'serving.lifetimeSeconds: must be >= 300',
    ]);
  });

  it('takes the executor CA as a keyring directory, resolved relative to the file', () => {
    const config = loadExecutorConfig(
      write('with-keyring.json', { ...valid, executorCa: { dir: 'executor-ca' } }),
    );
    expect(config.executorCa).toEqual({ dir: join(dir, 'executor-ca') });
    const both = { ...valid, executorCa: { dir: 'd', certFile: 'c', keyFile: 'k' } };
    expect(() => loadExecutorConfig(write('both.json', both))).toThrow(
      expect.objectContaining({ detail: 'executorCa: needs exactly one of: dir | certFile + keyFile' }),
    );
  });

  it('refuses a file that is not JSON with CONFIG_INVALID', () => {
    expect(() => loadExecutorConfig(write('broken.json', '{'))).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });
});
