/**
 * The embedded-recording contract between the page's HTML (src/server/live-page.ts) and the page
 * (web/live/source.ts): the messages as a JSON array in which no `<` can end the script element,
 * reading back to the same messages; and the whole-recording model the page builds from them
 * (snapshots summed into one) gives exactly the report of the recording.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Aggregate } from '../../src/model/aggregate.js';
import type { Message } from '../../src/protocol/messages.js';
import { parseRecording } from '../../src/recording/recording.js';
import { buildReport } from '../../src/report/report.js';
import { embeddedRecordingJson } from '../../src/server/live-page.js';
import { wholeRecording } from '../../web/live/source.js';

const recording = (name: string): Message[] => parseRecording(readFileSync(join(import.meta.dirname, '../fixtures/recordings', name), 'utf8')).messages;
const reportOf = (messages: readonly Message[]) => {
  const agg = new Aggregate();
  for (const m of messages) agg.apply(m);
  return buildReport(agg);
};

describe('embedded recording', () => {
  it('no < or line separator in the JSON text; JSON.parse gives the same messages back', () => {
    const messages = recording('run-mix-3-vcpus-2-npt-on.jsonl').map((m) => (m.type === 'vm' ? { ...m, name: '</script><!-- \u2028\u2029 <b>' } : m));
    const text = embeddedRecordingJson(messages);
    expect(text).not.toMatch(/[<\u2028\u2029]/);
    expect(JSON.parse(text)).toEqual(messages);
  });

  it.each(['run-mix-3-vcpus-2-npt-on.jsonl', 'run-npf-1031-npt-off.jsonl'])('%s: the whole-recording model (one summed snapshot) has the report of the recording', (name) => {
    const messages = recording(name);
    const whole = wholeRecording(messages);
    expect(whole.filter((m) => m.type === 'snapshot')).toHaveLength(1);
    expect(whole.at(-1)?.type).toBe('end');
    const expected = reportOf(messages);
    const got = reportOf(whole);
    expect(got).toEqual(expected);
    // and every window of it is the whole recording (what the page's window columns read)
    const agg = new Aggregate();
    for (const m of whole) agg.apply(m);
    expect(buildReport(agg, agg.window(1000))).toEqual(expected);
  });
});
