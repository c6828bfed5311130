// exitscope-workload: a tiny VMM that makes a known number of KVM exits.
//
// It opens /dev/kvm, creates one VM with K vCPUs, runs one scenario and prints
// its own tally as one JSON object on stdout. The tally's "expected" list is the
// exact number of kvm:kvm_exit events the kernel must see for each exit reason
// this program causes on purpose; reasons it cannot control (host interrupts:
// SVM INTR, VMX EXTERNAL_INTERRUPT, ...) are left out. docs/lab.md explains
// every count; test/e2e/workload.test.ts checks them against `perf stat`.
//
// Guest layout, one region per vCPU so that no page is shared between vCPUs
// (shared pages would fault once or twice depending on who gets there first):
//
//   region base B (2 MiB aligned), gva == gpa (identity mapped, 4 KiB pages)
//   B+0x0000 PML4   B+0x1000 PDPT   B+0x2000 PD   B+0x3000 PT for [B, B+2M)
//   B+0x4000 guest code
//   B+0x5000.. page tables for the data area (shadow paging only)
//   B+0x1ff000 gva mapped to this vCPU's MMIO page: an unbacked gpa in its own
//              2 MiB chunk above the memory slot
//   B+2M ..  data area: one page per "npf" touch
//
// Each vCPU runs 64-bit code with paging on. How many first-touch faults the
// setup itself costs must not depend on N, so that "npf N" can make exactly N:
// - NPT/EPT on: the hardware walker and the instruction fetch touch PML4, PDPT,
//   PD, PT0 and the code page (5 nested faults per vCPU). The data area is
//   mapped with 2 MiB guest pages, so no further guest page table is touched;
//   KVM still maps 4 KiB at a time (the host memory is 4 KiB pages), one nested
//   fault per data page.
// - NPT/EPT off (shadow paging): KVM walks the guest tables in software, so only
//   the code page and the data pages fault. Data leaf PTEs are written with the
//   Accessed bit clear, so that the shadow MMU does not prefetch neighbouring
//   PTEs (it skips gptes that were never accessed).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ULL
#define REGION_CTL (2ULL << 20)           // control part of a region: tables + code
#define OFF_PML4 0x0000ULL
#define OFF_PDPT 0x1000ULL
#define OFF_PD 0x2000ULL
#define OFF_PT0 0x3000ULL
#define OFF_CODE 0x4000ULL
#define OFF_DATA_PT 0x5000ULL
#define OFF_MMIO (REGION_CTL - PAGE)
#define MAX_DATA_PTS ((OFF_MMIO - OFF_DATA_PT) / PAGE)
#define MAX_DATA_PAGES (MAX_DATA_PTS * 512ULL)
#define GUEST_MEM_LIMIT (1ULL << 30)      // one PDPT entry: regions must end below 1 GiB

#define PORT_DATA 0x0e9
#define PORT_DONE 0x0ea

// Scenario numbers understood by the guest code (rax at entry).
enum op { OP_IO = 1, OP_HLT = 2, OP_CPUID = 3, OP_MSR = 4, OP_NPF = 5, OP_MMIO = 6, OP_MIX = 7 };

