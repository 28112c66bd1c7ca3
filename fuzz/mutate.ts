/**
 * A byte-level mutator for fuzzing parsers of length-prefixed formats (SSH
 * wire encoding, KRLs, protobuf): starting from real, valid inputs, apply a
 * few of the mutations that find bugs in such parsers — bit flips, random
 * bytes, insertions, deletions, truncation, duplicated ranges, and 32-bit
 * big-endian lengths replaced by boundary values.
 */
import fc from 'fast-check';

const BOUNDARY_LENGTHS = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

type Mutation = (bytes: Buffer) => Buffer;

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([at, bit]) => (b: Buffer) => {
    if (b.length === 0) return b;
    const out = Buffer.from(b);
    out[at % b.length]! ^= 1 << bit;
    return out;
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, value]) => (b: Buffer) => {
    if (b.length === 0) return b;
    const out = Buffer.from(b);
    out[at % b.length] = value;
    return out;
  }),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([at, extra]) => (b: Buffer) => {
    const i = at % (b.length + 1);
    return Buffer.concat([b.subarray(0, i), extra, b.subarray(i)]);
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 64 })).map(([at, n]) => (b: Buffer) => {
    const i = at % (b.length + 1);
    return Buffer.concat([b.subarray(0, i), b.subarray(i + n)]);
  }),
  fc.nat().map((at) => (b: Buffer) => b.subarray(0, at % (b.length + 1))),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 64 }), fc.nat()).map(([from, n, to]) => (b: Buffer) => {
    if (b.length === 0) return b;
    const i = from % b.length;
    const j = to % (b.length + 1);
    return Buffer.concat([b.subarray(0, j), b.subarray(i, i + n), b.subarray(j)]);
  }),
  fc.tuple(fc.nat(), fc.constantFrom(...BOUNDARY_LENGTHS)).map(([at, value]) => (b: Buffer) => {
    if (b.length < 4) return b;
    const out = Buffer.from(b);
    out.writeUInt32BE(value >>> 0, at % (b.length - 3));
    return out;
  }),
);

/** One of `seeds` with 1 to 8 mutations applied, or (1 in 10) plain random bytes. */
export function mutatedBytes(seeds: readonly Uint8Array[]): fc.Arbitrary<Buffer> {
  return fc.oneof(
    {
      weight: 9,
      arbitrary: fc
        .tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 8 }))
        .map(([seed, mutations]) => mutations.reduce<Buffer>((b, m) => m(b), Buffer.from(seed))),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)) },
  );
}
