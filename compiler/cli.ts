/**
 * The `lutc` command line (docs/cli.md). `main` dispatches to one module per command under
 * compiler/cli/ and maps outcomes to exit codes:
 *   0  success
 *   1  a diagnosed user error (LutcError): every diagnostic printed on stderr, `file: ... error LUTnnnn: ...`
 *      (`lutc: error LUTnnnn: ...` for one without a location: no diagnostic prints bare)
 *   2  a usage error (unknown command/flag, missing argument, bad option value), also printed with a code
 *   70 an unexpected exception: "internal error" and the stack (a crash is a bug; EX_SOFTWARE)
 */
import '../ir/ops/index.js'; // the op table, which every stage reads
import { formatDiagnostic, LutcError } from '../base/diagnostics.js';
import { UsageError, usage } from './cli/args.js';
import { BENCH_HELP, COMPILE_HELP, cmdBench, cmdCompile, cmdKernel, cmdQuantize, KERNEL_HELP, QUANTIZE_HELP } from './cli/build.js';
import { cmdGenerate, GENERATE_HELP } from './cli/generate.js';
import { cmdInspect, INSPECT_HELP } from './cli/inspect.js';
import { type CliIO, processIO } from './cli/io.js';
import { cmdRun, RUN_HELP } from './cli/run.js';
import { cmdTune, TUNE_HELP } from './cli/tune.js';
import { lutcVersion } from './tune-cache.js';

export type { CliIO } from './cli/io.js';
export { captureIO } from './cli/io.js';

export const MAIN_HELP = `usage: lutc <command> [options]

lutc compiles ONNX models into lookup-table mixed-precision GEMM (LUT-mpGEMM) kernels
for WASM SIMD, WGSL and C.

commands:
  run       run a model (reference interpreter or a backend) on .npy inputs, write .npy outputs
  inspect   summarize a model: inputs, ops, parameters, which linear layers become LUT kernels
  compile   compile a model to a wasm, wgsl or c artifact
  kernel    emit a single LUT-mpGEMM kernel for a given shape and bit width
  tune      measure kernel plans of a model's LUT layers on this machine; compile uses the winners
  quantize  quantize a float ONNX model's linear weights to MatMulNBits
  bench     compare lutc against onnxruntime on a model
  generate  greedy text generation (token ids) with a decoder-only LLM export

options:
  -h, --help      help (also 'lutc <command> --help')
  -v, --version   print the version

Exit status: 0 ok, 1 diagnosed error, 2 usage error.
`;

type Command = (argv: string[], io: CliIO) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string }> = {
  run: { run: cmdRun, help: RUN_HELP },
  inspect: { run: cmdInspect, help: INSPECT_HELP },
  compile: { run: cmdCompile, help: COMPILE_HELP },
  kernel: { run: cmdKernel, help: KERNEL_HELP },
  tune: { run: cmdTune, help: TUNE_HELP },
  quantize: { run: cmdQuantize, help: QUANTIZE_HELP },
  bench: { run: cmdBench, help: BENCH_HELP },
  generate: { run: cmdGenerate, help: GENERATE_HELP },
};

/** The package version (package.json; the same string keys the tune cache, compiler/tune-cache.ts). */
export function version(): string {
  return lutcVersion();
}

/**
 * Runs the CLI on `argv` (without `node` and the script path) and returns the exit code. Output goes
 * to `io` (process stdout/stderr by default; tests pass a capture).
 */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  try {
    const [cmd, ...rest] = argv;
    if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
      if (cmd === 'help' && rest[0] && COMMANDS[rest[0]]) return (io.out(COMMANDS[rest[0]]!.help), 0);
      io.out(MAIN_HELP);
      return cmd === undefined ? 2 : 0;
    }
    if (cmd === '-v' || cmd === '--version') return (io.out(version()), 0);
    const c = COMMANDS[cmd];
    if (!c)
      usage(
        cmd.startsWith('-') ? 'LUT6001' : 'LUT6000',
        cmd.startsWith('-')
          ? `unknown option '${cmd}' (see 'lutc --help')`
          : `unknown command '${cmd}' (commands: ${Object.keys(COMMANDS).join(', ')})`,
      );
    return await c.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      for (const d of e.diagnostics) io.err(`lutc: ${formatDiagnostic(d)}`);
      return 2;
    }
    if (e instanceof LutcError) {
      for (const d of e.diagnostics) io.err(d.loc ? formatDiagnostic(d) : `lutc: ${formatDiagnostic(d)}`);
      return 1;
    }
    const err = e as Error;
    io.err(`lutc: internal error: ${err?.stack ?? String(e)}\nThis is a bug in lutc; please report it with the command line and model.`);
    return 70;
  }
}