// Guest code: position independent 64-bit code, copied into each region.
// Entry registers: r11 = op, r10 = count, rdi = first data page, r9 = MMIO gva.
// It ends with the "done" exit: `out PORT_DONE` in the hlt scenario (where a
// HLT would count as one more scenario exit), `hlt` in every other.
extern const uint8_t guest_code[], guest_code_end[];
__asm__(
    ".pushsection .rodata\n"
    ".globl guest_code, guest_code_end\n"
    "guest_code:\n"
    ".code64\n"
    "  test %r10, %r10\n"
    "  jz 90f\n"
    "  cmp $1, %r11d\n  je 10f\n"
    "  cmp $2, %r11d\n  je 20f\n"
    "  cmp $3, %r11d\n  je 30f\n"
    "  cmp $4, %r11d\n  je 40f\n"
    "  cmp $5, %r11d\n  je 50f\n"
    "  cmp $6, %r11d\n  je 60f\n"
    "  jmp 90f\n"
    // io: one `out` per exit
    "10: mov $0xe9, %dx\n"
    "11: out %al, %dx\n  dec %r10\n  jnz 11b\n  jmp 90f\n"
    // hlt: one `hlt` per exit
    "20: hlt\n  dec %r10\n  jnz 20b\n  jmp 90f\n"
    // cpuid: leaf 0, one exit each
    "30: xor %eax, %eax\n  xor %ecx, %ecx\n  cpuid\n  dec %r10\n  jnz 30b\n  jmp 90f\n"
    // msr: alternate rdmsr EFER and wrmsr EFER (the same value back), one exit each
    "40: mov $0xc0000080, %ecx\n  rdmsr\n  dec %r10\n  jz 90f\n"
    "    wrmsr\n  dec %r10\n  jnz 40b\n  jmp 90f\n"
    // npf: write one byte to each fresh page
    "50: movb $1, (%rdi)\n  add $4096, %rdi\n  dec %r10\n  jnz 50b\n  jmp 90f\n"
    // mmio: 4-byte writes to an unbacked guest-physical page
    "60: movl %r10d, (%r9)\n  dec %r10\n  jnz 60b\n  jmp 90f\n"
    // done
    "90: cmp $2, %r11d\n  jne 92f\n"
    "    mov $0xea, %dx\n  out %al, %dx\n  jmp 90b\n"
    "92: hlt\n  jmp 90b\n"
    "guest_code_end:\n"
    ".popsection\n");

struct scenario_info {
  const char *name;
  enum op op;
};
static const struct scenario_info SCENARIOS[] = {
    {"io", OP_IO}, {"hlt", OP_HLT}, {"cpuid", OP_CPUID}, {"msr", OP_MSR}, {"npf", OP_NPF}, {"mmio", OP_MMIO}, {"mix", OP_MIX},
};
#define NSCENARIOS (sizeof(SCENARIOS) / sizeof(SCENARIOS[0]))

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "exitscope-workload: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

static int xioctl(int fd, unsigned long req, void *arg, const char *what) {
  int r = ioctl(fd, req, arg);
  if (r < 0) die("%s failed: %s", what, strerror(errno));
  return r;
}

// ---- host facts -------------------------------------------------------------

enum vendor { VENDOR_AMD, VENDOR_INTEL, VENDOR_OTHER };

static enum vendor host_vendor(void) {
  unsigned a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
  char v[13];
  memcpy(v, &b, 4);
  memcpy(v + 4, &d, 4);
  memcpy(v + 8, &c, 4);
  v[12] = 0;
  if (!strcmp(v, "AuthenticAMD") || !strcmp(v, "HygonGenuine")) return VENDOR_AMD;
  if (!strcmp(v, "GenuineIntel")) return VENDOR_INTEL;
  return VENDOR_OTHER;
}

// Two-dimensional paging (NPT on AMD, EPT on Intel) as KVM's module says.
static int tdp_enabled(enum vendor vendor) {
  const char *path = vendor == VENDOR_AMD ? "/sys/module/kvm_amd/parameters/npt" : "/sys/module/kvm_intel/parameters/ept";
  FILE *f = fopen(path, "r");
  if (!f) die("cannot read %s (%s): is the %s module loaded?", path, strerror(errno), vendor == VENDOR_AMD ? "kvm_amd" : "kvm_intel");
  int c = fgetc(f);
  fclose(f);
  return c == 'Y' || c == 'y' || c == '1';
}

// ---- the VM ------------------------------------------------------------------

