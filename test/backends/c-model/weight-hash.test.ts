/**
 * The C weight blob's check hash (backends/c/model/emit.ts WeightHash, recomputed in C by
 * model_load_weights): the same value however the blob is chunked (streamed compiles hash chunk by
 * chunk), and a change of any one byte, of the length alone (zeros appended), or of the order of
 * two words changes it. The C twin agreeing with it is what every C artifact load tests (a mismatch
 * is MODEL_ERR_WEIGHTS_HASH).
 */
import { describe, expect, it } from 'vitest';
import { WeightHash, weightHash } from '../../../backends/c/model/emit.js';
import { seededRandom } from '../../../base/random.js';

const blob = (n: number, seed: number) => {
  const next = seededRandom(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
};

describe('WeightHash', () => {
  it('is the same over any chunking', () => {
    const next = seededRandom(3);
    for (const n of [0, 1, 31, 32, 33, 1000, 4099]) {
      const b = blob(n, n + 1);
      const whole = weightHash(b);
      for (let trial = 0; trial < 5; trial++) {
        const h = new WeightHash();
        let i = 0;
        while (i < n) {
          const take = Math.min(n - i, Math.floor(next() * 70));
          h.update(b.subarray(i, i + take));
          i += take;
        }
        expect(h.digest()).toBe(whole);
      }
    }
  });

  it('changes with any byte, the length, and word order', () => {
    const b = blob(1000, 7);
    const h0 = weightHash(b);
    for (const at of [0, 3, 31, 32, 500, 990, 999]) {
      const c = b.slice();
      c[at] = c[at]! ^ 1;
      expect(weightHash(c)).not.toBe(h0);
    }
    expect(weightHash(new Uint8Array(64))).not.toBe(weightHash(new Uint8Array(96)));
    const sw = b.slice();
    sw.set(b.subarray(4, 8), 0);
    sw.set(b.subarray(0, 4), 4);
    expect(weightHash(sw)).not.toBe(h0);
  });
});
