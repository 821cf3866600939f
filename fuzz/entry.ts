/**
 * The module the fuzzer loads (bundled to CommonJS by scripts/fuzz.mjs, because @jazzer.js 2.1.0
 * instruments only code loaded through `require`): `fuzz(data)` runs the target that
 * LUTC_FUZZ_TARGET names (fuzz/targets.ts). An unknown name fails at load, before any input runs.
 */
import { TARGETS } from './targets.js';

const name = process.env.LUTC_FUZZ_TARGET ?? '';
const target = TARGETS[name];
if (!target) throw new Error(`LUTC_FUZZ_TARGET must be one of ${Object.keys(TARGETS).join(', ')}, got '${name}'`);

export function fuzz(data: Buffer): void {
  target!(data);
}
