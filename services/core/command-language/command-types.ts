/** The typed commands the parser produces (parse-command.ts re-exports them). */
import type { CommandName, ResourceKind } from './commands.js';

export type OutputFormat = 'text' | 'json';

/** A pod (and optionally a container) as named by the user, namespace filled in. */
export interface PodTarget {
  namespace: string;
  pod: string;
  /** Absent: the executor picks the pod's default container. */
  container?: string;
}

export type Command =
  | { kind: 'pods'; namespace: string; output: OutputFormat }
  | {
      kind: 'get';
      resource: ResourceKind;
      name?: string;
      /** Empty for cluster-scoped kinds (nodes, namespaces). */
      namespace: string;
      output: OutputFormat;
    }
  | { kind: 'describe'; target: PodTarget; output: OutputFormat }
  | { kind: 'events'; namespace: string; output: OutputFormat }
  | {
      kind: 'logs';
      target: PodTarget;
      follow: boolean;
      sinceSeconds?: number;
      tailLines?: number;
      timestamps: boolean;
      output: OutputFormat;
    }
  | { kind: 'exec'; target: PodTarget; argv: string[]; tty: boolean; output: OutputFormat }
  | { kind: 'shell'; target: PodTarget; output: OutputFormat }
  | {
      kind: 'debug';
      /** `container` is the --target container whose process namespace the debug container shares. */
      target: PodTarget;
      image: string;
      /** Empty: the image's default command. */
      argv: string[];
      tty: boolean;
      output: OutputFormat;
    }
  | { kind: 'forward'; output: OutputFormat }
  | { kind: 'whoami'; output: OutputFormat }
  | { kind: 'help'; topic?: CommandName; output: OutputFormat }
  | { kind: 'exit'; output: OutputFormat };

export interface ParseDefaults {
  /** The session's namespace, used when a pod or list names none. */
  namespace: string;
}
