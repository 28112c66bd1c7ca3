import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { descendants, killTree, processes } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { converse, parseWalkthrough, type Ran, shell } from '../support/walkthrough.js';

const root = join(import.meta.dirname, '..', '..');
const airlock = join(root, 'bin', 'airlock.js');

describe('airlock dev up walkthrough', () => {
  it('every printed command works as printed: device-flow login with the demo approval, an auto-approved request, cert, ssh via the generated config, a lead approval, revoke, timeline, a runbook end to end (ServiceAccount token login, runbook request, one step over ssh), a lead-approved demo-shell over a pty (shell, prompt with tab completion) whose recording audit play replays; SIGTERM leaves nothing running; dev down refuses while up and then removes the state', async () => {
    const work = mkdtempSync(join(tmpdir(), 'airlock-walkthrough-'));
    const stateDir = join(work, 'state');
    // The printed commands keep every login in the state dir: the user's own config dir
    // (here XDG_CONFIG_HOME, checked empty at the end) is never written.
    // HOME stays: the cluster binaries are cached under it.
    const userConfig = join(work, 'user-config');
    const { AIRLOCK_CONFIG_DIR: _ignored, ...inherited } = process.env;
    const env = { ...inherited, XDG_CONFIG_HOME: userConfig };
    /** A printed line with the request id the previous command printed in place of ID. */
    const withId = (line: string, id: string) => line.replace(/(?<= )ID(?= |$)/, id);
    const child = spawn(process.execPath, [airlock, 'dev', 'up', '--state-dir', stateDir], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const run = async (line: string): Promise<Ran> => {
      const ran = await shell(line, { cwd: root, env }).done;
      if (ran.code !== 0) throw new Error(`${line}\nexit ${ran.code}\n${ran.stdout}\n${ran.stderr}`);
      return ran;
    };
    /** A printed `airlock login` plus the printed demo approval of the code it shows. */
    const login = async (loginLine: string, approveLine: string): Promise<string> => {
      let code: string | undefined;
      let loggedIn: Promise<Ran> | undefined;
      const gotCode = new Promise<string>((resolve) => {
        const started = shell(loginLine, {
          cwd: root,
          env,
          onStderr: (text) => {
            const found = /enter the code ([A-Z]{4}-[A-Z]{4})/.exec(text)?.[1];
            if (found && code === undefined) {
              code = found;
              resolve(found);
            }
          },
        });
        loggedIn = started.done;
      });
      await run(approveLine.replace(/CODE$/, await gotCode));
      const ran = await loggedIn!;
      expect(ran.code).toBe(0);
      return ran.stdout;
    };
    try {
      const ready = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      expect(ready).toMatch(
        /^ready ssh=\d+ broker=https:\/\/127\.0\.0\.1:\d+ issuer=https:\/\/127\.0\.0\.1:\d+ /,
      );
      const steps = parseWalkthrough(stderr);
      const step = (n: number): string[] => steps.get(n) ?? [];
      expect([...steps.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

      // dev down refuses while dev up runs.
      const refused = await shell(`node bin/airlock.js dev down --state-dir ${stateDir}`, { cwd: root, env })
        .done;
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('still running');
      expect(existsSync(stateDir)).toBe(true);

      // 1. login as oncall through the device flow, approved by the printed demo step.
      const [loginLine, approveOncall] = step(1);
      expect(await login(loginLine!, approveOncall!)).toMatch(
        /^logged in as oncall \(groups: payments-oncall\)/,
      );

      // 2. the INC- request is auto-approved.
      const certPath = join(stateDir, 'users', 'oncall', 'id_ed25519-cert.pub');
      rmSync(certPath); // the one dev up fetched for itself; step 3 must write it again
      const requested = await run(step(2)[0]!);
      const [id, status] = requested.stdout.split('\n')[0]!.split(/\s+/);
      expect(status).toBe('approved');
      expect(requested.stdout).toContain(
        'auto-approved (profiles.oncall-debug.approval.autoApprove[0](incident))',
      );

      // 3. the certificate is written next to the key the request was made with (no --key needed).
      expect(step(3)[0]).not.toContain('--key');
      const cert = await run(withId(step(3)[0]!, id!));
      expect(cert.stdout.trim()).toBe(certPath);
      expect(existsSync(certPath)).toBe(true);

      // 4. ssh through the generated config.
      const [podsLine, execLine] = step(4);
      const pods = await run(`${podsLine} -o json`);
      const names = (JSON.parse(pods.stdout) as { items: { metadata: { name: string } }[] }).items
        .map((p) => p.metadata.name)
        .sort();
      expect(names).toEqual(['payments-api-0', 'payments-worker-0']);
      const exec = await run(execLine!);
      expect(exec.stdout).toContain('PID');
      const whoami = await run(podsLine!.replace(/ pods$/, ' whoami'));
      expect(whoami.stdout).toContain(`request:    ${id}`);

      // One session's story across every source: the exec's session in the
      // executor's trail, then `timeline --session` over broker, mediator and
      // executor trails and the Kubernetes audit log, in order.
      const [, timelineLine] = step(6);
      const execIntent = readFileSync(join(stateDir, 'audit', 'executor.jsonl'), 'utf8')
        .split('\n')
        .filter((line) => line.includes('"event":"intent.allowed"') && line.includes('"action":"exec"'))
        .map((line) => JSON.parse(line) as { session_id: string; request_id: string })
        .find((event) => event.request_id === id);
      expect(execIntent).toBeDefined();
      const story = await run(
        timelineLine!
          .replace('--request ID', `--session ${execIntent!.session_id}`)
          .replace('--output html', '--output json')
          .replace('> timeline.html', ''),
      );
      const entries = JSON.parse(story.stdout) as { lane: string; event: string; summary: string }[];
      const at = (lane: string, match: (e: { event: string; summary: string }) => boolean) =>
        entries.findIndex((e) => e.lane === lane && match(e));
      const created = at('broker', (e) => e.event === 'request.created');
      const issued = at('broker', (e) => e.event === 'cert.issued');
      const opened = at('mediator', (e) => e.event === 'session.opened');
      const allowed = at('executor', (e) => e.event === 'intent.allowed');
      const kubeExec = at('kubernetes', (e) => e.summary.includes('pods/exec'));
      expect([created, issued, opened, allowed, kubeExec].every((i) => i >= 0)).toBe(true);
      expect(created).toBeLessThan(issued);
      expect(issued).toBeLessThan(opened);
      expect(opened).toBeLessThan(allowed);
      expect(allowed).toBeLessThan(kubeExec);

      // 5. no incident reference: pending until lead approves.
      const [request2, leadLogin, approveLead, pendingLine, approveLine, cert2Line] = step(5);
      const second = await run(request2!);
      const [id2, status2] = second.stdout.split('\n')[0]!.split(/\s+/);
      expect(status2).toBe('pending');
      expect(await login(leadLogin!, approveLead!)).toMatch(/^logged in as lead \(groups: payments-leads\)/);
      expect((await run(pendingLine!)).stdout).toContain(id2);
      const approved = await run(withId(approveLine!, id2!));
      expect(approved.stdout.split('\n')[0]).toBe(`${id2}  approved`);
      expect(approved.stdout).toContain('approved   by lead');
      await run(withId(cert2Line!, id2!));
      expect((await run(`${podsLine}`)).stdout).toContain('payments-api-0');

      // 6. revoke cuts the certificate; the timeline names the request.
      const [revokeLine] = step(6);
      await run(withId(revokeLine!, id2!));
      // Revocation reaches the tiers within its bound (docs/operations.md); poll for it.
      let cut = await shell(podsLine!, { cwd: root, env }).done;
      await waitFor(
        async () => {
          if (cut.code === 0) cut = await shell(podsLine!, { cwd: root, env }).done;
          return cut.code !== 0;
        },
        15_000,
        500,
      );
      expect(cut.code).not.toBe(0);
      const timeline = await run(
        timelineLine!.replace('--request ID', `--request ${id2}`).replace('> timeline.html', ''),
      );
      expect(timeline.stdout).toContain('<html');
      expect(timeline.stdout).toContain(id2);

      // 7. a runbook end to end: key, ServiceAccount token, login by TokenReview, runbook request, cert, one step.
      const [keygen, tokenLine, botLogin, botRequest, botCert, botRun] = step(7);
      await run(keygen!);
      await run(tokenLine!);
      expect((await run(botLogin!)).stdout).toMatch(
        /^logged in as system:serviceaccount:ops:incident-bot \(groups: runbook-runners\)/,
      );
      const runbook = await run(botRequest!);
      const [id3, status3] = runbook.stdout.split('\n')[0]!.split(/\s+/);
      expect(status3).toBe('approved');
      await run(withId(botCert!, id3!));
      const ran = await run(botRun!);
      expect(ran.stdout).toContain('PID');
      // A command that is not one of the runbook's steps is refused (EX_NOPERM).
      const other = await shell(botRun!.replace('-- ps aux', '-- ps'), { cwd: root, env }).done;
      expect(other.code).toBe(77);

      // 8. demo-shell: a lead approves, then a shell and the prompt over a pty, and the shell's recording replayed.
      const [shellRequest, shellApprove, shellCert, shellLine, promptLine, playLine] = step(8);
      const asked = await run(shellRequest!);
      const [id4, status4] = asked.stdout.split('\n')[0]!.split(/\s+/);
      expect(status4).toBe('pending');
      expect(asked.stdout).toContain('needs-approval (profiles.demo-shell.approval.manual)');
      await run(withId(shellApprove!, id4!));
      await run(withId(shellCert!, id4!));
      // `ssh -t` as printed, as -tt: the typed lines come from a pipe here, not from a terminal.
      const typed = (keys: string, line: string) => `printf '${keys}' | ${line.replace(' -t ', ' -tt ')}`;
      const shellRan = await run(typed('echo shell-$((6*7))\\necho done-$((1+1))\\nexit 0\\n', shellLine!));
      expect(shellRan.stdout).toContain('shell-42');
      // The prompt, typed key by key: Tab completes `who` to `whoami`, which names this request.
      const prompt = await converse(
        promptLine!.replace(' -t ', ' -tt '),
        [
          ['left)> ', 'who\t'],
          ['whoami', '\r'],
          [`request:    ${id4}`, 'exit\r'],
        ],
        { cwd: root, env },
      );
      expect(prompt.code).toBe(0);
      // Lines end in CR LF, as on a pty: the client's raw-mode terminal would otherwise staircase them.
      expect(prompt.stdout).toContain(`\r\nrequest:    ${id4}\r\n`);
      // The recording that audit play picks is the one the mediator's trail names for this request.
      const recorded = readFileSync(join(stateDir, 'audit', 'mediator.jsonl'), 'utf8')
        .split('\n')
        .filter((line) => line.includes('"event":"exec.exited"') && line.includes(id4!))
        .map((line) => (JSON.parse(line) as { details: { recording?: string } }).details.recording);
      expect(recorded).toHaveLength(1);
      expect(playLine).toContain('audit play');
      const played = await run(playLine!);
      expect(played.stdout).toContain('shell-42');
      expect(played.stdout).toContain('done-2');
      const newest = await run(playLine!.replace(/^npx airlock audit play "\$\((.*)\)".*$/, '$1'));
      expect(resolve(root, newest.stdout.trim())).toBe(recorded[0]);

      const started = descendants(child.pid!);
      expect(started.some((pid) => processes().get(pid)?.cmdline.includes('broker/main.js'))).toBe(true);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await sleep(300);
      const alive = processes();
      expect(started.filter((pid) => alive.has(pid)).map((pid) => alive.get(pid)?.cmdline)).toEqual([]);

      // Stopped: dev down removes the state.
      const down = await shell(`node bin/airlock.js dev down --state-dir ${stateDir}`, { cwd: root, env })
        .done;
      expect(down.code).toBe(0);
      expect(existsSync(stateDir)).toBe(false);
      // Nothing of the walkthrough outlives dev down in the user's own config dir.
      // (Go writes its telemetry counters there when dev up asks `go version`: not ours to check.)
      expect(existsSync(join(userConfig, 'airlock'))).toBe(false);
    } finally {
      killTree(child.pid);
      rmSync(work, { recursive: true, force: true });
    }
  }, 300_000);
});
