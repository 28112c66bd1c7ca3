import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessGroup, SupervisedProcess } from '../child-processes.js';
import { runLogged } from '../host-commands.js';

/** Where Debian's containernetworking-plugins puts the CNI plugins. */
export const CNI_BIN_DIR = '/usr/lib/cni';
/** The sandbox image containerd runs for every pod, made locally (pause-image.ts). */
export const PAUSE_IMAGE = 'airlock.local/pause:1';

export interface PodNetwork {
  /** The bridge the CNI plugin attaches pods to; its address is the node's IP. */
  bridge: string;
  /** Pod subnet, e.g. 10.244.0.0/24 */
  subnet: string;
  /** The bridge's address: the pods' gateway and the node's InternalIP. */
  gateway: string;
}

export interface ContainerdPaths {
  root: string;
  state: string;
  socket: string;
  config: string;
  cniConfDir: string;
}

export function containerdPaths(dir: string): ContainerdPaths {
  return {
    root: join(dir, 'root'),
    state: join(dir, 'state'),
    socket: join(dir, 'containerd.sock'),
    config: join(dir, 'config.toml'),
    cniConfDir: join(dir, 'net.d'),
  };
}

/**
 * containerd's config for the real node (REAL-NODE.md): everything below
 * `dir`, the CRI plugin with `restrict_oom_score_adj` (root here lacks
 * CAP_SYS_RESOURCE), cgroupfs, overlayfs, network namespaces under the state
 * dir, the locally made pause image, the streaming server on loopback only.
 */
export function containerdConfig(paths: ContainerdPaths, dir: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = ${JSON.stringify(paths.root)}
state = ${JSON.stringify(paths.state)}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = ${JSON.stringify(paths.socket)}

[ttrpc]
  address = ${JSON.stringify(`${paths.socket}.ttrpc`)}

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = ${JSON.stringify(join(dir, 'opt'))}

[${cri}]
  sandbox_image = ${JSON.stringify(PAUSE_IMAGE)}
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  max_container_log_line_size = 16384

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
  discard_unpacked_layers = false

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = ${JSON.stringify(join(dir, 'runc'))}

[${cri}.cni]
  bin_dir = ${JSON.stringify(CNI_BIN_DIR)}
  conf_dir = ${JSON.stringify(paths.cniConfDir)}
  max_conf_num = 1
`;
}

/** The pod network: bridge (gateway, masquerade, hairpin) with host-local IPAM, and portmap for hostPort. */
export function cniConfList(network: PodNetwork, ipamDir: string): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'airlock-pods',
      plugins: [
        {
          type: 'bridge',
          bridge: network.bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: network.subnet, gateway: network.gateway }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: ipamDir,
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

/** Writes the configs and starts containerd under `group`; resolves once its socket exists. */
export function startContainerd(
  group: ProcessGroup,
  dir: string,
  network: PodNetwork,
  logPath: string,
): { process: SupervisedProcess; paths: ContainerdPaths } {
  const paths = containerdPaths(dir);
  for (const sub of [
    paths.root,
    paths.state,
    paths.cniConfDir,
    join(dir, 'ipam'),
    join(dir, 'opt'),
    join(dir, 'runc'),
  ]) {
    mkdirSync(sub, { recursive: true, mode: 0o700 });
  }
  writeFileSync(paths.config, containerdConfig(paths, dir));
  writeFileSync(join(paths.cniConfDir, '10-airlock-pods.conflist'), cniConfList(network, join(dir, 'ipam')));
  const process = group.start('containerd', 'containerd', ['--config', paths.config], logPath);
  return { process, paths };
}

export function socketReady(paths: ContainerdPaths): boolean {
  try {
    return statSync(paths.socket).isSocket();
  } catch {
    return false;
  }
}

/** Imports a `docker save` / OCI archive into containerd's k8s.io namespace (what the kubelet sees). */
export async function importImage(paths: ContainerdPaths, archive: string, logPath: string): Promise<void> {
  await runLogged(
    'ctr',
    ['--address', paths.socket, '--namespace', 'k8s.io', 'images', 'import', archive],
    logPath,
    'CLUSTER_START_FAILED',
  );
}
