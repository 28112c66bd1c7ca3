import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * Which implementation ssh2 runs its ciphers and MACs on: its native crypto
 * binding, or the slower JavaScript fallback it switches to, silently, when
 * the binding was not built for the Node that loads it (the images compile it
 * with scripts/native-addons.js; Dockerfile.mediator). The mediator logs it at
 * start (`ssh2Crypto` on the "mediator listening" line), so an operator and
 * test/pods/gateway.test.ts can see which one a pod runs.
 */
export type Ssh2Crypto = 'native' | 'javascript';

/** ssh2's crypto module as it reports the binding (`bindingAvailable`); a seam for tests. */
export interface Ssh2CryptoModule {
  readonly bindingAvailable?: unknown;
}

export function ssh2Crypto(
  module: Ssh2CryptoModule = require('ssh2/lib/protocol/crypto.js') as Ssh2CryptoModule,
): Ssh2Crypto {
  return module.bindingAvailable === true ? 'native' : 'javascript';
}
