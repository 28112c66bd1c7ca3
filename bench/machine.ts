/** What the numbers were measured on: recorded with every result. */
import { spawnSync } from 'node:child_process';
import { cpus, freemem, loadavg, release, totalmem, type } from 'node:os';

function firstLine(command: string, args: string[]): string {
  const run = spawnSync(command, args, { encoding: 'utf8' });
  return `${run.stdout ?? ''}${run.stderr ?? ''}`.split('\n')[0]?.trim() || 'unavailable';
}

export interface MachineInfo {
  cpu_model: string;
  cores: number;
  memory_mib: number;
  memory_free_mib_at_start: number;
  load_average_at_start: number[];
  kernel: string;
  node: string;
  go: string;
  openssh: string;
  kubectl: string;
}

export function machineInfo(kubectl?: string): MachineInfo {
  const cpu = cpus();
  return {
    cpu_model: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memory_mib: Math.round(totalmem() / 1024 / 1024),
    memory_free_mib_at_start: Math.round(freemem() / 1024 / 1024),
    load_average_at_start: loadavg().map((l) => Math.round(l * 100) / 100),
    kernel: `${type()} ${release()}`,
    node: process.version,
    go: firstLine('go', ['version']),
    openssh: firstLine('ssh', ['-V']),
    kubectl: kubectl ? firstLine(kubectl, ['version', '--client']) : 'unavailable',
  };
}
