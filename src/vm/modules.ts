// Kernel modules for the guest's initramfs, picked from an extracted Debian kernel
// package. The .deb holds no modules.dep (depmod runs at install time), so dependencies
// come from each module's own .modinfo `depends=` field. Node only.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface KernelModule {
  /** Module name with underscores (`9pnet_fd`, `ne2k_pci`). */
  name: string;
  /** The .ko file. */
  path: string;
}

/** The `depends=` field of a module's .modinfo section (NUL-separated key=value strings). */
export function moduleDepends(ko: Uint8Array): string[] {
  const bytes = Buffer.from(ko.buffer, ko.byteOffset, ko.byteLength);
  const at = bytes.indexOf('\0depends=');
  if (at < 0) return [];
  const start = at + '\0depends='.length;
  const value = bytes.subarray(start, bytes.indexOf(0, start)).toString();
  return value ? value.split(',') : [];
}

/** Module name (dashes and underscores are the same to the kernel) → .ko path, for the whole tree. */
function indexModules(modulesDir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.name.endsWith('.ko')) out.set(e.name.slice(0, -3).replaceAll('-', '_'), p);
      // Debian 12's 6.1 kernels ship plain .ko; a compressed one would need unpacking here.
      else if (/\.ko\.(xz|zst|gz)$/.test(e.name)) throw new Error(`compressed module ${p} is not supported`);
    }
  };
  visit(join(modulesDir, 'kernel'));
  return out;
}

/**
 * The wanted modules plus their dependencies, dependencies first (insmod does not
 * resolve them); modules built into the kernel (modules.builtin) are left out.
 */
export function resolveModules(modulesDir: string, wanted: readonly string[]): KernelModule[] {
  const index = indexModules(modulesDir);
  const builtin = new Set(
    readFileSync(join(modulesDir, 'modules.builtin'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/^.*\//, '').replace(/\.ko$/, '').replaceAll('-', '_')),
  );
  const order: KernelModule[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    name = name.replaceAll('-', '_');
    if (seen.has(name) || builtin.has(name)) return;
    seen.add(name);
    const path = index.get(name);
    if (!path) throw new Error(`kernel module ${name} not found under ${modulesDir}`);
    for (const dep of moduleDepends(readFileSync(path))) visit(dep);
    order.push({ name, path });
  };
  for (const w of wanted) visit(w);
  return order;
}
