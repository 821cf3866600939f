import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { swiftshaderEnv } from './backends/wgsl/device.js';

// WGSL tests run on SwiftShader through Dawn; the dynamic loader reads LD_LIBRARY_PATH only at process
// start, so set it here, before vitest forks its workers (they inherit this environment).
Object.assign(process.env, swiftshaderEnv(process.env));
// compile reads `lutc tune`'s cache by default: tests never see a developer's own cache (a file that
// does not exist; the tune tests name theirs with --cache / --tune-cache)
process.env.LUTC_TUNE_CACHE = join(tmpdir(), `lutc-tests-${process.pid}-no-tune-cache.json`);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
