/** Shape checks of request bodies; the policy checks the values. */
import { AirlockError } from '../../core/errors.js';
import type { CreateRequestInput, KubeCertificateInput } from './types.js';

export function usage(message: string): never {
  throw new AirlockError('USAGE', message);
}

/** Checks the shape of a create body; the policy checks the values. */
export function validateInput(input: unknown): CreateRequestInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    usage('the body must be a JSON object');
  const body = input as Record<string, unknown>;
  const allowed = [
    'profile',
    'cluster',
    'namespace',
    'podPatterns',
    'reason',
    'ttlSeconds',
    'sshPublicKey',
    'runbook',
    'containerPatterns',
    'role',
  ];
  for (const key of Object.keys(body))
    if (!allowed.includes(key)) usage(`unknown field ${JSON.stringify(key)}`);
  for (const key of ['profile', 'cluster', 'namespace', 'reason', 'sshPublicKey']) {
    if (typeof body[key] !== 'string') usage(`${key} must be a string`);
  }
  if (!Array.isArray(body.podPatterns) || body.podPatterns.some((p) => typeof p !== 'string')) {
    usage('podPatterns must be an array of strings');
  }
  if (typeof body.ttlSeconds !== 'number' || !Number.isSafeInteger(body.ttlSeconds) || body.ttlSeconds <= 0) {
    usage('ttlSeconds must be a positive integer');
  }
  if (body.runbook !== undefined && typeof body.runbook !== 'string') usage('runbook must be a string');
  if (body.role !== undefined && body.role !== 'moderator' && body.role !== 'observer')
    usage('role must be "moderator" or "observer" when given');
  if (
    body.containerPatterns !== undefined &&
    (!Array.isArray(body.containerPatterns) || body.containerPatterns.some((p) => typeof p !== 'string'))
  ) {
    usage('containerPatterns must be an array of strings');
  }
  return body as unknown as CreateRequestInput;
}

/** Checks the shape of a kube-certificate body. */
export function validateKubeCertificateInput(input: unknown): KubeCertificateInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    usage('the body must be a JSON object');
  const body = input as Record<string, unknown>;
  for (const key of Object.keys(body))
    if (!['csr', 'ttlSeconds', 'cluster'].includes(key)) usage(`unknown field ${JSON.stringify(key)}`);
  if (typeof body.csr !== 'string' || body.csr.length > 16_384) usage('csr must be a PEM string');
  if (typeof body.ttlSeconds !== 'number' || !Number.isSafeInteger(body.ttlSeconds) || body.ttlSeconds <= 0) {
    usage('ttlSeconds must be a positive integer');
  }
  if (body.cluster !== undefined && typeof body.cluster !== 'string') usage('cluster must be a string');
  return body as unknown as KubeCertificateInput;
}
