/**
 * When a foreground dev command (`dev up`, `dev cluster`) must stop: on
 * SIGINT, SIGTERM or SIGHUP, and when whatever started it goes away.
 *
 * `npm start` and `npx airlock …` run airlock under wrappers (npm, `sh -c`).
 * A supervisor's SIGTERM reaches only the wrapper it started; npm exits and
 * airlock, reparented, would keep etcd, kube-apiserver and the tiers running
 * with nothing left to stop them. Ctrl-C works only because the terminal
 * signals the whole process group. So the command also watches its parent
 * and, through wrappers, whoever started it (recorded at start): when any of
 * them has exited (its pid gone, or reused by a process with another start
 * time), it stops as on SIGTERM. To keep a dev stack running after its
 * starter exits, run it under a supervisor rather than `nohup`.
 * Children that outlive airlock itself (SIGKILL) are covered separately by
 * their parent-death signal (child-processes.ts).
 */
import { readFileSync } from 'node:fs';

/** A process as /proc/PID/stat names it: its parent and its start time (clock ticks since boot). */
function statOf(pid: number): { ppid: number; startTime: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name `(…)`, which may itself hold spaces: state is field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined; // exited, waiting to be reaped
    return { ppid: Number(fields[1]), startTime: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

/** argv of a process, or [] when it cannot be read. */
function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** npm, npx, or a `sh -c` line: a wrapper that only runs airlock for someone else. */
function isWrapper(argv: readonly string[]): boolean {
  const name = (argv[0] ?? '').split('/').pop() ?? '';
  if (['sh', 'bash', 'dash'].includes(name)) return argv[1] === '-c';
  // npm retitles itself (`npm exec airlock …`, `npm start`), which rewrites its argv.
  if (/^(npm|npx)( |$)/.test(name) || /^(npm|npx)( |$)/.test(argv[0] ?? '')) return true;
  return name === 'node' && /\/(npm|npx)(-cli\.js)?$|\/bin\/(npm|npx)-cli\.js$/.test(argv[1] ?? '');
}

/**
 * The processes whose exit means "stop": the parent, and while that is a
 * wrapper (npm, npx, `sh -c`) its parent too, up to the first that is not
 * one — whoever ran `npm start` or `npx airlock`. Nearest first, with start
 * times, so a reused pid is not mistaken for the original.
 */
function watchedAncestors(): { pid: number; startTime: string }[] {
  const chain: { pid: number; startTime: string }[] = [];
  let pid = process.ppid;
  while (pid > 1 && chain.length < 16) {
    const stat = statOf(pid);
    if (!stat) break;
    chain.push({ pid, startTime: stat.startTime });
    if (!isWrapper(argvOf(pid))) break;
    pid = stat.ppid;
  }
  return chain;
}

/**
 * Resolves with what asked to stop: `SIGINT`, `SIGTERM`, `SIGHUP`, or
 * `parent exited` once an ancestor recorded now has gone (checked every
 * `pollMs`). Without /proc it watches only for this process being
 * reparented.
 */
export function waitForStopRequest(pollMs = 500): Promise<string> {
  const watched = watchedAncestors();
  const firstParent = process.ppid;
  return new Promise((resolve) => {
    const done = (why: string) => {
      clearInterval(timer);
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
        process.removeListener(signal, handlers[signal]);
      resolve(why);
    };
    const handlers = {
      SIGINT: () => done('SIGINT'),
      SIGTERM: () => done('SIGTERM'),
      SIGHUP: () => done('SIGHUP'),
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, handlers[signal]);
    const timer = setInterval(() => {
      const gone =
        watched.length > 0
          ? watched.some(({ pid, startTime }) => statOf(pid)?.startTime !== startTime)
          : firstParent !== 1 && process.ppid !== firstParent;
      if (gone) done('parent exited');
    }, pollMs);
  });
}
