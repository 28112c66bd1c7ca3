import { describe, expect, it } from 'vitest';
import type { Scope } from '../core/policy/index.js';
import { moderationDenial } from './moderation-check.js';

const scope = (mode: 'observe' | 'approve-each-command', min = 1): Scope => ({
  profile: 'shell',
  cluster: 'dev',
  namespace: 'payments',
  podPatterns: ['*'],
  moderation: { requiredGroups: ['leads'], min, mode },
});

describe('moderationDenial (executor)', () => {
  it('lets an unmoderated scope through without any claim', () => {
    const { moderation: _, ...plain } = scope('observe');
    expect(moderationDenial(plain, 'alice', { moderators: [] })).toBeUndefined();
  });

  it('refuses a moderated intent without enough moderators other than the owner', () => {
    expect(moderationDenial(scope('observe'), 'alice', { moderators: [] })?.code).toBe(
      'MODERATION_UNAPPROVED',
    );
    expect(moderationDenial(scope('observe'), 'alice', { moderators: ['Alice'] })?.code).toBe(
      'MODERATION_UNAPPROVED',
    );
    expect(moderationDenial(scope('observe', 2), 'alice', { moderators: ['lea', 'LEA'] })?.code).toBe(
      'MODERATION_UNAPPROVED',
    );
    expect(moderationDenial(scope('observe'), 'alice', { moderators: ['lea'] })).toBeUndefined();
  });

  it('approve-each-command: needs an approval by one of the moderators, never the owner', () => {
    const s = scope('approve-each-command');
    expect(moderationDenial(s, 'alice', { moderators: ['lea'] })?.code).toBe('MODERATION_UNAPPROVED');
    expect(moderationDenial(s, 'alice', { moderators: ['lea'], approvedBy: 'alice' })?.code).toBe(
      'MODERATION_UNAPPROVED',
    );
    expect(moderationDenial(s, 'alice', { moderators: ['lea'], approvedBy: 'bob' })?.code).toBe(
      'MODERATION_UNAPPROVED',
    );
    expect(moderationDenial(s, 'alice', { moderators: ['lea'], approvedBy: 'lea' })).toBeUndefined();
  });
});
