import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    exclude: ['**/node_modules/**'],
    // Two files at a time: an e2e file keeps one core busy with its emulator (QEMU runs the lab on
    // one TCG thread; Bochs on one thread too), so two of them fill a 2-core machine and halve the
    // suite's time. More would only queue for the same cores. Files share nothing: each boots its
    // own guest on its own ports, temp dirs and tmux sockets, and scripts/test.sh warms the lab's
    // caches (kernel, initramfs) before any file starts.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
