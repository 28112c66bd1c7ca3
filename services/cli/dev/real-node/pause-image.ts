import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runQuiet } from '../host-commands.js';
import { PAUSE_IMAGE } from './containerd.js';

/**
 * Writes a `docker save` archive of the sandbox image: one layer holding the
 * static `pause` binary built with the cluster (test/cluster/cmd/pause), its
 * entrypoint, nothing else. No registry is needed to run pods.
 */
export function writePauseImage(pauseBinary: string, workDir: string): string {
  const dir = join(workDir, 'pause-image');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'rootfs'), { recursive: true });
  copyFileSync(pauseBinary, join(dir, 'rootfs', 'pause'));
  runQuiet('chmod', ['0755', join(dir, 'rootfs', 'pause')]);
  runQuiet('tar', [
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-C',
    join(dir, 'rootfs'),
    '-cf',
    join(dir, 'layer.tar'),
    'pause',
  ]);
  const diffId = `sha256:${createHash('sha256')
    .update(readFileSync(join(dir, 'layer.tar')))
    .digest('hex')}`;
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Entrypoint: ['/pause'], User: '65535:65535' },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created_by: 'airlock hermetic cluster: pause' }],
  });
  const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
  writeFileSync(join(dir, configName), config);
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify([{ Config: configName, RepoTags: [PAUSE_IMAGE], Layers: ['layer.tar'] }]),
  );
  const archive = join(workDir, 'pause-image.tar');
  runQuiet('tar', ['-C', dir, '-cf', archive, 'manifest.json', configName, 'layer.tar']);
  rmSync(dir, { recursive: true, force: true });
  return archive;
}
