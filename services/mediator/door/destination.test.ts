import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAirlockError } from '../../core/errors.js';
import { auditedDestination, checkDestination, DESTINATION_PORT } from './destination.js';
import { mediatorSelector } from './kube-mediator-resolver.js';

const requestId = fc.stringMatching(/^req-[0-9a-f]{1,20}$/);

describe('checkDestination', () => {
  it("lets through exactly the certificate's own request on port 22", () => {
    expect(() => checkDestination({ host: 'req-a1', port: DESTINATION_PORT }, 'req-a1')).not.toThrow();
  });

  it.each([
    ['another request', { host: 'req-b2', port: 22 }],
    ['another port', { host: 'req-a1', port: 2222 }],
    ['a cluster address', { host: '10.96.0.1', port: 22 }],
    ['a prefix of the id', { host: 'req-a', port: 22 }],
    ['the id with a trailing dot', { host: 'req-a1.', port: 22 }],
    ['the id upper-cased', { host: 'REQ-A1', port: 22 }],
  ])('refuses %s with DOOR_DESTINATION_REFUSED', (_name, requested) => {
    expect(() => checkDestination(requested, 'req-a1')).toThrow(
      expect.objectContaining({ code: 'DOOR_DESTINATION_REFUSED' }),
    );
  });

  it('refuses every destination other than (requestId, 22), whatever the client sends', () => {
    fc.assert(
      fc.property(
        requestId,
        fc.string({ maxLength: 300 }),
        fc.integer({ min: 0, max: 65535 }),
        (id, host, port) => {
          fc.pre(host !== id || port !== DESTINATION_PORT);
          try {
            checkDestination({ host, port }, id);
            return false;
          } catch (error) {
            return isAirlockError(error, 'DOOR_DESTINATION_REFUSED');
          }
        },
      ),
    );
  });

  it('keeps a bounded, unchanged prefix of the requested host for the audit record', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 1000 }), fc.integer({ min: 0, max: 65535 }), (host, port) => {
        const audited = auditedDestination({ host, port });
        expect(audited).toBe(`${host.slice(0, 255)}:${port}`);
      }),
    );
  });
});

describe('mediatorSelector', () => {
  it("selects the request's mediator Service by its two labels", () => {
    expect(mediatorSelector('req-a1')).toBe('airlock.dev/request-id=req-a1,airlock.dev/tier=mediator');
  });

  it('refuses, at once, an id that is not a label value: it cannot add selector terms', () => {
    for (const id of ['req-a,airlock.dev/tier!=mediator', 'a b', '-req', 'x'.repeat(64), '', 'req=1'])
      expect(() => mediatorSelector(id)).toThrow(
        expect.objectContaining({ code: 'DOOR_DESTINATION_REFUSED' }),
      );
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (id) => {
        try {
          const selector = mediatorSelector(id);
          // Accepted ids add exactly the two terms.
          return selector.split(',').length === 2 && !/[,=!\s()]/.test(id);
        } catch (error) {
          return isAirlockError(error, 'DOOR_DESTINATION_REFUSED');
        }
      }),
    );
  });
});
