/**
 * formatSessionsTable / formatWatchers: what `sessions` prints.
 */
import { describe, expect, it } from 'vitest';
import { formatSessionsTable, formatWatchers, type SessionRow } from './sessions-table.js';

const row = (over: Partial<SessionRow> = {}): SessionRow => ({
  id: '9f0c1d2e3a4b5c6d7e8f9a0b',
  owner: 'alice',
  profile: 'payments-prod',
  namespace: 'payments',
  mode: 'approve-each-command',
  watchers: [],
  ...over,
});

describe('formatWatchers', () => {
  it.each<[SessionRow['watchers'], string]>([
    [[], '-'],
    [[{ user: 'lea', role: 'moderator' }], 'lea (moderator)'],
    [
      [
        { user: 'obi', role: 'observer' },
        { user: 'lea', role: 'moderator' },
      ],
      'obi (observer), lea (moderator)',
    ],
  ])('%j', (watchers, text) => {
    expect(formatWatchers(watchers)).toBe(text);
  });
});

describe('formatSessionsTable', () => {
  it('prints the header alone when there is no session', () => {
    expect(formatSessionsTable([])).toBe('SESSION  OWNER  PROFILE  NAMESPACE  MODE  WATCHERS\r\n');
  });

  it('pads each column to its widest cell and lists who watches each session, with their role', () => {
    const table = formatSessionsTable([
      row({
        watchers: [
          { user: 'lea', role: 'moderator' },
          { user: 'obi', role: 'observer' },
        ],
      }),
      row({ id: 'b0b0', owner: 'bo', profile: 'shell', namespace: 'ops', mode: 'observe' }),
    ]);
    expect(table.split('\r\n')).toEqual([
      'SESSION                   OWNER  PROFILE        NAMESPACE  MODE                  WATCHERS',
      '9f0c1d2e3a4b5c6d7e8f9a0b  alice  payments-prod  payments   approve-each-command  lea (moderator), obi (observer)',
      'b0b0                      bo     shell          ops        observe               -',
      '',
    ]);
  });

  it('shows control characters in names as visible escapes', () => {
    const table = formatSessionsTable([
      row({ owner: 'ev\x1b[2Jil', watchers: [{ user: 'o\u202ebi', role: 'observer' }] }),
    ]);
    expect(table).toContain('ev\\x1b[2Jil');
    expect(table).toContain('o\\u202ebi (observer)');
    expect(table).not.toMatch(/[\x1b\u202e]/);
  });
});