struct vcpu {
  int index;
  int fd;
  struct kvm_run *run;
  uint64_t base;       // region base (gpa == gva)
  uint64_t count;      // scenario operations for this vCPU
  uint64_t data_pages;  // npf: pages written
  uint64_t data_chunks; // npf: 2 MiB chunks of the data area
  enum op op;          // what the guest is doing now
  // tally of exits seen by this VMM (userspace exits)
  uint64_t io, hlt, mmio;
  // tally of what the guest code did (kernel-only exits), per finished batch
  uint64_t cpuids, msr_reads, msr_writes, data_touches;
  pthread_t thread;
  const char *error;
  double next_exit;    // --rate: when the next paced exit may leave the VMM
};

static double now(void);
static int kvm_fd, vm_fd;
static uint64_t mmio_base; // first unbacked gpa: vCPU i's MMIO page is mmio_base + i * 2 MiB
static uint8_t *mem;
static uint64_t mem_size;
static size_t run_size;
static enum op scenario_op;

static uint64_t pte(uint64_t addr, int accessed) {
  // present | writable | (accessed)
  return addr | 0x3 | (accessed ? 0x20 : 0);
}

static uint64_t *table(uint64_t gpa) { return (uint64_t *)(mem + gpa); }

// Faults that every vCPU takes before its first data page (see the layout above).
static uint64_t setup_faults(int tdp) { return tdp ? 5 : 1; }

static void setup_region(struct vcpu *v, int tdp) {
  uint64_t b = v->base;
  table(b + OFF_PML4)[0] = pte(b + OFF_PDPT, 1);
  table(b + OFF_PDPT)[0] = pte(b + OFF_PD, 1);
  // PD: the control 2 MiB and the data area's 2 MiB chunks
  table(b + OFF_PD)[(b >> 21) & 511] = pte(b + OFF_PT0, 1);
  for (int i = 0; i < 4; i++) table(b + OFF_PT0)[i] = 0; // tables are not mapped
  table(b + OFF_PT0)[OFF_CODE / PAGE] = pte(b + OFF_CODE, 1);
  table(b + OFF_PT0)[OFF_MMIO / PAGE] = pte(mmio_base + (uint64_t)v->index * (2ULL << 20), 0);
  for (uint64_t t = 0; t < v->data_chunks; t++) {
    uint64_t chunk = b + REGION_CTL + t * (2ULL << 20);
    uint64_t *pde = &table(b + OFF_PD)[(chunk >> 21) & 511];
    if (tdp) {
      *pde = pte(chunk, 1) | 0x80; // PS: a 2 MiB guest page
      continue;
    }
    uint64_t pt = b + OFF_DATA_PT + t * PAGE;
    *pde = pte(pt, 1);
    for (uint64_t i = 0; i < 512; i++) {
      uint64_t page = t * 512 + i;
      table(pt)[i] = page < v->data_pages ? pte(chunk + i * PAGE, 0) : 0;
    }
  }
  memcpy(mem + b + OFF_CODE, guest_code, (size_t)(guest_code_end - guest_code));
}

