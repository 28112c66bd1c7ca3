/**
 * Composition root of the CSR approval webhook (`airlock-admission`): reads
 * its config, the policy and its serving key pair, derives the approval
 * rules, and serves them over HTTPS for the API server
 * (deploy/base/csr-approval-webhook.yaml; docs/kubectl.md).
 *
 * It is its own process, with its own ServiceAccount and no Kubernetes
 * credentials at all, because it guards against a compromised broker or
 * executor: living inside either, it would answer for the very process it
 * is meant to check.
 */
import { readFileSync } from 'node:fs';
import { assertPrivateKeyFile } from '../core/files/private-key-file.js';
import { createLogger } from '../core/observability/logging.js';
import { Metrics, startOpsServer } from '../core/observability/ops-server.js';
import { loadPolicy } from '../core/policy/index.js';
import { serviceMain } from '../core/service/service-main.js';
import { type AdmissionConfig, loadAdmissionConfig } from './config.js';
import { csrApprovalRules } from './csr-approval.js';
import { CSR_APPROVAL_PATH, createCsrApprovalHandler, listenWebhook } from './server.js';

/** A running webhook. */
export interface RunningAdmission {
  readonly url: string;
  readonly opsPort: number | undefined;
  stop(): Promise<void>;
}

/** Starts the webhook from a loaded config. */
export async function startAdmission(config: AdmissionConfig): Promise<RunningAdmission> {
  const logger = createLogger({ tier: 'admission', level: config.logLevel });
  const policy = loadPolicy(readFileSync(config.policyFile, 'utf8'));
  const rules = csrApprovalRules(policy, { clusters: [config.cluster], namespaces: config.namespaces });
  assertPrivateKeyFile(config.tls.keyFile, 'tls.keyFile');
  const tls = {
    cert: readFileSync(config.tls.certFile, 'utf8'),
    key: readFileSync(config.tls.keyFile, 'utf8'),
  };

  const metrics = new Metrics();
  const reviews = metrics.counter(
    'airlock_admission_csr_approval_reviews_total',
    'CSR approval reviews answered, by decision (allow, deny, invalid) and error code.',
    ['decision', 'code'],
  );
  const webhook = await listenWebhook(
    createCsrApprovalHandler({
      rules,
      logger,
      onReview: (outcome) => reviews.inc({ decision: outcome.decision, code: outcome.code ?? '' }),
    }),
    tls,
    config.listen,
  );
  const ops = config.ops
    ? await startOpsServer({ listen: config.ops.listen, metrics, checks: {} })
    : undefined;
  logger.info(
    {
      url: `${webhook.url}${CSR_APPROVAL_PATH}`,
      groups: [...rules.groups],
      max_expiration_seconds: rules.maxExpirationSeconds,
    },
    'csr approval webhook ready',
  );
  return {
    url: webhook.url,
    opsPort: ops?.port,
    stop: async () => {
      await webhook.stop();
      await ops?.close();
    },
  };
}

const HELP = `Usage: node dist/services/admission/main.js --config FILE

Runs the airlock CSR approval webhook: a validating admission webhook the
Kubernetes API server calls (failurePolicy: Fail) before the broker or the
executor may approve a CertificateSigningRequest. It allows only client
certificates for CN=<a person> (no ":"), O = groups the policy renders
(jit:...), with expirationSeconds at most the policy's longest TTL.
POST ${CSR_APPROVAL_PATH} takes an admission.k8s.io/v1 AdmissionReview.
See docs/kubectl.md and deploy/base/csr-approval-webhook.yaml.`;

if (import.meta.url === `file://${process.argv[1]}`) {
  await serviceMain('admission', HELP, async (configPath) => {
    const admission = await startAdmission(loadAdmissionConfig(configPath));
    const ops = admission.opsPort === undefined ? '' : ` ops=${admission.opsPort}`;
    return { readyLines: [`ready url=${admission.url}${ops}`], stop: () => admission.stop() };
  });
}
