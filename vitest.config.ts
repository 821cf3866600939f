import { defineConfig } from 'vitest/config';
import { swiftshaderEnv } from './backends/wgsl/device.js';

// WGSL tests run on SwiftShader through Dawn; the dynamic loader reads LD_LIBRARY_PATH only at process
// start, so set it here, before vitest forks its workers (they inherit this environment).
Object.assign(process.env, swiftshaderEnv(process.env));

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
