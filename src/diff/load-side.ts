/**
 * One side of a comparison: a recording (read through the same Aggregate and buildReport as
 * `exitscope report`) or a `report -f json` file (the Report itself), told apart by content,
 * not by name: a recording's first line is its hello message; a report is one JSON object.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { Aggregate } from '../model/aggregate.js';
import { describeProblems, RecordingFile } from '../recording/recording.js';
import { buildReport, REPORT_VERSION, type Report } from '../report/report.js';

export interface LoadedSide {
  path: string;
  kind: 'recording' | 'report';
  report: Report;
  /** What the reader skipped in a recording (said on stderr by the command, not here). */
  warnings: string[];
}

/** A report file larger than this is not one `report -f json` wrote (they are kilobytes). */
const MAX_REPORT_BYTES = 256 * 1024 * 1024;

const latency = z.object({ count: z.number(), minNs: z.number(), p50Ns: z.number(), p99Ns: z.number(), maxNs: z.number() }).optional();
/** The fields a comparison reads, checked; the rest of the Report is kept as it is. */
const reportShape = z.looseObject({
  version: z.literal(REPORT_VERSION),
  host: z.string(),
  kernel: z.string(),
  bpftrace: z.string(),
  vendor: z.string(),
  tdp: z.boolean().nullable(),
  durationSeconds: z.number().nonnegative(),
  complete: z.boolean(),
  totalExits: z.number().nonnegative(),
  exits: z.array(z.looseObject({ isa: z.number(), isaName: z.string(), reason: z.number(), name: z.string(), count: z.number(), rate: z.number(), share: z.number(), latency })),
  pageFaults: z.looseObject({ count: z.number(), mmio: z.number(), byKind: z.array(z.object({ kind: z.string(), count: z.number() })) }),
  tdpFaults: z.looseObject({ handler: z.string().nullable(), count: z.number(), latency }),
  handlers: z.array(z.looseObject({ handler: z.string(), role: z.enum(['tdp', 'shadow']), count: z.number(), latency })),
  lostEvents: z.number(),
  gaps: z.array(z.looseObject({ t: z.number(), reason: z.string(), resumed: z.boolean() })),
  errors: z.array(z.looseObject({ code: z.string(), message: z.string() })),
  vms: z.array(z.looseObject({ pid: z.number(), name: z.string(), totalExits: z.number(), exits: z.array(z.object({ name: z.string(), count: z.number() })) })),
  hints: z.array(z.looseObject({ id: z.string(), severity: z.enum(['info', 'warning']), message: z.string() })),
});

/**
 * The file's first line (up to 64 KiB), or undefined when it is not a regular file that can be
 * opened: then the recording reader reads it and says what is wrong (RECORDING_READ,
 * RECORDING_NOT_FILE). Opened without blocking: a FIFO with no writer must not hang the job.
 */
function firstLine(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(64 * 1024);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const text = buf.toString('utf8', 0, n);
    const nl = text.indexOf('\n');
    return nl < 0 ? text : text.slice(0, nl);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

const isHello = (line: string): boolean => {
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'hello';
  } catch {
    return false;
  }
};

function loadRecordingReport(path: string): LoadedSide {
  const file = new RecordingFile(path);
  const agg = new Aggregate(0); // the totals only: a comparison is of whole runs
  for (const m of file) agg.apply(m);
  const { problems, problemCount } = file.lines;
  return { path, kind: 'recording', report: buildReport(agg), warnings: problemCount ? [describeProblems(path, problems, problemCount)] : [] };
}

function loadReportFile(path: string): LoadedSide {
  const notReport = (why: string): UserError =>
    new UserError('NOT_A_REPORT', `${path} is neither a recording nor a report of this exitscope: ${why}`, 'give a recording (exitscope record / run -o FILE) or a report written by exitscope report -f json / run -f json --report-file FILE');
  // the size is checked before reading (a multi-GB file is not read to be refused), and on the
  // file that was opened: it cannot be swapped for a FIFO between the check and the read
  let text: string;
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile()) throw notReport('not a regular file');
    if (st.size > MAX_REPORT_BYTES) throw notReport('too large for a report');
    text = readFileSync(fd, 'utf8');
  } catch (e) {
    throw e instanceof UserError ? e : notReport((e as Error).message);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw notReport('not JSON, and its first line is not a recording hello');
  }
  const parsed = reportShape.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw notReport(issue ? `${issue.path.join('.') || 'the top level'}: ${issue.message}` : 'not a report');
  }
  return { path, kind: 'report', report: parsed.data as unknown as Report, warnings: [] };
}

/** Reads one side: a recording or a report, by its content. */
export function loadSide(path: string): LoadedSide {
  // a recording starts with its hello; anything else that is a file must be a whole report
  const line = firstLine(path);
  if (line === undefined || line === '' || isHello(line)) return loadRecordingReport(path);
  return loadReportFile(path);
}
