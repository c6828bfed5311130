#!/usr/bin/env bash
# The whole test suite: set up (packages, npm ci, build), type-check, unit and e2e tests.
# The e2e tests boot the lab (QEMU) and need root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
mkdir -p build
# Warm the lab's caches (the guest kernel, downloaded once, and the initramfs) with one boot, so
# that the e2e files, two at a time (vitest.config.ts), find them ready instead of racing to fill them.
node bin/exitscope.js lab --run true
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=build/vitest.json || status=$?
# One closing line in the plain form CI reads: "tests: N passed, N failed, N skipped".
node -e '
  const r = JSON.parse(require("fs").readFileSync("build/vitest.json", "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  // A file whose hook failed has no failed test of its own: count it as one failure, never as none.
  const brokenFiles = r.testResults.filter((f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed")).length;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests + brokenFiles} failed, ${skipped} skipped`);
' || true
exit $status
