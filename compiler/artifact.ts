/**
 * The one writer of output folders: compiled artifacts (`lutc compile`, the library's `compile` +
 * `writeArtifact`, backends' `compileModel`), kernels (`lutc kernel`) and `lutc run --out`. Files are
 * built in memory first, except streamed ones (a large model's weights.bin, target-info.ts
 * StreamedFile), which are written chunk by chunk as their chunks are computed; all are written into
 * a temporary folder next to the destination and then
 * renamed into place (a fresh folder appears whole by one rename; into an existing one each file is
 * renamed, which is atomic per file on one filesystem), so an error never leaves partial output.
 *
 * Codes: LUT6012 the folder or a file cannot be written (also: a path that escapes the folder).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ArtifactFiles, CompiledArtifact } from '../backends/target.js';
import type { StreamedFile } from '../backends/target-info.js';
import { fail } from '../base/diagnostics.js';

export type { ArtifactFiles, CompiledArtifact } from '../backends/target.js';
export type { StreamedFile } from '../backends/target-info.js';

/** True for a streamed artifact file (target-info.ts StreamedFile) rather than bytes or text in memory. */
export function isStreamedFile(f: ArtifactFiles[string]): f is StreamedFile {
  return typeof f === 'object' && !(f instanceof Uint8Array) && typeof (f as StreamedFile).chunks === 'function';
}

/**
 * An artifact file's contents in memory: text and bytes as they are, a StreamedFile gathered into one
 * Uint8Array (all of it at once: for small models, tests, and callers that want the bytes).
 */
export function artifactFileBytes(f: ArtifactFiles[string]): string | Uint8Array {
  if (!isStreamedFile(f)) return f;
  const out = new Uint8Array(f.size);
  let at = 0;
  for (const c of f.chunks()) {
    if (at + c.length > f.size) throw new Error(`lutc bug: a streamed file produced more than its ${f.size} bytes`);
    out.set(c, at);
    at += c.length;
  }
  if (at !== f.size) throw new Error(`lutc bug: a streamed file produced ${at} bytes, not its ${f.size}`);
  return out;
}

/** Bytes written at a time when streaming (small chunks are gathered up to this). */
const WRITE_BUFFER = 4 * 2 ** 20;

/** Writes a StreamedFile to `p` chunk by chunk (small chunks gathered into one buffer); checks its size. */
function writeStreamed(p: string, f: StreamedFile, name: string): void {
  const fd = fs.openSync(p, 'w');
  try {
    const buf = new Uint8Array(WRITE_BUFFER);
    let held = 0;
    let total = 0;
    const put = (b: Uint8Array) => {
      for (let off = 0; off < b.length; ) {
        const n = fs.writeSync(fd, b, off, b.length - off);
        off += n;
      }
    };
    for (const c of f.chunks()) {
      total += c.length;
      if (held + c.length <= buf.length) {
        buf.set(c, held);
        held += c.length;
        continue;
      }
      put(buf.subarray(0, held));
      held = 0;
      if (c.length >= buf.length) put(c);
      else {
        buf.set(c, 0);
        held = c.length;
      }
    }
    put(buf.subarray(0, held));
    if (total !== f.size) throw new Error(`lutc bug: streamed file '${name}' produced ${total} bytes, not its ${f.size}`);
  } finally {
    fs.closeSync(fd);
  }
}

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
    typeof (a as CompiledArtifact).files === 'object' &&
    !((a as CompiledArtifact).files instanceof Uint8Array) &&
    !isStreamedFile((a as CompiledArtifact).files as unknown as ArtifactFiles[string]);
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
        if (isStreamedFile(data)) writeStreamed(p, data, names[i]!);
        else fs.writeFileSync(p, data);
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
