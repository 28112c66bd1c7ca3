/**
 * The one place that loads `@peculiar/x509` at run time and points it at
 * Node's WebCrypto. Every other module of this folder imports the library
 * through here (type-only imports excepted), so the Reflect metadata
 * polyfill is always evaluated first and the crypto provider is always set.
 * (`@peculiar/x509` 2.x registers its algorithms in a tsyringe container, and
 * tsyringe throws on load without `Reflect.getMetadata`.)
 *
 * The project compiles without the DOM lib, so the WebCrypto types come from
 * `node:crypto` and are re-exported here under their DOM names.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

/** Node's WebCrypto. */
export const crypto = webcrypto;

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
export type Algorithm = webcrypto.Algorithm;
export type EcKeyGenParams = webcrypto.EcKeyGenParams;
export type EcKeyAlgorithm = webcrypto.EcKeyAlgorithm;
export type EcdsaParams = webcrypto.EcdsaParams;

export { x509 };