static void setup_vcpu(struct vcpu *v, struct kvm_cpuid2 *cpuid) {
  v->fd = xioctl(vm_fd, KVM_CREATE_VCPU, (void *)(long)v->index, "KVM_CREATE_VCPU");
  v->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
  if (v->run == MAP_FAILED) die("mmap kvm_run: %s", strerror(errno));
  xioctl(v->fd, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2");

  struct kvm_sregs s;
  xioctl(v->fd, KVM_GET_SREGS, &s, "KVM_GET_SREGS");
  struct kvm_segment code = {.base = 0, .limit = 0xffffffff, .selector = 8, .type = 11, .present = 1, .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1};
  struct kvm_segment data = code;
  data.type = 3;
  data.l = 0;
  data.db = 1;
  data.selector = 16;
  s.cs = code;
  s.ds = s.es = s.fs = s.gs = s.ss = data;
  s.cr3 = v->base + OFF_PML4;
  s.cr4 = 1u << 5;                               // PAE
  s.cr0 = 0x80000001u | (1u << 4) | (1u << 5);   // PG | PE | ET | NE
  s.efer = (1u << 8) | (1u << 10);               // LME | LMA
  s.idt.base = 0;
  s.idt.limit = 0;
  xioctl(v->fd, KVM_SET_SREGS, &s, "KVM_SET_SREGS");
}

// Points the vCPU at the start of the guest code with `count` operations to do.
static int set_regs(struct vcpu *v, uint64_t count) {
  struct kvm_regs r;
  memset(&r, 0, sizeof r);
  r.rflags = 2;
  r.rip = v->base + OFF_CODE;
  r.r11 = (uint64_t)v->op;
  r.r10 = count;
  r.rdi = v->base + REGION_CTL;
  r.r9 = v->base + OFF_MMIO;
  return ioctl(v->fd, KVM_SET_REGS, &r);
}

// --rate R: the VMM holds each port-I/O exit until its slot, so the guest makes at most R
// of them per second per vCPU (benchmarks at a known exit rate). Counts are unchanged.
static double pace_interval;

static void pace(struct vcpu *v) {
  double t = now();
  if (v->next_exit == 0 || v->next_exit < t - 1) v->next_exit = t; // start, or fell behind: no burst to catch up
  v->next_exit += pace_interval;
  if (v->next_exit <= t) return;
  struct timespec ts = {(time_t)v->next_exit, (long)((v->next_exit - (time_t)v->next_exit) * 1e9)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

// Runs the vCPU until the guest's "done" exit. Returns 0, or -1 with v->error set.
static int run_until_done(struct vcpu *v) {
  for (;;) {
    if (ioctl(v->fd, KVM_RUN, 0) < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      v->error = strerror(errno);
      return -1;
    }
    struct kvm_run *run = v->run;
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
      v->io++;
      if (run->io.port == PORT_DONE) return 0;
      if (pace_interval > 0) pace(v);
      break;
    case KVM_EXIT_HLT:
      v->hlt++;
      if (v->op != OP_HLT) return 0;
      break;
    case KVM_EXIT_MMIO:
      v->mmio++;
      break;
    case KVM_EXIT_INTR:
      break; // a signal interrupted KVM_RUN: not a guest exit of ours
    default: {
      static __thread char buf[96];
      snprintf(buf, sizeof buf, "unexpected KVM exit %u (hardware reason 0x%llx)", run->exit_reason,
               (unsigned long long)run->hw.hardware_exit_reason);
      v->error = buf;
      return -1;
    }
    }
  }
}

// vCPUs share KVM's upper-level nested page tables: two vCPUs creating the same
// entry at once make one of them fault again (KVM retries the fault). So each
// vCPU first runs a prelude alone, in turn (its code and page tables fault in,
// then one "done" exit), and only then do all start the scenario together.
static pthread_mutex_t turn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cond = PTHREAD_COND_INITIALIZER;
static int turn;
static pthread_barrier_t start_line;

// Runs one batch of `count` operations of `op` and adds what the guest did to the tally.
static int run_batch(struct vcpu *v, enum op op, uint64_t count) {
  v->op = op;
  if (set_regs(v, count) < 0) {
    v->error = "KVM_SET_REGS failed";
    return -1;
  }
  if (run_until_done(v) < 0) return -1;
  if (op == OP_CPUID) v->cpuids += count;
  if (op == OP_MSR) {
    v->msr_reads += (count + 1) / 2; // the guest starts with rdmsr
    v->msr_writes += count / 2;
  }
  if (op == OP_NPF) v->data_touches += count;
  return 0;
}

// mix: all vCPUs run the same phase in lock step, batch by batch, so that
// vCPU 0 can drop the data pages (to fault them again) while nobody runs:
// an mmu-notifier invalidation during another vCPU's fault makes KVM retry it.
#define MIX_PAGES 512ULL
static const enum op MIX_PHASES[] = {OP_IO, OP_CPUID, OP_NPF, OP_HLT, OP_MSR, OP_MMIO};
#define NPHASES (sizeof(MIX_PHASES) / sizeof(MIX_PHASES[0]))
static double mix_seconds, mix_t0;
static int loop_forever;
static enum op mix_op;
static int mix_stop, mix_dirty, tdp_on, nvcpus;
static struct vcpu *all_vcpus;

static uint64_t mix_batch(enum op op) {
  switch (op) {
  case OP_NPF: return MIX_PAGES;
  case OP_CPUID: case OP_MSR: return 500;
  default: return 200;
  }
}

static void drop_data_pages(struct vcpu *v, uint64_t pages) {
  madvise(mem + v->base + REGION_CTL, pages * PAGE, MADV_DONTNEED);
  if (!tdp_on) // the guest's PTEs got Accessed/Dirty set: clear them so no prefetch happens
    for (uint64_t p = 0; p < pages; p++) table(v->base + OFF_DATA_PT)[p] = pte(v->base + REGION_CTL + p * PAGE, 0);
}

static void mix_drop_data_pages(void) {
  for (int i = 0; i < nvcpus; i++) drop_data_pages(&all_vcpus[i], MIX_PAGES);
}

static void *run_vcpu(void *arg) {
  struct vcpu *v = arg;
  char name[16];
  snprintf(name, sizeof name, "CPU %d/KVM", v->index); // QEMU's vCPU thread name
  pthread_setname_np(pthread_self(), name);

  pthread_mutex_lock(&turn_lock);
  while (turn != v->index) pthread_cond_wait(&turn_cond, &turn_lock);
  pthread_mutex_unlock(&turn_lock);
  int ok = run_batch(v, scenario_op == OP_MIX ? OP_IO : scenario_op, 0) == 0;
  pthread_mutex_lock(&turn_lock);
  turn++;
  pthread_cond_broadcast(&turn_cond);
  pthread_mutex_unlock(&turn_lock);

  pthread_barrier_wait(&start_line);
  if (scenario_op != OP_MIX) {
    // npf: the setup faults are part of N, so the guest writes only the data pages
    uint64_t n = scenario_op == OP_NPF ? v->data_pages : v->count;
    if (ok) run_batch(v, scenario_op, n);
    // --loop (a steady load for profiling, not counted): again until killed; npf drops its
    // data pages each round so that they fault again (only this vCPU's region is touched)
    while (loop_forever && ok && !v->error) {
      if (scenario_op == OP_NPF) drop_data_pages(v, n);
      run_batch(v, scenario_op, n);
    }
    return NULL;
  }
  for (;;) {
    pthread_barrier_wait(&start_line);
    if (v->index == 0) {
      double t = now() - mix_t0;
      int failed = 0;
      for (int i = 0; i < nvcpus; i++) failed |= all_vcpus[i].error != NULL;
      mix_stop = failed || t >= mix_seconds;
      mix_op = MIX_PHASES[(size_t)(t / (mix_seconds / NPHASES)) % NPHASES];
      if (mix_op == OP_NPF && mix_dirty) mix_drop_data_pages();
      if (mix_op == OP_NPF) mix_dirty = 1;
    }
    pthread_barrier_wait(&start_line);
    if (mix_stop) return NULL;
    if (!v->error) run_batch(v, mix_op, mix_batch(mix_op));
  }
}

static void usage(FILE *to) {
  fprintf(to,
          "usage: exitscope-workload SCENARIO N [--vcpus K] [--rate R] [--loop]\n"
          "       exitscope-workload mix [SECONDS] [--vcpus K]\n"
          "\n"
          "Creates a KVM VM and makes an exact number of exits, then prints a JSON tally.\n"
          "Scenarios (N is the number of exits of that kind, summed over all vCPUs):\n"
          "  io N     N port writes (SVM IOIO / VMX IO_INSTRUCTION)\n"
          "  hlt N    N HLT instructions (SVM HLT / VMX HLT)\n"
          "  cpuid N  N CPUID instructions\n"
          "  msr N    N RDMSR/WRMSR of EFER, alternating (SVM MSR / VMX MSR_READ+MSR_WRITE)\n"
          "  npf N    N first-touch page faults in all: with NPT/EPT the nested faults of the\n"
          "           code and page-table pages count, the rest are fresh data pages\n"
          "           (SVM NPF / VMX EPT_VIOLATION); with NPT/EPT off, N guest #PF intercepts\n"
          "  mmio N   N writes to unbacked guest-physical memory (KVM_EXIT_MMIO each)\n"
          "  mix [S]  for S seconds (default 60): io, cpuid, npf, hlt, msr and mmio phases in turn,\n"
          "           each S/6 long, in batches; the tally counts every batch (for demos)\n"
          "Options:\n"
          "  --vcpus K  spread N over K vCPUs (threads named \"CPU i/KVM\"), default 1\n"
          "  --rate R   io only: at most R port-I/O exits per second per vCPU (default: as fast as possible)\n"
          "  --loop     repeat the scenario until killed (a steady load to profile; npf faults its\n"
          "             pages again each round; no tally is printed)\n"
          "Needs /dev/kvm; in a machine without it, run inside `exitscope lab --run`.\n");
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// One entry of the "expected" list: isa 2 = SVM, 1 = VMX (as kvm:kvm_exit's isa).
static int first_expect = 1;
static void expect(int isa, unsigned reason, const char *name, uint64_t count) {
  if (!count) return;
  printf("%s{\"isa\":%d,\"reason\":%u,\"name\":\"%s\",\"count\":%llu}", first_expect ? "" : ",", isa, reason, name,
         (unsigned long long)count);
  first_expect = 0;
}

int main(int argc, char **argv) {
  const char *scenario = NULL;
  long long n = -1;
  int vcpus = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(stdout); return 0; }
    if (!strcmp(argv[i], "--vcpus")) {
      if (++i >= argc) die("--vcpus needs a number");
      char *end;
      long k = strtol(argv[i], &end, 10);
      if (*end || k < 1 || k > 64) die("--vcpus takes 1..64, not '%s'", argv[i]);
      vcpus = (int)k;
    } else if (!strcmp(argv[i], "--rate")) {
      if (++i >= argc) die("--rate needs a number of exits per second");
      char *end;
      double r = strtod(argv[i], &end);
      if (*end || !(r >= 1 && r <= 10000000)) die("--rate takes 1..10000000 exits per second, not '%s'", argv[i]);
      pace_interval = 1 / r;
    } else if (!strcmp(argv[i], "--loop")) {
      loop_forever = 1;
    } else if (!scenario) {
      scenario = argv[i];
    } else if (n < 0) {
      char *end;
      n = strtoll(argv[i], &end, 10);
      if (*end || n < 0 || n > 100000000LL) die("N must be a whole number from 0 to 100000000, not '%s'", argv[i]);
    } else {
      usage(stderr);
      die("unexpected argument '%s'", argv[i]);
    }
  }
  if (!scenario) { usage(stderr); return 2; }
  for (size_t i = 0; i < NSCENARIOS; i++)
    if (!strcmp(scenario, SCENARIOS[i].name)) scenario_op = SCENARIOS[i].op;
  if (!scenario_op) { usage(stderr); die("unknown scenario '%s'", scenario); }
  if (scenario_op == OP_MIX) {
    mix_seconds = n < 0 ? 60 : (double)n;
    if (mix_seconds < 1) die("mix needs at least 1 second");
    n = 0;
  }
  if (n < 0) { usage(stderr); die("%s needs N, the number of exits to make", scenario); }

  enum vendor vendor = host_vendor();
  if (vendor == VENDOR_OTHER) die("unknown CPU vendor: only AMD (SVM) and Intel (VMX) are supported");
  kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm_fd < 0)
    die("cannot open /dev/kvm: %s. On a machine without KVM, run me inside the lab: exitscope lab --run '%s %s %lld'",
        strerror(errno), argv[0], scenario, n);
  int tdp = tdp_enabled(vendor);

  // Split N over the vCPUs and size each region.
  struct vcpu *v = calloc((size_t)vcpus, sizeof *v);
  uint64_t base = 0;
  for (int i = 0; i < vcpus; i++) {
    v[i].index = i;
    v[i].count = (uint64_t)n / (uint64_t)vcpus + ((uint64_t)i < (uint64_t)n % (uint64_t)vcpus ? 1 : 0);
    v[i].base = base;
    if (scenario_op == OP_MIX) {
      v[i].data_pages = MIX_PAGES;
      v[i].data_chunks = 1;
    } else if (scenario_op == OP_NPF) {
      uint64_t minimum = setup_faults(tdp) + 1;
      if (v[i].count < minimum)
        die("npf needs N >= %llu per vCPU: each vCPU's code%s fault once before its first data page",
            (unsigned long long)minimum, tdp ? " and page-table pages" : " page");
      v[i].data_pages = v[i].count - setup_faults(tdp);
      if (v[i].data_pages > MAX_DATA_PAGES) die("npf N is too large: at most %llu per vCPU", (unsigned long long)MAX_DATA_PAGES);
      v[i].data_chunks = (v[i].data_pages + 511) / 512;
    }
    base += REGION_CTL + v[i].data_chunks * (2ULL << 20);
  }
  mem_size = base;
  mmio_base = base;
  if (mmio_base + (uint64_t)vcpus * (2ULL << 20) > GUEST_MEM_LIMIT)
    die("the scenario needs %llu MiB of guest-physical space; at most 1024", (unsigned long long)((mmio_base >> 20) + 2ULL * (uint64_t)vcpus));

  mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) die("cannot map %llu bytes of guest memory: %s", (unsigned long long)mem_size, strerror(errno));
  // 4 KiB host pages: a transparent huge page would let KVM map 2 MiB at once.
  madvise(mem, mem_size, MADV_NOHUGEPAGE);
  memset(mem, 0, mem_size); // populate the host pages before the guest runs

  vm_fd = xioctl(kvm_fd, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
  if (vendor == VENDOR_INTEL) {
    // Without unrestricted guest (kvm_intel ept=0, or a CPU without it) VMX cannot run real mode,
    // which every vCPU starts in before KVM_SET_SREGS: KVM emulates it with vm86 and needs a TSS
    // (3 pages) and, with EPT on, an identity-mapped page table (1 page) in guest-physical space.
    // Both sit below 4 GiB, far above this VM's memory (< 1 GiB), where QEMU puts them; the
    // identity map must be set before the first vCPU is created.
    uint64_t identity_map = 0xfffbc000ULL;
    xioctl(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity_map, "KVM_SET_IDENTITY_MAP_ADDR");
    xioctl(vm_fd, KVM_SET_TSS_ADDR, (void *)0xfffbd000UL, "KVM_SET_TSS_ADDR");
  }
  struct kvm_userspace_memory_region region = {.slot = 0, .guest_phys_addr = 0, .memory_size = mem_size, .userspace_addr = (uint64_t)mem};
  xioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
  run_size = (size_t)xioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");

  int nent = 256;
  struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + (size_t)nent * sizeof(struct kvm_cpuid_entry2));
  cpuid->nent = (uint32_t)nent;
  xioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid, "KVM_GET_SUPPORTED_CPUID");

  for (int i = 0; i < vcpus; i++) {
    setup_region(&v[i], tdp);
    setup_vcpu(&v[i], cpuid);
  }

  pthread_barrier_init(&start_line, NULL, (unsigned)vcpus);
  tdp_on = tdp;
  nvcpus = vcpus;
  all_vcpus = v;
  double t0 = now();
  mix_t0 = t0;
  for (int i = 0; i < vcpus; i++) pthread_create(&v[i].thread, NULL, run_vcpu, &v[i]);
  for (int i = 0; i < vcpus; i++) pthread_join(v[i].thread, NULL);
  double ended = now(); // every vCPU has made its last exit (bench/freshness.mjs times from here)
  double elapsed = ended - t0;

  int failed = 0;
  for (int i = 0; i < vcpus; i++)
    if (v[i].error) {
      fprintf(stderr, "exitscope-workload: vCPU %d: %s\n", i, v[i].error);
      failed = 1;
    }

  // Tally. Userspace-visible exits are counted by this program as they come;
  // kernel-only exits (cpuid, msr, page faults) follow from what the guest code did.
  uint64_t io = 0, hlt = 0, mmio = 0, data_pages = 0, msr_reads = 0, msr_writes = 0, cpuids = 0;
  for (int i = 0; i < vcpus; i++) {
    io += v[i].io;
    hlt += v[i].hlt;
    mmio += v[i].mmio;
    data_pages += v[i].data_touches;
    msr_reads += v[i].msr_reads;
    msr_writes += v[i].msr_writes;
    cpuids += v[i].cpuids;
  }
  uint64_t k = (uint64_t)vcpus;
  uint64_t faults = setup_faults(tdp) * k + data_pages + mmio;
  // vCPUs that touched their MMIO page at all: with EPT, only the first touch of each is an EPT
  // violation (KVM then installs a misconfigured entry: every later access is an EPT misconfig)
  uint64_t mmio_vcpus = 0;
  for (int i = 0; i < vcpus; i++) mmio_vcpus += v[i].mmio > 0;

  printf("{\"scenario\":\"%s\",\"n\":%lld,\"vcpus\":%d,\"vendor\":\"%s\",\"tdp\":%s,\"seconds\":%.6f,"
         "\"ended\":%.6f,\"ok\":%s,\"pid\":%d,",
         scenario, n, vcpus, vendor == VENDOR_AMD ? "amd" : "intel", tdp ? "true" : "false", elapsed, ended,
         failed ? "false" : "true", getpid());
  printf("\"vmm\":{\"io\":%llu,\"hlt\":%llu,\"mmio\":%llu},", (unsigned long long)io, (unsigned long long)hlt,
         (unsigned long long)mmio);
  printf("\"guest\":{\"cpuid\":%llu,\"rdmsr\":%llu,\"wrmsr\":%llu,\"pageTouches\":%llu,\"setupFaultsPerVcpu\":%llu},",
         (unsigned long long)cpuids, (unsigned long long)msr_reads, (unsigned long long)msr_writes,
         (unsigned long long)data_pages, (unsigned long long)setup_faults(tdp));
  printf("\"expected\":[");
  if (vendor == VENDOR_AMD) {
    expect(2, 0x7b, "IOIO", io);
    expect(2, 0x78, "HLT", hlt);
    expect(2, 0x72, "CPUID", cpuids);
    expect(2, 0x7c, "MSR", msr_reads + msr_writes);
    expect(2, tdp ? 0x400 : 0x4e, tdp ? "NPF" : "EXCP_PF", faults);
  } else {
    expect(1, 30, "IO_INSTRUCTION", io);
    expect(1, 12, "HLT", hlt);
    expect(1, 10, "CPUID", cpuids);
    expect(1, 31, "MSR_READ", msr_reads);
    expect(1, 32, "MSR_WRITE", msr_writes);
    // EPT: a fresh page is an EPT violation, an MMIO access after a vCPU's first an EPT misconfig
    // (mmio and the mix's mmio phases alike).
    if (tdp && mmio > 0) {
      expect(1, 48, "EPT_VIOLATION", faults - mmio + mmio_vcpus);
      expect(1, 49, "EPT_MISCONFIG", mmio - mmio_vcpus);
    } else {
      expect(1, tdp ? 48 : 0, tdp ? "EPT_VIOLATION" : "EXCEPTION_NMI", faults);
    }
  }
  printf("]}\n");
  return failed ? 1 : 0;
}
