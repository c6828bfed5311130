/**
 * Reads apt's package records (`apt-cache show`) to choose what to download for a suite's
 * kernel: linux-image-amd64 names the versioned image package; that one either holds the kernel
 * itself (bullseye to trixie) or is an empty metapackage over split packages (sid since 7.x:
 * linux-binary-VER with vmlinuz, linux-modules-VER, linux-base-VER with System.map, config,
 * modules.builtin and modules.order). Pure: text in, names out.
 */

export interface PackageRecord {
  package: string;
  version: string;
  /** Depends, each alternative group as its package names (version constraints dropped). */
  depends: string[][];
}

/** Parses the records of `apt-cache show` (blank-line separated, `Field: value`, continuation lines indented). */
export function parsePackageRecords(text: string): PackageRecord[] {
  const records: PackageRecord[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of block.split('\n')) {
      if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last) ?? ''} ${line.trim()}`);
      else {
        const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
        if (m?.[1] !== undefined) {
          last = m[1].toLowerCase();
          fields.set(last, m[2] ?? '');
        }
      }
    }
    const pkg = fields.get('package');
    const version = fields.get('version');
    if (!pkg || !version) continue;
    records.push({ package: pkg, version, depends: parseDepends(fields.get('depends') ?? '') });
  }
  return records;
}

/** "a (>= 1) | b, c" -> [[a, b], [c]]. */
export function parseDepends(text: string): string[][] {
  return text
    .split(',')
    .map((group) =>
      group
        .split('|')
        .map((alt) => alt.trim().split(/[\s(:]/)[0] ?? '')
        .filter((n) => n.length > 0),
    )
    .filter((g) => g.length > 0);
}

/** The versioned image package linux-image-amd64 depends on (linux-image-6.1.0-56-amd64, linux-image-7.2.13+deb14-amd64). */
export function imagePackageOf(meta: PackageRecord): string | undefined {
  for (const group of meta.depends) for (const name of group) if (/^linux-image-[0-9]/.test(name)) return name;
  return undefined;
}

/** The parts of a split kernel, by what they carry. */
export const SPLIT_PARTS = ['linux-binary', 'linux-modules', 'linux-base'] as const;

export interface KernelDownload {
  /** linux-image-VER */
  image: string;
  version: string;
  /** 'single': the image package holds vmlinuz and modules; 'split': its SPLIT_PARTS do. */
  layout: 'single' | 'split';
  /** Packages to download, as `name=version` for apt-get download. */
  packages: string[];
}

/**
 * What to download for the image package's record: itself, or, when it depends on the split
 * parts of the same kernel (linux-binary-VER, ...), those parts. A split image missing one of
 * its parts is refused: the tree would lack vmlinuz, the modules or modules.builtin.
 */
export function kernelDownload(image: PackageRecord): KernelDownload {
  const suffix = image.package.slice('linux-image-'.length);
  const names = image.depends.flat();
  const parts = SPLIT_PARTS.map((p) => `${p}-${suffix}`).filter((p) => names.includes(p));
  if (parts.length === 0) return { image: image.package, version: image.version, layout: 'single', packages: [`${image.package}=${image.version}`] };
  if (parts.length !== SPLIT_PARTS.length) {
    const missing = SPLIT_PARTS.map((p) => `${p}-${suffix}`).filter((p) => !parts.includes(p));
    throw new Error(`${image.package} depends on ${parts.join(', ')} but not on ${missing.join(', ')}: an unknown kernel package layout`);
  }
  return { image: image.package, version: image.version, layout: 'split', packages: parts.map((p) => `${p}=${image.version}`) };
}
