/**
 * `airlock dev` and its subcommands, each in its own file: `cluster` (the
 * hermetic cluster alone), `up` (the whole gateway), `images`, `down` and
 * `approve-login`.
 */
import type { Command } from 'commander';
import { AirlockError } from '../../core/errors.js';
import { registerDevApproveLoginCommand } from './dev-approve-login.js';
import { registerDevClusterCommand } from './dev-cluster-command.js';
import { registerDevDownCommand } from './dev-down.js';
import { registerDevImagesCommand } from './dev-images.js';
import { registerDevUpCommand } from './dev-up.js';

/** Registers `airlock dev` and its subcommands, in the order `airlock dev --help` lists them. */
export function registerDevCommands(program: Command): void {
  const dev = program
    .command('dev')
    .description('Run airlock locally: the hermetic cluster, or the whole gateway (dev up)');
  registerDevClusterCommand(dev);
  registerDevUpCommand(dev);
  registerDevImagesCommand(dev);
  registerDevDownCommand(dev);
  registerDevApproveLoginCommand(dev);
  dev.action(() => {
    throw new AirlockError(
      'USAGE',
      'choose a subcommand: airlock dev cluster | up | down | approve-login | images (see --help)',
    );
  });
}
