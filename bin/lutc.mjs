#!/usr/bin/env node
// Entry point of the `lutc` command: runs the compiled CLI (built into dist/ by `npm install`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);

// WGSL on a machine without a system Vulkan loader: Dawn can still run on SwiftShader from Debian's
// chromium, but the dynamic loader reads LD_LIBRARY_PATH only at process start, so re-run once with it.
const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
const systemVulkan = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1'].some(existsSync);
if (args.includes('wgsl') && !process.env.LUTC_REEXEC && !systemVulkan && existsSync(swiftshader)) {
  const lib = process.env.LD_LIBRARY_PATH ? `/usr/lib/chromium:${process.env.LD_LIBRARY_PATH}` : '/usr/lib/chromium';
  const env = {
    ...process.env,
    LUTC_REEXEC: '1',
    LD_LIBRARY_PATH: lib,
    VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? swiftshader,
    XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
  };
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], { stdio: 'inherit', env });
  process.exit(r.status ?? 1);
}

const { main } = await import('../dist/compiler/cli.js');
process.exitCode = await main(args);
