/**
 * The one writer of output folders: compiled artifacts (`lutc compile`, the library's `compile` +
 * `writeArtifact`, backends' `compileModel`), kernels (`lutc kernel`) and `lutc run --out`. Files are
 * built in memory first; they are written into a temporary folder next to the destination and then
 * renamed into place (a fresh folder appears whole by one rename; into an existing one each file is
 * renamed, which is atomic per file on one filesystem), so an error never leaves partial output.
 *
 * Codes: LUT6012 the folder or a file cannot be written (also: a path that escapes the folder).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ArtifactFiles, CompiledArtifact } from '../backends/target.js';
import { fail } from '../base/diagnostics.js';

export type { ArtifactFiles, CompiledArtifact } from '../backends/target.js';

/** Relative paths of `files`, checked to stay inside the folder. */
function relPaths(files: ArtifactFiles, dir: string): string[] {
  return Object.keys(files).map((f) => {
    const norm = path.normalize(f);
    if (norm === '' || norm === '.' || path.isAbsolute(norm) || norm.split(path.sep)[0] === '..') {
      fail('LUT6012', `cannot write '${f}' into '${dir}': not a path inside the folder`);
    }
    return norm;
  });
}

/**
 * Writes `artifact` (files by relative path, or a backend's `CompiledArtifact`, whose `remove` paths
 * are deleted from an existing folder first) into `dir`, atomically as described above. Returns the
 * written paths (`dir` joined with each file name, in the artifact's order). Throws LutcError LUT6012.
 */
export function writeArtifact(artifact: ArtifactFiles | CompiledArtifact, dir: string): string[] {
  const isCompiled = (a: ArtifactFiles | CompiledArtifact): a is CompiledArtifact =>
    typeof (a as CompiledArtifact).files === 'object' && !((a as CompiledArtifact).files instanceof Uint8Array);
  const files = isCompiled(artifact) ? artifact.files : artifact;
  const remove = isCompiled(artifact) ? (artifact.remove ?? []) : [];
  const names = relPaths(files, dir);
  const abs = path.resolve(dir);
  const parent = path.dirname(abs);
  try {
    if (fs.existsSync(abs) && !fs.statSync(abs).isDirectory()) fail('LUT6012', `'${dir}' exists and is not a directory`);
    fs.mkdirSync(parent, { recursive: true });
    const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(abs)}.lutc-tmp-`));
    try {
      Object.values(files).forEach((data, i) => {
        const p = path.join(tmp, names[i]!);
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, data);
      });
      if (!fs.existsSync(abs)) {
        fs.renameSync(tmp, abs);
      } else {
        for (const r of remove) fs.rmSync(path.join(abs, r), { recursive: true, force: true });
        for (const n of names) {
          const dest = path.join(abs, n);
          fs.mkdirSync(path.dirname(dest), { recursive: true });
          fs.renameSync(path.join(tmp, n), dest);
        }
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    if (e instanceof Error && e.name === 'LutcError') throw e;
    fail('LUT6012', `cannot write to '${dir}': ${(e as Error).message}`);
  }
  return names.map((n) => path.join(dir, n));
}
