/**
 * Shared by the doc generators (scripts/gen-*.ts): write a generated page, or with `check` compare it
 * with the checked-in file, and the command-line entry that does one or the other (`--check` exits 1
 * on a stale page, naming the npm script that regenerates it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in scripts/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Writes `text` to `root/file`, or with `check` reports whether the file already holds exactly it. */
export function writeOrCheck(root: string, file: string, text: string, check: boolean): boolean {
  const full = path.join(root, file);
  if (check) return fs.existsSync(full) && fs.readFileSync(full, 'utf8') === text;
  fs.writeFileSync(full, text);
  return true;
}

/** Runs `write(root, check)` when the module at `moduleUrl` is the process's entry script. */
export function docMain(moduleUrl: string, file: string, npmScript: string, write: (root: string, check: boolean) => boolean): void {
  if (!process.argv[1] || path.resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  const check = process.argv.includes('--check');
  if (!write(REPO_ROOT, check)) {
    console.error(`${file} is stale: run npm run ${npmScript}`);
    process.exit(1);
  }
  if (!check) console.log(`wrote ${file}`);
}
