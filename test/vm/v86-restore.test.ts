// startV86 restores a state without zeroing all guest memory first: it relies on v86's
// start-up writing only the low megabyte of a fresh emulator. If a v86 release writes
// higher, a restore could keep stale bytes in pages the state has as zero: this fails then.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { V86 } from 'v86';
import { beforeAll, describe, expect, it } from 'vitest';
import { badV86State, ensureVmAssets, type VmAssets } from '../../src/vm/index.js';
import { V86_START_UP_WRITES_BELOW } from '../../src/vm/v86.js';

const require = createRequire(import.meta.url);
let assets: VmAssets;

beforeAll(async () => {
  assets = await ensureVmAssets({ vm: 'v86' });
}, 300_000);

describe('v86 start-up before a restore', () => {
  it('writes no guest memory above the low megabyte', async () => {
    const buffer = (f: string) => new Uint8Array(readFileSync(f)).buffer;
    // As startV86 configures it for a restore: BIOS files, no kernel, not started.
    const emulator = new V86({
      wasm_path: require.resolve('v86/build/v86.wasm'),
      memory_size: 128 << 20,
      vga_memory_size: 2 << 20,
      bios: { buffer: buffer(assets.bios!) },
      vga_bios: { buffer: buffer(assets.vgaBios!) },
      net_device: { type: 'virtio' },
      autostart: false,
      disable_keyboard: true,
      disable_mouse: true,
      disable_speaker: true,
    } as ConstructorParameters<typeof V86>[0]);
    await new Promise<void>((resolve) => emulator.add_listener('emulator-loaded', () => resolve()));
    const mem8 = (emulator as unknown as { v86: { cpu: { mem8: Uint8Array } } }).v86.cpu.mem8;
    const dirty: string[] = [];
    for (let page = 0; page < mem8.length; page += 4096) {
      if (mem8.subarray(page, page + 4096).some((b) => b !== 0)) dirty.push(page.toString(16));
    }
    await emulator.destroy();
    expect(dirty.length).toBeGreaterThan(0); // the BIOS: the scan sees memory at all
    expect(dirty.filter((p) => parseInt(p, 16) >= V86_START_UP_WRITES_BELOW)).toEqual([]);
  });
});

describe('badV86State', () => {
  const state = (words: number[], length: number) => {
    const b = new ArrayBuffer(length);
    new Uint32Array(b, 0, words.length).set(words);
    return b;
  };
  it('takes a whole state and refuses empty, foreign and truncated ones', () => {
    expect(badV86State(state([0x86768676, 6, 64, 8], 64))).toBeUndefined();
    expect(badV86State(new ArrayBuffer(0))).toMatch(/too short/);
    expect(badV86State(state([0x12345678, 6, 64, 8], 64))).toMatch(/bad magic/);
    expect(badV86State(state([0x86768676, 6, 4096, 8], 64))).toMatch(/truncated: 64 of 4096/);
  });
});
