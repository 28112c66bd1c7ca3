/**
 * helpText: every command has help with its usage line; forward explains ssh -L.
 */
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES, COMMAND_SPECS } from '../../core/command-language/commands.js';
import { AirlockError } from '../../core/errors.js';
import { helpText } from './help-text.js';

describe('helpText', () => {
  it('lists every command with its usage and the key examples', () => {
    const text = helpText();
    for (const name of COMMAND_NAMES) expect(text).toContain(`  ${COMMAND_SPECS[name].usage}`);
    expect(text).toContain('ssh gw exec payments/api-0 -- ps aux');
    expect(text).toContain('ssh -N -L 8080:api-0.payments:8080 gw');
    expect(text.endsWith('\n')).toBe(true);
  });

  it.each(COMMAND_NAMES)('%s has its own help', (name) => {
    expect(helpText(name).startsWith(`usage: ${COMMAND_SPECS[name].usage}\n`)).toBe(true);
  });

  it('resolves aliases', () => {
    expect(helpText('quit')).toBe(helpText('exit'));
  });

  it('explains that forwarding is ssh -L', () => {
    expect(helpText('forward')).toContain('  ssh -N -L 8080:api-0.payments:8080 gw\n');
  });

  it('refuses an unknown command with USAGE', () => {
    expect(() => helpText('nope')).toThrow(AirlockError);
    expect(() => helpText('nope')).toThrow("help: unknown command 'nope'\nusage: help [COMMAND]");
    expect(() => helpText('lgos')).toThrow("help: unknown command 'lgos'; did you mean 'logs'?\n");
  });

  it('keeps every line within 100 columns', () => {
    for (const topic of [undefined, ...COMMAND_NAMES]) {
      for (const line of helpText(topic).split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    }
  });
});
