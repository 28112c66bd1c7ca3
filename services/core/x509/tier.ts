/**
 * The three airlock tiers, each with its own CA, and how a tier is read back
 * from a CA certificate's subject (`CN=airlock <tier> CA <date>, O=airlock`).
 */

/** A tier that runs its own CA. */
export type AirlockTier = 'broker' | 'mediator' | 'executor';

/** Every tier, in request order. */
export const AIRLOCK_TIERS: readonly AirlockTier[] = ['broker', 'mediator', 'executor'];

/** Organization of every tier CA subject. */
export const TIER_CA_ORGANIZATION = 'airlock';

const TIER_CA_COMMON_NAME = /^airlock (broker|mediator|executor) CA(?: |$)/;

/** Default CA common name: `airlock <tier> CA <YYYY-MM-DD>` (UTC date of `now`). */
export function defaultTierCaCommonName(tier: AirlockTier, now: Date): string {
  return `airlock ${tier} CA ${now.toISOString().slice(0, 10)}`;
}

/** The tier named by a CA common name, or undefined when it is not an airlock tier CA name. */
export function tierFromCaCommonName(commonName: string | undefined): AirlockTier | undefined {
  const match = commonName === undefined ? null : TIER_CA_COMMON_NAME.exec(commonName);
  return match?.[1] as AirlockTier | undefined;
}

/** Whether `value` names a tier. */
export function isAirlockTier(value: unknown): value is AirlockTier {
  return typeof value === 'string' && (AIRLOCK_TIERS as readonly string[]).includes(value);
}
