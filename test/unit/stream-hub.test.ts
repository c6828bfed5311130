/**
 * The catch-up a late client gets (src/server/hub.ts): on a CI farm a server sees thousands of
 * short-lived VMs; the hub keeps the newest gone ones by name and folds the rest into one entry,
 * every total exact, its keys following the live VMs and not the server's age.
 */
import { describe, expect, it } from 'vitest';
import { Aggregate, FOLDED_PID } from '../../src/model/aggregate.js';
import type { Message, SnapshotMessage } from '../../src/protocol/messages.js';
import { StreamHub } from '../../src/server/hub.js';

const hello: Message = { type: 'hello', version: 1, t: 0, intervalMs: 1000 } as unknown as Message;
let seq = 0;
function snapshotOf(pid: number, n: number): SnapshotMessage {
  return {
    type: 'snapshot',
    seq: seq++,
    t: seq,
    ms: 1000,
    exits: [{ pid, tid: pid + 1, isa: 1, reason: 0x7b, n }],
    exitNs: [{ pid, isa: 1, reason: 0x7b, b: [[1024, n]] }],
    faults: [{ pid, code: 4, n: 1 }],
    regions: [{ pid, region: 7, n: 1 }],
    handlers: [{ pid, h: 0, n: 1, b: [[2048, 1]] }],
  };
}
const vm = (pid: number, event: 'appeared' | 'gone'): Message => ({ type: 'vm', event, t: seq, pid, name: `ci-${pid}`, source: 'qemu', vcpus: {} });
/** A short-lived VM's messages: it appears, counts n exits once, and goes. */
const shortLived = (pid: number, n: number): Message[] => [vm(pid, 'appeared'), snapshotOf(pid, n), vm(pid, 'gone')];
/** A hub that has had its hello. */
function hubWithHello(): StreamHub {
  const hub = new StreamHub();
  hub.apply(hello);
  return hub;
}

function catchUpTotals(hub: StreamHub): { snapshot: SnapshotMessage; vms: Extract<Message, { type: 'vm' }>[] } {
  const c = hub.catchUp();
  const snapshot = c.find((m) => m.type === 'snapshot') as SnapshotMessage;
  return { snapshot, vms: c.filter((m): m is Extract<Message, { type: 'vm' }> => m.type === 'vm') };
}

describe('StreamHub: gone VMs beyond the newest are folded, totals exact', () => {
  it('5,000 short-lived VMs: every total as sent, the kept keys and names bounded', () => {
    const hub = hubWithHello();
    let exits = 0;
    let faults = 0;
    let most = 0;
    for (let i = 0; i < 5000; i++) {
      for (const m of shortLived(1000 + i, 1 + (i % 7))) hub.apply(m);
      exits += 1 + (i % 7);
      faults += 1;
      if (i % 500 === 499) {
        const { snapshot, vms } = catchUpTotals(hub);
        most = Math.max(most, snapshot.exits.length, vms.length);
        expect(snapshot.exits.reduce((a, e) => a + e.n, 0)).toBe(exits);
        expect(snapshot.faults.reduce((a, e) => a + e.n, 0)).toBe(faults);
        expect(snapshot.exitNs.reduce((a, e) => a + e.b.reduce((x, [, n]) => x + n, 0), 0)).toBe(exits);
        expect(snapshot.handlers.reduce((a, e) => a + e.n, 0)).toBe(faults);
      }
    }
    // at most 2 x 256 gone VMs by name, and the folded entry
    expect(most).toBeLessThanOrEqual(2 * 256 + 1);
    const { snapshot, vms } = catchUpTotals(hub);
    const folded = vms.find((v) => v.pid === FOLDED_PID);
    expect(folded).toMatchObject({ event: 'gone', source: 'process' });
    const foldedCount = Number(/^(\d+) earlier VMs$/.exec(folded?.name ?? '')?.[1]);
    // every VM is either named or counted in the folded entry's name
    expect(foldedCount + vms.filter((v) => v.pid !== FOLDED_PID).length).toBe(5000);
    // the folded entry's exits are the folded VMs' exits, on tid 0
    const foldedExits = snapshot.exits.filter((e) => e.pid === FOLDED_PID);
    expect(foldedExits.every((e) => e.tid === 0)).toBe(true);
    expect(foldedExits.reduce((a, e) => a + e.n, 0) + snapshot.exits.filter((e) => e.pid !== FOLDED_PID).reduce((a, e) => a + e.n, 0)).toBe(exits);
  });

  it('a VM that is still running is never folded, however many gone ones come after it', () => {
    const hub = hubWithHello();
    hub.apply(vm(7, 'appeared'));
    hub.apply(snapshotOf(7, 3));
    for (let i = 0; i < 1200; i++) {
      for (const m of shortLived(100 + i, 1)) hub.apply(m);
    }
    const { snapshot, vms } = catchUpTotals(hub);
    expect(vms.find((v) => v.pid === 7)).toMatchObject({ event: 'appeared' });
    expect(snapshot.exits.filter((e) => e.pid === 7)).toEqual([{ pid: 7, tid: 8, isa: 1, reason: 0x7b, n: 3 }]);
  });

  it("a client that joins after the hub folded, then folds on its own: totals exact, every VM named or in the folded entry's count", () => {
    const hub = hubWithHello();
    let exits = 0;
    let faults = 0;
    let pid = 1000;
    const one = (m: Message, client?: Aggregate): void => {
      hub.apply(m);
      client?.apply(m);
    };
    for (let i = 0; i < 600; i++, pid++) {
      for (const m of shortLived(pid, 2)) one(m);
      exits += 2;
      faults += 1;
    }
    const client = new Aggregate();
    for (const m of hub.catchUp()) client.apply(m);
    for (let i = 0; i < 3000; i++, pid++) {
      for (const m of shortLived(pid, 2)) one(m, client);
      exits += 2;
      faults += 1;
    }
    let clientExits = 0;
    client.total.exits.forEachExit((n) => {
      clientExits += n;
    });
    expect(clientExits).toBe(exits);
    expect([...client.total.faults.values()].reduce((a, n) => a + n, 0)).toBe(faults);
    const folded = Number(/^(\d+) earlier VMs$/.exec(client.vms.get(FOLDED_PID)?.name ?? '')?.[1]);
    expect(folded + [...client.vms.keys()].filter((p) => p !== FOLDED_PID).length).toBe(3600);
  });

  it('a stream with few VMs is passed on as it came: the last snapshot as it is when there is one', () => {
    const hub = hubWithHello();
    hub.apply(vm(5, 'appeared'));
    const s = snapshotOf(5, 2);
    hub.apply(s);
    expect(catchUpTotals(hub).snapshot).toBe(s);
  });
});
