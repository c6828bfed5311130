/**
 * A lab that stays up and runs many commands: the guest polls the ctl share
 * for cmd-N.sh and writes cmd-N.out/.err/.status beside it. The e2e tests boot
 * one per test file instead of one per command.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { bootLab, type Lab, type LabOptions } from './boot.js';

export interface CommandResult {
  status: number;
  stdout: string;
  stderr: string;
}

export class LabSession {
  private next = 0;
  private constructor(private readonly lab: Lab) {}

  static async start(o: Omit<LabOptions, 'mode' | 'command'>): Promise<LabSession> {
    const lab = await bootLab({ ...o, mode: 'session' });
    try {
      await lab.ready;
    } catch (e) {
      lab.kill();
      await lab.exited;
      lab.cleanup();
      throw e;
    }
    return new LabSession(lab);
  }

  /** Runs a shell command in the guest (from the session's cwd) and waits for it. */
  async exec(command: string, timeoutMs = 300_000): Promise<CommandResult> {
    const n = this.next++;
    const file = (ext: string): string => join(this.lab.ctlDir, `cmd-${n}.${ext}`);
    writeFileSync(file('tmp'), `${command}\n`);
    renameSync(file('tmp'), file('sh')); // the guest must never see half a script
    const deadline = Date.now() + timeoutMs;
    let gone = false;
    void this.lab.exited.then(() => {
      gone = true;
    });
    while (!existsSync(file('status'))) {
      if (gone) {
        // how QEMU ended says what the console cannot when the guest died without a word (s20d's serve-lab)
        const console = this.lab.consoleTail().replace(/^/gm, '    ');
        throw new UserError('LAB_GONE', `the lab guest stopped while running: ${command}\n  ${this.lab.emulatorEnd()}\n  guest console (last lines):\n${console}`, 'see ~/.cache/exitscope/lab/last-console.log and last-qemu.log');
      }
      if (Date.now() > deadline) throw new UserError('LAB_TIMEOUT', `no result after ${timeoutMs} ms for: ${command}`, 'raise the timeout');
      await new Promise((r) => setTimeout(r, 50));
    }
    return {
      status: Number.parseInt(readFileSync(file('status'), 'utf8').trim(), 10),
      stdout: readFileSync(file('out'), 'utf8'),
      stderr: readFileSync(file('err'), 'utf8'),
    };
  }

  /** Powers the guest off (or kills it after a grace period). */
  async stop(): Promise<void> {
    writeFileSync(join(this.lab.ctlDir, 'quit'), '');
    const timer = setTimeout(() => this.lab.kill(), 20_000);
    await this.lab.exited;
    clearTimeout(timer);
    this.lab.cleanup();
  }
}
