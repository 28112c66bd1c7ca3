import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NAMESPACE, DEV_CLUSTER } from '../dev/dev-stack.js';
import { startPodsStack } from '../dev/pods/pods-stack.js';

/**
 * `airlock dev up --pods`: the gateway as real pods (deploy/overlays/dev on
 * the hermetic cluster's real node) until SIGINT or SIGTERM. Writes the same
 * `dev-up.json` record as `dev up`, so `dev approve-login` works.
 */
export async function runPodsUp(stateDir: string): Promise<void> {
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const stack = await startPodsStack(stateDir, progress);
  const record = {
    pid: process.pid,
    pids: [...stack.cluster.pids],
    brokerUrl: stack.brokerUrl,
    brokerCa: stack.brokerCaPath,
    issuer: stack.oidc.issuer,
    sshPort: stack.sshPort,
  };
  writeFileSync(join(stateDir, 'dev-up.json'), `${JSON.stringify(record, null, 2)}\n`);
  const kubectl = `${stack.cluster.binaries.kubectl} --kubeconfig ${stack.cluster.kubeconfigPath}`;
  const sshF = `ssh -F ${stack.sshConfigPath}`;
  const key = `${stack.users.oncall!.keyPath}.pub`;
  process.stderr.write(
    [
      '',
      `airlock runs as pods (deploy/overlays/dev): broker ${stack.brokerUrl}, ssh 127.0.0.1:${stack.sshPort}`,
      `(loopback relays to the airlock-broker and airlock-mediator Services), identity provider ${stack.oidc.issuer}.`,
      'Walkthrough, in another terminal in this directory:',
      '',
      ` 1. npx airlock login --broker ${stack.brokerUrl} --ca ${stack.brokerCaPath}`,
      `    npx airlock dev approve-login --state-dir ${stateDir} --user oncall CODE`,
      ` 2. npx airlock request --profile oncall-debug --cluster ${DEV_CLUSTER} --namespace ${DEMO_NAMESPACE} --pod 'payments-*' --ttl 30m --reason 'INC-1234 checkout errors' --key ${key}`,
      ` 3. npx airlock cert ID --key ${key}`,
      ` 4. ${sshF} airlock pods`,
      `    ${sshF} airlock exec payments/payments-api-0 -- ls -la /app`,
      `    ${sshF} airlock logs -f payments-worker-0`,
      `    ${sshF} -N -L 8080:payments-api-0:8080 airlock      # then: curl localhost:8080`,
      ` 5. The pods: ${kubectl} get pods -n airlock-system -o wide`,
      `    Their audit trails are in the pods (/var/lib/airlock/audit); the broker's volume is ${join(stateDir, 'broker-volume')}.`,
      '',
    ].join('\n'),
  );
  process.stdout.write(
    `ready ssh=${stack.sshPort} broker=${stack.brokerUrl} kubeconfig=${stack.cluster.kubeconfigPath}\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  process.stderr.write(`${signal}: stopping\n`);
  await stack.stop();
  rmSync(join(stateDir, 'dev-up.json'), { force: true });
}
