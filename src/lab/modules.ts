/**
 * Which kernel modules the lab's initramfs loads, and in what order.
 * Computed from the kernel package's own modules.dep (written by depmod), so a
 * newer Debian kernel with different dependencies needs no change here.
 */

/** Modules /init loads first, by module name; their dependencies are added. */
export const BASE_MODULES = [
  'virtio_pci', // transport for 9p and the network card
  '9pnet_virtio', // the host's filesystem over virtio
  '9p',
  'virtio_net', // port forwarding from the host
] as const;

/** Loaded once the run's config is read (kvm_amd takes npt=); the vendor module comes last. */
export const KVM_MODULES = ['kvm_amd'] as const;

/** kvm-amd.ko, kvm_amd.ko.xz -> kvm_amd (modprobe treats - and _ alike). */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_');
}

/** Parses modules.dep: "path.ko: dep1.ko dep2.ko" -> name -> {path, deps (names)}. */
export function parseModulesDep(text: string): Map<string, { path: string; deps: string[] }> {
  const modules = new Map<string, { path: string; deps: string[] }>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter((d) => d.length > 0)
      .map(moduleName);
    modules.set(moduleName(path), { path, deps });
  }
  return modules;
}

/**
 * The module files to insmod, dependencies first, each once.
 * Throws with the missing name when modules.dep does not know a module:
 * that kernel was built without it (or with it built in, see `builtin`).
 */
export function loadOrder(
  modulesDep: Map<string, { path: string; deps: string[] }>,
  wanted: readonly string[],
  builtin: ReadonlySet<string> = new Set(),
): string[] {
  const order: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (name: string, neededBy: string | undefined): void => {
    if (done.has(name) || builtin.has(name)) return;
    const entry = modulesDep.get(name);
    if (!entry) {
      const by = neededBy ? ` (needed by ${neededBy})` : '';
      throw new Error(`module ${name}${by} is not in modules.dep`);
    }
    if (visiting.has(name)) throw new Error(`modules.dep has a dependency cycle through ${name}`);
    visiting.add(name);
    for (const dep of entry.deps) visit(dep, name);
    visiting.delete(name);
    done.add(name);
    order.push(entry.path);
  };
  for (const name of wanted) visit(name.replaceAll('-', '_'), undefined);
  return order;
}

/** Parses modules.builtin ("kernel/fs/9p/9p.ko" per line) into module names. */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0)
      .map(moduleName),
  );
}
