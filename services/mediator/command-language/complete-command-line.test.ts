/**
 * completeCommandLine: command names, flags, flag values, kinds and pods.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { completeCommandLine, type PromptCompletion } from './complete-command-line.js';

const PODS = ['api-0', 'api-1', 'worker-0', 'payments/ledger-0'];
/** Every command name and alias, sorted: what an empty word completes to. */
const COMMAND_NAMES = [
  'debug',
  'describe',
  'events',
  'exec',
  'exit',
  'forward',
  'get',
  'help',
  'logs',
  'pods',
  'quit',
  'shell',
  'whoami',
];
const complete = (line: string, cursor = line.length) => completeCommandLine(line, cursor, PODS);

describe('completeCommandLine', () => {
  it.each<[string, string[]]>([
    ['', COMMAND_NAMES],
    ['d', ['debug', 'describe']],
    ['  e', ['events', 'exec', 'exit']],
    ['wh', ['whoami']],
    ['zz', []],
    ['-', ['--help', '--output', '-h', '-o']],
    ['-o ', ['json', 'text']],
    ['-o j', ['json']],
    ['-o json p', ['pods']],
    ['logs ', ['api-0', 'api-1', 'payments/ledger-0', 'worker-0']],
    ['logs a', ['api-0', 'api-1']],
    ['logs pay', ['payments/ledger-0']],
    ['logs payments/', ['payments/api-0', 'payments/api-1', 'payments/ledger-0', 'payments/worker-0']],
    ['logs payments/a', ['payments/api-0', 'payments/api-1']],
    ['logs api-0 ', []],
    ['logs api-0 --t', ['--tail', '--timestamps']],
    [
      'logs api-0 -',
      [
        '--container',
        '--follow',
        '--help',
        '--output',
        '--since',
        '--tail',
        '--timestamps',
        '-c',
        '-f',
        '-h',
        '-o',
      ],
    ],
    ['logs -c ', []],
    ['logs -c app ', ['api-0', 'api-1', 'payments/ledger-0', 'worker-0']],
    ['logs api-0 -o ', ['json', 'text']],
    ['exec w', ['worker-0']],
    ['exec api-0 --', ['--', '--container', '--help', '--output', '--stdin', '--tty']],
    ['exec api-0 -- ', []],
    ['exec api-0 -- l', []],
    ['debug api-0 --i', ['--image']],
    ['debug api-0 --image ', []],
    ['shell ', ['api-0', 'api-1', 'payments/ledger-0', 'worker-0']],
    ['describe w', ['worker-0']],
    ['get ', ['deployments', 'events', 'namespaces', 'nodes', 'pods', 'replicasets']],
    ['get r', ['replicasets']],
    ['get po', ['pods']],
    ['get dep', ['deployments']],
    ['get rs', ['rs']],
    ['get po a', ['api-0', 'api-1']],
    ['get pods a', ['api-0', 'api-1']],
    ['get deploy a', []],
    ['help ', COMMAND_NAMES],
    ['help l', ['logs']],
    ['help logs ', []],
    ['whoami ', []],
    ['bogus ', []],
    ["logs 'a", []],
    ['logs a | ', []],
  ])('%j', (line, candidates) => {
    expect(complete(line)).toEqual(candidates);
  });

  describe('four-eyes sessions at the prompt', () => {
    const IDS = ['9f0c1d2e', '9f11aa00', 'b0b0b0b0'];
    const moderator: PromptCompletion = { sessionIds: () => IDS };
    const joined = (as: 'moderator' | 'observer'): PromptCompletion => ({ ...moderator, joined: as });

    it.each<[string, PromptCompletion, string, string[]]>([
      ['a moderator certificate', moderator, 's', ['sessions', 'shell']],
      ['a moderator certificate', moderator, 'j', ['join']],
      ['a moderator certificate', moderator, 'join ', IDS],
      ['a moderator certificate', moderator, 'join 9f1', ['9f11aa00']],
      ['a moderator certificate', moderator, 'join 9f0c1d2e ', []],
      ['a moderator certificate', moderator, 'sessions ', []],
      ['a moderator certificate', moderator, '-o json j', []],
      ['no moderator certificate', {}, 's', ['shell']],
      ['no moderator certificate', {}, 'j', []],
      ['no moderator certificate', {}, 'join ', []],
      ['joined as moderator', joined('moderator'), '', ['leave', 'n', 'terminate', 'y']],
      ['joined as moderator', joined('moderator'), 't', ['terminate']],
      ['joined as moderator', joined('moderator'), 'l', ['leave']],
      ['joined as moderator', joined('moderator'), 'terminate ', []],
      ['joined as moderator', joined('moderator'), 'lo', []],
      ['joined as observer', joined('observer'), '', ['leave']],
      ['joined as observer', joined('observer'), 't', []],
    ])('with %s: %j', (_, prompt, line, candidates) => {
      expect(completeCommandLine(line, line.length, PODS, prompt)).toEqual(candidates);
    });
  });

  it('completes the word before the cursor, ignoring the rest of the line', () => {
    expect(complete('lo api-0', 2)).toEqual(['logs']);
    expect(complete('logs a --tail 10', 6)).toEqual(['api-0', 'api-1']);
  });

  it('clamps the cursor to the line', () => {
    expect(complete('wh', 99)).toEqual(['whoami']);
    expect(complete('wh', -3)).toHaveLength(13);
  });

  it('never throws, whatever the line and cursor', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.integer({ min: -5, max: 50 }),
        (line, cursor) => {
          expect(Array.isArray(completeCommandLine(line, cursor, PODS))).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
