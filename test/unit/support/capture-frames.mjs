// The interval frames of a recorded bpftrace capture, for the stand-ins that replay one
// (fake-bpftrace.mjs in unit tests, test/e2e/support/capture-bpftrace.mjs): runs of lines from a
// begin or final marker to the end marker, each starting with a begin marker (a stand-in decides
// which frame it prints as the final one).
export function framesOf(lines) {
  const frames = [];
  let cur;
  for (const l of lines) {
    if (l.includes('exitscope:begin') || l.includes('exitscope:final')) cur = [l.replace('exitscope:final', 'exitscope:begin')];
    else if (cur) {
      cur.push(l);
      if (l.includes('exitscope:end')) {
        frames.push(cur);
        cur = undefined;
      }
    }
  }
  return frames;
}
