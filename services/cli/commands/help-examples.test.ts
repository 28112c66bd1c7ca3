/**
 * What `--help` shows a new user: `dev --help` lists each subcommand on one
 * line and its descriptions wrap as paragraphs (no hard line breaks that
 * commander wraps again), and the `audit timeline` help example runs as
 * printed without a warning.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { repoRoot } from '../../core/repo/repo-root.js';
import { buildProgram, main } from '../main.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** `dir/*.ext` as a shell expands it (sorted), relative to the repository. */
function expandGlob(word: string): string[] {
  const star = word.lastIndexOf('/*');
  if (star === -1) return [word];
  const [dir, suffix] = [word.slice(0, star), word.slice(star + 2)];
  return readdirSync(join(repoRoot(), dir))
    .filter((name) => name.endsWith(suffix))
    .sort()
    .map((name) => join(repoRoot(), dir, name));
}

describe('airlock --help as a new user reads it', () => {
  it('dev --help lists every subcommand on one line, and each description is whole paragraphs', () => {
    const dev = buildProgram().commands.find((c) => c.name() === 'dev')!;
    const help = dev.helpInformation({ error: false });
    const listing = help.slice(help.indexOf('Commands:')).split('\n').slice(1).filter(Boolean);
    expect(listing.map((line) => line.trim().split(/\s+/)[0])).toEqual([
      'cluster',
      'up',
      'images',
      'down',
      'approve-login',
    ]);
    for (const sub of dev.commands) {
      expect(sub.description().replaceAll('\n\n', '')).not.toContain('\n');
    }
  });

  it('the audit timeline example runs as printed, without a warning', async () => {
    const audit = buildProgram().commands.find((c) => c.name() === 'audit')!;
    const timeline = audit.commands.find((c) => c.name() === 'timeline')!;
    let help = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      help += String(chunk);
      return true;
    });
    timeline.outputHelp();
    const example = help
      .split('\n')
      .find((line) => line.trim().startsWith('airlock audit timeline --session'))!
      .trim()
      .split(/\s+/);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const status = await main(['node', ...example.flatMap(expandGlob)]);
    expect(stderr).not.toHaveBeenCalled();
    expect(status).toBe(0);
  });
});
