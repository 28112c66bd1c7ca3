import { DEMO_NAMESPACE } from '../services/cli/dev/dev-stack.js';
import { type BenchStack, type BenchUser, EXEC_POD } from './bench-stack.js';

export const MIB = 1024 * 1024;

/** The two ways of running the same thing: through the gateway and straight with kubectl. */
export class Clients {
  /** The gateway's own processes, whose CPU time the throughput benchmarks record. */
  readonly tierPids: Record<string, number>;

  constructor(private readonly stack: BenchStack) {
    this.tierPids = { mediator: stack.mediatorPid, executor: stack.executorPid };
  }

  /** ssh arguments for USER against the bench mediator, or the mediator listening on `port`. */
  sshBase(user: BenchUser, extra: readonly string[] = [], port = this.stack.sshPort): string[] {
    return [
      '-F',
      '/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${this.stack.knownHostsPath}`,
      '-o',
      'IdentitiesOnly=yes',
      '-i',
      user.keyPath,
      '-p',
      String(port),
      ...extra,
      `${user.name}@127.0.0.1`,
    ];
  }

  gatewayExec(user: BenchUser, argv: readonly string[], port?: number): [string, string[]] {
    return ['ssh', [...this.sshBase(user, [], port), 'exec', EXEC_POD, '--', ...argv]];
  }

  kubectlExec(argv: readonly string[], stdin = false): [string, string[]] {
    return [
      this.stack.kubectl,
      [
        '--kubeconfig',
        this.stack.adminKubeconfig,
        'exec',
        ...(stdin ? ['-i'] : []),
        '-n',
        DEMO_NAMESPACE,
        EXEC_POD,
        '--',
        ...argv,
      ],
    ];
  }
}
