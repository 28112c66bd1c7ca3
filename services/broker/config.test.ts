import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AirlockError } from '../core/errors.js';
import { formatOpenSshPrivateKey, generateCaKey, parseDenyList } from '../core/ssh-cert/index.js';
import {
  brokerConfigWarnings,
  checkBrokerConfig,
  loadBrokerConfig,
  usernameVerifiedClaim,
} from './config.js';
import { validBrokerConfigJson } from './config-test-support.js';
import { createFileDenyList } from './deny-list.js';
import { loadSshCaKey } from './main.js';
import { migrateStoreDocument } from './request-store.js';
import { effectiveStoreConfig } from './store/store-config.js';

let dir: string;
const tmp = () => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-broker-config-'));
  return dir;
};

afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const valid = () => validBrokerConfigJson({ 'okta-sre': ['sre'] });

describe('broker configuration', () => {
  it('resolves paths relative to the file and fills stated defaults', () => {
    const d = tmp();
    writeFileSync(join(d, 'broker.json'), JSON.stringify(valid()));
    const config = loadBrokerConfig(join(d, 'broker.json'));
    expect(config.sshCaKeyFile).toBe(join(d, 'ssh_user_ca'));
    expect(config.audit.path).toBe(join(d, 'audit.jsonl'));
    expect(config.tls.ipAddresses).toEqual(['127.0.0.1']);
    expect(config.expirySweepSeconds).toBe(30);
    expect(config.revocationKrlFile).toBeUndefined();
  });

  it('resolves the optional revocation KRL path relative to the file', () => {
    const d = tmp();
    writeFileSync(
      join(d, 'broker.json'),
      JSON.stringify({ ...valid(), revocationKrlFile: 'keys/revoked.krl' }),
    );
    expect(loadBrokerConfig(join(d, 'broker.json')).revocationKrlFile).toBe(join(d, 'keys/revoked.krl'));
  });

  it('names every bad field at once', () => {
    const d = tmp();
    // biome-ignore lint/suspicious/noExplicitAny: the test breaks the config on purpose
    const bad = valid() as Record<string, any>;
    bad.oidc.issuer = 'http://idp.example.com';
    delete bad.oidc.usernameClaim;
    bad.listen.port = 70000;
    bad.adminGroup = ['typo'];
    delete bad.sshCaKeyFile;
    writeFileSync(join(d, 'broker.json'), JSON.stringify(bad));
    let error: AirlockError | undefined;
    try {
      loadBrokerConfig(join(d, 'broker.json'));
    } catch (e) {
      error = e as AirlockError;
    }
    expect(error?.code).toBe('CONFIG_INVALID');
    const detail = error?.detail ?? '';
    expect(detail).toContain('oidc.issuer');
    expect(detail).toContain('oidc: missing field usernameClaim');
    expect(detail).toContain('listen.port');
    expect(detail).toContain('unknown field adminGroup');
    expect(detail).toContain('(root): needs exactly one of: sshCaDir | sshCaKeyFile');
  });

  it('requires a verified user name by default: email_verified for email, phone_number_verified for phone_number', () => {
    const d = tmp();
    const write = (oidc: Record<string, unknown>) => {
      writeFileSync(
        join(d, 'broker.json'),
        JSON.stringify({ ...valid(), oidc: { ...valid().oidc, ...oidc } }),
      );
      return loadBrokerConfig(join(d, 'broker.json'));
    };
    const byEmail = write({ usernameClaim: 'email' });
    expect(byEmail.oidc.requireVerifiedUsername).toBe(true);
    expect(usernameVerifiedClaim(byEmail.oidc)).toBe('email_verified');
    expect(usernameVerifiedClaim(write({ usernameClaim: 'phone_number' }).oidc)).toBe(
      'phone_number_verified',
    );
    expect(usernameVerifiedClaim(write({ usernameClaim: 'upn', usernameVerifiedClaim: 'upn_ok' }).oidc)).toBe(
      'upn_ok',
    );
    expect(
      usernameVerifiedClaim(write({ usernameClaim: 'email', requireVerifiedUsername: false }).oidc),
    ).toBe(undefined);
    // preferred_username has no standard verification claim: nothing to check, and a start-up warning says so.
    const byName = write({});
    expect(usernameVerifiedClaim(byName.oidc)).toBe(undefined);
    expect(brokerConfigWarnings(byName).join('\n')).toContain(
      'the user name claim preferred_username is used without a verification claim',
    );
  });

  it('refuses contradictory verification settings, by path', () => {
    const d = tmp();
    for (const [oidc, problem] of [
      [
        { usernameClaim: 'email', requireVerifiedUsername: false, usernameVerifiedClaim: 'email_verified' },
        'oidc.usernameVerifiedClaim: has no effect while requireVerifiedUsername is false',
      ],
      [
        { usernameClaim: 'email', usernameVerifiedClaim: 'email' },
        'oidc.usernameVerifiedClaim: must name another claim than usernameClaim',
      ],
      [{ requireVerifiedUsername: 'yes' }, 'oidc.requireVerifiedUsername'],
    ] as const) {
      writeFileSync(
        join(d, 'broker.json'),
        JSON.stringify({ ...valid(), oidc: { ...valid().oidc, ...oidc } }),
      );
      expect(() => loadBrokerConfig(join(d, 'broker.json'))).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', detail: expect.stringContaining(problem) }),
      );
    }
  });

  it('warns that passThroughGroups lets users who can create IdP groups choose airlock groups', () => {
    const d = tmp();
    writeFileSync(
      join(d, 'broker.json'),
      JSON.stringify({
        ...valid(),
        oidc: { ...valid().oidc, usernameClaim: 'email', passThroughGroups: true },
      }),
    );
    expect(brokerConfigWarnings(loadBrokerConfig(join(d, 'broker.json')))).toEqual([
      expect.stringMatching(/^oidc\.passThroughGroups is true: .*where users can create or name IdP groups/),
    ]);
  });

  it('takes an SSH user CA keyring directory instead of a key file, but not both', () => {
    const d = tmp();
    const { sshCaKeyFile: _, ...rest } = valid();
    writeFileSync(join(d, 'broker.json'), JSON.stringify({ ...rest, sshCaDir: 'ssh-ca' }));
    const config = loadBrokerConfig(join(d, 'broker.json'));
    expect(config.sshCaDir).toBe(join(d, 'ssh-ca'));
    expect(config.sshCaKeyFile).toBeUndefined();
    writeFileSync(join(d, 'both.json'), JSON.stringify({ ...valid(), sshCaDir: 'ssh-ca' }));
    expect(() => loadBrokerConfig(join(d, 'both.json'))).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        detail: '(root): needs exactly one of: sshCaDir | sshCaKeyFile',
      }),
    );
  });

  it('takes store (sqlite or postgres, paths resolved, defaults filled) or the legacy storeFile, not both or neither', () => {
    const d = tmp();
    const load = (config: object) => {
      writeFileSync(join(d, 'broker.json'), JSON.stringify(config));
      return loadBrokerConfig(join(d, 'broker.json'));
    };
    const { storeFile: _legacy, ...noStore } = valid();
    expect(load({ ...noStore, store: { sqlite: { path: 'requests.db' } } }).store).toEqual({
      sqlite: { path: join(d, 'requests.db') },
      retentionDays: 90,
    });
    expect(
      load({ ...noStore, store: { postgres: { urlFile: 'db/url', caFile: 'db/ca.crt' }, retentionDays: 7 } })
        .store,
    ).toEqual({
      postgres: {
        urlFile: join(d, 'db/url'),
        caFile: join(d, 'db/ca.crt'),
        tls: 'verify',
        poolSize: 10,
        connectTimeoutSeconds: 5,
      },
      retentionDays: 7,
    });
    expect(effectiveStoreConfig(load(valid()))).toEqual({
      sqlite: { path: join(d, 'requests.db') },
      importJsonFile: join(d, 'requests.json'),
      retentionDays: 90,
    });
    for (const bad of [
      noStore,
      { ...valid(), store: { sqlite: { path: 'x.db' } } },
      { ...noStore, store: { sqlite: { path: 'x.db' }, postgres: { url: 'postgres://h/db' } } },
      { ...noStore, store: { postgres: { url: 'mysql://h/db' } } },
      { ...noStore, store: { postgres: { url: 'postgres://h/db', urlFile: 'u' } } },
      { ...noStore, store: { postgres: { url: 'postgres://h/db', tls: 'prefer' } } },
    ]) {
      expect(() => load(bad), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    }
  });

  it('takes launcher mode ephemeral (kubeconfig resolved, sweepSeconds 30) and names what it lacks', () => {
    const d = tmp();
    const launcher = {
      mode: 'ephemeral',
      namespace: 'airlock-system',
      cluster: 'prod',
      images: { mediator: 'airlock-mediator:1', executor: 'airlock-executor:1' },
      kubeconfig: 'launcher.kubeconfig',
      hostCa: { keyFile: 'host-ca/ssh_host_ca' },
    };
    writeFileSync(join(d, 'broker.json'), JSON.stringify({ ...valid(), launcher }));
    const config = loadBrokerConfig(join(d, 'broker.json'));
    expect(config.launcher).toEqual({
      ...launcher,
      kubeconfig: join(d, 'launcher.kubeconfig'),
      hostCa: { keyFile: join(d, 'host-ca/ssh_host_ca') },
      sweepSeconds: 30,
    });
    expect(checkBrokerConfig(config)).toEqual([]);
    writeFileSync(join(d, 'broker.json'), JSON.stringify({ ...valid(), launcher: { mode: 'ephemeral' } }));
    let detail: string | undefined;
    try {
      loadBrokerConfig(join(d, 'broker.json'));
    } catch (error) {
      detail = (error as AirlockError).detail;
    }
    expect(detail).toBe(
      [
        'launcher.namespace: required in ephemeral mode',
        'launcher.cluster: required in ephemeral mode',
        'launcher.images: required in ephemeral mode',
        'launcher.hostCa: required in ephemeral mode',
      ].join('\n'),
    );
    writeFileSync(join(d, 'broker.json'), JSON.stringify({ ...valid(), launcher: { mode: 'pods' } }));
    expect(() => loadBrokerConfig(join(d, 'broker.json'))).toThrow(/invalid/);
  });

  it('refuses an SSH CA key readable by group or others', async () => {
    const d = tmp();
    const key = generateCaKey('ed25519');
    const path = join(d, 'ssh_user_ca');
    writeFileSync(path, formatOpenSshPrivateKey(key.privateKey, 'ca'), { mode: 0o640 });
    await expect(loadSshCaKey(path)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('mode 0640'),
    });
    writeFileSync(join(d, 'ok'), formatOpenSshPrivateKey(key.privateKey, 'ca'), { mode: 0o600 });
    expect((await loadSshCaKey(join(d, 'ok'))).publicKey.blob).toEqual(key.publicKey.blob);
  });
});

describe('JSON store documents and deny list', () => {
  it('migrateStoreDocument refuses what is not a store document', () => {
    for (const bad of [
      [],
      null,
      'x',
      { version: 0, requests: [] },
      { version: 1 },
      { schemaVersion: '2', requests: [] },
    ]) {
      expect(() => migrateStoreDocument(bad, 'p'), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    }
    expect(migrateStoreDocument({ version: 1, requests: [] }, 'p')).toEqual({
      doc: { schemaVersion: 2, requests: [] },
      from: 1,
    });
  });

  it('appends revocations to a deny list readers can parse, keeping what was there', async () => {
    const d = tmp();
    const path = join(d, 'deny.json');
    writeFileSync(path, JSON.stringify({ serials: [7], fingerprints: [] }));
    const list = createFileDenyList(path);
    await Promise.all([
      list.revoke({ serial: 18446744073709551615n, keyId: 'a@req-1' }),
      list.revoke({ keyId: 'b@req-2' }),
    ]);
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(doc).toEqual({
      serials: ['7', '18446744073709551615'],
      keyIds: ['a@req-1', 'b@req-2'],
      fingerprints: [],
    });
    expect(() => parseDenyList(readFileSync(path, 'utf8'))).not.toThrow();
  });
});
