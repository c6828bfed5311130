import { describe, expect, it } from 'vitest';
import { BASE_MODULES, KVM_MODULES, loadOrder, moduleName, parseModulesBuiltin, parseModulesDep } from '../../src/lab/modules.js';

// Lines as depmod wrote them for Debian's 6.1.0-56-amd64 (the lab's kernel).
const DEP = `kernel/arch/x86/kvm/kvm-amd.ko: kernel/drivers/crypto/ccp/ccp.ko kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko
kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko
kernel/virt/lib/irqbypass.ko:
kernel/drivers/crypto/ccp/ccp.ko:
kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
kernel/net/9p/9pnet.ko:
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/fs/netfs/netfs.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
`;

const name = (p: string): string => moduleName(p);

describe('moduleName', () => {
  it.each([
    ['kernel/arch/x86/kvm/kvm-amd.ko', 'kvm_amd'],
    ['kernel/fs/9p/9p.ko.xz', '9p'],
    ['x/virtio_pci.ko.zst', 'virtio_pci'],
    ['net_failover.ko.gz', 'net_failover'],
  ])('%s -> %s', (path, want) => expect(moduleName(path)).toBe(want));
});

describe('loadOrder', () => {
  const dep = parseModulesDep(DEP);

  it('puts every module after all of its dependencies, each once', () => {
    const order = loadOrder(dep, [...BASE_MODULES, ...KVM_MODULES]).map(name);
    expect(new Set(order).size).toBe(order.length);
    for (const [mod, entry] of dep) {
      const at = order.indexOf(mod);
      if (at < 0) continue;
      for (const d of entry.deps) expect(order.indexOf(d), `${d} before ${mod}`).toBeLessThan(at);
    }
    expect(order.at(-1)).toBe('kvm_amd');
    expect(order).toEqual(expect.arrayContaining(['virtio_ring', 'virtio', 'virtio_pci', '9pnet', '9pnet_virtio', 'netfs', 'fscache', '9p', 'failover', 'net_failover', 'virtio_net', 'irqbypass', 'ccp', 'kvm']));
  });

  it('skips modules built into the kernel', () => {
    const order = loadOrder(dep, ['9p'], new Set(['netfs', 'fscache'])).map(name);
    expect(order).toEqual(['9pnet', '9p']);
  });

  it('names the missing module and who needs it', () => {
    const broken = parseModulesDep('kernel/a.ko: kernel/b.ko\n');
    expect(() => loadOrder(broken, ['a'])).toThrow('module b (needed by a) is not in modules.dep');
    expect(() => loadOrder(broken, ['kvm_intel'])).toThrow('module kvm_intel is not in modules.dep');
  });

  it('reports a dependency cycle instead of looping', () => {
    const cyclic = parseModulesDep('a.ko: b.ko\nb.ko: a.ko\n');
    expect(() => loadOrder(cyclic, ['a'])).toThrow(/cycle/);
  });
});

describe('parseModulesBuiltin', () => {
  it('reads module names from paths', () => {
    expect(parseModulesBuiltin('kernel/fs/ext4/ext4.ko\nkernel/lib/crc16.ko\n\n')).toEqual(new Set(['ext4', 'crc16']));
  });
});
