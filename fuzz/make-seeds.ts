/**
 * Regenerates the checked-in seed corpora under fuzz/seeds/<target>/ (run: `npx tsx fuzz/make-seeds.ts`).
 * Seeds are small on purpose (libFuzzer's -max_len follows the largest seed, and small inputs run
 * fast): tiny builder models covering the importer's paths (typed and raw tensors, symbolic dims,
 * subgraphs, MatMulNBits, a decoder with a KV cache), external-data models naming the files the
 * `external` target's temp folder holds, the small `.lut` cases of test/, the `.npy` fixtures of
 * test/npy, and minimal tokenizer.json files of each model kind. Deterministic: the same files every run.
 * Each file is named by its content hash (no extension, so biome leaves them alone).
 * Also writes the libFuzzer dictionaries fuzz/dict/<target>.dict: protobuf field tags of the ONNX
 * messages lutc reads and every ONNX op name and attribute of the op table (onnx, external), the IR
 * text's op names, dtypes and keywords (ir), npy header words, tokenizer.json keys and kinds.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeModel, OnnxBuilder } from '../compiler/onnx/builder.js';
import { onnx } from '../compiler/onnx/proto.js';
import '../ir/ops/index.js';
import { allOps } from '../ir/optable.js';
import { makeTensor } from '../ir/tensor.js';
import { DTYPES } from '../ir/text/build.js';
import { buildDynamicLinear, buildMatMulNBits } from '../test/helpers/models.js';
import { buildOptimumDecoder } from '../test/helpers/optimum-decoder.js';
import { buildKvAttention } from '../test/helpers/runtime-dims.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const seedsDir = path.join(root, 'fuzz', 'seeds');

function put(target: string, bytes: Uint8Array | string): void {
  const dir = path.join(seedsDir, target);
  fs.mkdirSync(dir, { recursive: true });
  const buf = typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes);
  fs.writeFileSync(path.join(dir, createHash('sha1').update(buf).digest('hex').slice(0, 16)), buf);
}

function smallModels(): Uint8Array[] {
  const out: Uint8Array[] = [];
  {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', ['batch', 4]);
    const [y] = b.node('MatMul', [x, b.initializer('w', makeTensor('f32', [4, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]))]);
    const [s] = b.node('Shape', [y!]);
    const [r] = b.node('Reshape', [y!, s!]);
    const [z] = b.node('Softmax', [r!], { attrs: { axis: -1 } });
    const [q] = b.node('Unsqueeze', [z!, b.initializer('ax', makeTensor('i64', [1], [0]))]);
    b.output(q!, 'f32');
    out.push(b.toBytes());
  }
  {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [2, 8]);
    const g = b.initializer('g', makeTensor('f32', [8], [1, 1, 1, 1, 2, 2, 2, 2]), { raw: true });
    const bb = b.initializer('b', makeTensor('f32', [8], [0, 0, 0, 0, 1, 1, 1, 1]));
    const [n] = b.node('LayerNormalization', [x, g, bb], { attrs: { axis: -1, epsilon: b.float(1e-5) } });
    const [t] = b.node('Transpose', [n!], { attrs: { perm: [1, 0] } });
    const [c] = b.node('Concat', [t!, t!], { attrs: { axis: 1 } });
    const [sl] = b.node('Slice', [
      c!,
      b.initializer('st', makeTensor('i64', [1], [1])),
      b.initializer('en', makeTensor('i64', [1], [3])),
      b.initializer('axs', makeTensor('i64', [1], [1])),
    ]);
    const [gt] = b.node('Gather', [sl!, b.initializer('idx', makeTensor('i64', [2], [0, 7]))], { attrs: { axis: 0 } });
    const [cs] = b.node('Cast', [gt!], { attrs: { to: 10 } });
    const [rm] = b.node('ReduceMean', [cs!], { attrs: { axes: [1], keepdims: 1 } });
    b.output(rm!, 'f16');
    out.push(b.toBytes());
  }
  {
    const b = new OnnxBuilder({ opset: 13 });
    const x = b.input('x', 'f32', [1, 1, 5, 5]);
    const w = b.initializer(
      'w',
      makeTensor(
        'f32',
        [2, 1, 3, 3],
        Array.from({ length: 18 }, (_, i) => i / 9),
      ),
    );
    const [c] = b.node('Conv', [x, w], { attrs: { pads: [1, 1, 1, 1], strides: [1, 1] } });
    const [r] = b.node('Relu', [c!]);
    const [p] = b.node('Pad', [r!, b.initializer('pads', makeTensor('i64', [8], [0, 0, 1, 1, 0, 0, 1, 1]))]);
    const [f] = b.node('Flatten', [p!]);
    const [cu] = b.node('CumSum', [f!, b.initializer('cax', makeTensor('i64', [], [1]))]);
    const [tr] = b.node('Trilu', [cu!], { attrs: { upper: 1 } });
    const [sp] = b.node('Split', [tr!, b.initializer('parts', makeTensor('i64', [2], [49, 49]))], { attrs: { axis: 1 }, outputs: 2 });
    b.output(sp!, 'f32');
    out.push(b.toBytes());
  }
  {
    // an If with two subgraphs, and ConstantOfShape / Where / Expand
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [3]);
    const cond = b.input('c', 'bool', []);
    const th = b.subgraph('then');
    const [a] = th.node('Neg', [x]);
    th.output(a!, 'f32', [3]);
    const el = b.subgraph('else');
    const [e] = el.node('Abs', [x]);
    el.output(e!, 'f32', [3]);
    const [y] = b.node('If', [cond], { attrs: { then_branch: th, else_branch: el } });
    const [z] = b.node('ConstantOfShape', [b.initializer('sh', makeTensor('i64', [1], [3]))], {
      attrs: { value: makeTensor('f32', [1], [0.5]) },
    });
    const [m] = b.node('Greater', [y!, z!]);
    const [w] = b.node('Where', [m!, y!, z!]);
    const [ex] = b.node('Expand', [w!, b.initializer('es', makeTensor('i64', [2], [2, 3]))]);
    b.output(ex!, 'f32');
    out.push(b.toBytes());
  }
  out.push(buildDynamicLinear(8, 4));
  out.push(buildMatMulNBits({ k: 32, n: 4, bits: 4, blockSize: 32 }).bytes);
  out.push(buildMatMulNBits({ k: 16, n: 2, bits: 2, blockSize: 16 }).bytes);
  out.push(buildKvAttention());
  out.push(buildOptimumDecoder({ vocab: 16, hidden: 32, heads: 2, kvHeads: 1, intermediate: 32, layers: 1, maxPos: 8 }));
  return out;
}

/** A model whose initializers are external: each entry is [location, offset, length?, dims, dataType]. */
function externalModel(entries: [string, number, number | undefined, number[], number][]): Uint8Array {
  const b = new OnnxBuilder({ opset: 17 });
  entries.forEach((_, i) => b.output(`w${i}`, entries[i]![4] === 1 ? 'f32' : 'u8'));
  const m = b.toModelProto();
  m.graph!.initializer = entries.map(([location, offset, length, dims, dataType], i) => {
    const ext = [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
    ];
    if (length !== undefined) ext.push({ key: 'length', value: String(length) });
    return onnx.TensorProto.create({ name: `w${i}`, dims, dataType, dataLocation: 1, externalData: ext });
  });
  return encodeModel(m);
}

/** One libFuzzer dictionary entry: a quoted string with non-printable bytes as \xNN. */
function dictEntry(bytes: Uint8Array | string): string {
  const b = typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes);
  let s = '';
  for (const c of b)
    s += c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return `"${s}"`;
}

/** Protobuf key bytes (field << 3 | wire type) of the ModelProto fields lutc decodes, by message. */
const PROTO_TAGS: Record<string, [number, number][]> = {
  ModelProto: [
    [1, 0],
    [2, 2],
    [3, 2],
    [7, 2],
    [8, 2],
  ],
  GraphProto: [
    [1, 2],
    [2, 2],
    [5, 2],
    [11, 2],
    [12, 2],
    [13, 2],
  ],
  NodeProto: [
    [1, 2],
    [2, 2],
    [3, 2],
    [4, 2],
    [5, 2],
    [7, 2],
  ],
  AttributeProto: [
    [1, 2],
    [2, 5],
    [3, 0],
    [4, 2],
    [5, 2],
    [6, 2],
    [7, 2],
    [8, 2],
    [9, 2],
    [10, 2],
    [11, 2],
    [20, 0],
  ],
  TensorProto: [
    [1, 0],
    [2, 0],
    [3, 2],
    [4, 2],
    [5, 2],
    [6, 2],
    [7, 2],
    [8, 2],
    [9, 2],
    [10, 2],
    [11, 2],
    [13, 2],
    [14, 0],
  ],
  ValueInfoProto: [
    [1, 2],
    [2, 2],
  ],
  TypeProto: [
    [1, 2],
    [4, 2],
  ],
  TensorShapeProto: [
    [1, 2],
    [2, 0],
    [2, 2],
  ],
  OperatorSetIdProto: [
    [1, 2],
    [2, 0],
  ],
};

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function writeDicts(): void {
  const dictDir = path.join(root, 'fuzz', 'dict');
  fs.mkdirSync(dictDir, { recursive: true });
  const write = (name: string, header: string, entries: Iterable<Uint8Array | string>) => {
    const lines = [...new Set([...entries].map(dictEntry))];
    fs.writeFileSync(path.join(dictDir, `${name}.dict`), `# ${header} (generated by fuzz/make-seeds.ts)\n${lines.join('\n')}\n`);
  };
  const ops = allOps();
  const onnxWords: (Uint8Array | string)[] = [];
  for (const tags of Object.values(PROTO_TAGS)) for (const [f, w] of tags) onnxWords.push(Uint8Array.from(varint((f << 3) | w)));
  for (const v of [0, 1, 2, 7, 127, 128, 255, 0x7fffffff]) onnxWords.push(Uint8Array.from(varint(v)));
  for (const op of ops) if (op.onnx) onnxWords.push(op.onnx.type);
  for (const op of ops) for (const a of Object.keys(op.attrs)) onnxWords.push(a);
  onnxWords.push('com.microsoft', 'ai.onnx', 'location', 'offset', 'length', 'checksum', 'batch', 'sequence_length');
  write('onnx', 'ONNX protobuf field keys, varints, op types and attribute names', onnxWords);
  write('external', 'external-data keys and the files of the external target', [
    ...onnxWords.slice(0, 80),
    'location',
    'offset',
    'length',
    'w.bin',
    'sub/s.bin',
    'link.bin',
    '../',
    '..',
    '/',
    'sub/',
    '4096',
    '4095',
    '9007199254740993',
  ]);
  write('ir', 'IR text: op names, dtypes, keywords and punctuation', [
    ...ops.map((o) => o.name),
    ...DTYPES,
    'graph',
    'const',
    'return',
    'dense',
    'dense_elided',
    'meta',
    'nan',
    'inf',
    '%',
    '->',
    '{',
    '}',
    '<',
    '>',
    'x',
    '?',
    '@',
    ...new Set(ops.flatMap((o) => Object.keys(o.attrs))),
  ]);
  write('npy', 'npy header words', [
    Uint8Array.from([0x93, ...Buffer.from('NUMPY')]),
    Uint8Array.from([1, 0]),
    Uint8Array.from([2, 0]),
    Uint8Array.from([3, 0]),
    "'descr'",
    "'fortran_order'",
    "'shape'",
    'True',
    'False',
    '<f4',
    '>f8',
    '|b1',
    '<i8',
    '|u1',
    '<f2',
    '(',
    ')',
    ',)',
  ]);
  write('tokenizer', 'tokenizer.json / tokenizer_config.json keys and kinds', [
    'model',
    'type',
    'vocab',
    'merges',
    'added_tokens',
    'normalizer',
    'pre_tokenizer',
    'post_processor',
    'decoder',
    'BPE',
    'WordPiece',
    'Unigram',
    'ByteLevel',
    'Metaspace',
    'Sequence',
    'Whitespace',
    'BertNormalizer',
    'TemplateProcessing',
    'NFKC',
    'Replace',
    'eos_token',
    'content',
    'special',
    'unk_token',
    'unk_id',
    'byte_fallback',
    'continuing_subword_prefix',
    'null',
    'true',
    '[]',
    '{}',
    '\\u0000',
    '\\ud800',
  ]);
}

function main(): void {
  writeDicts();
  fs.rmSync(seedsDir, { recursive: true, force: true });
  for (const m of smallModels()) put('onnx', m);

  put('external', externalModel([['w.bin', 16, 12, [3], 1]]));
  put('external', externalModel([['w.bin', 0, undefined, [4, 4], 2]]));
  put(
    'external',
    externalModel([
      ['sub/s.bin', 4, 8, [2], 1],
      ['w.bin', 4000, 96, [96], 2],
    ]),
  );
  put('external', externalModel([['link.bin', 0, 4, [1], 1]]));
  put('external', externalModel([['../outside.bin', 0, 4, [1], 1]]));
  put('external', externalModel([['w.bin', 4090, 12, [3], 1]]));

  const luts = ['test/ir/cases', 'test/passes'].flatMap((d) =>
    fs
      .readdirSync(path.join(root, d))
      .filter((f) => f.endsWith('.lut'))
      .map((f) => path.join(root, d, f)),
  );
  for (const f of luts) if (fs.statSync(f).size <= 4096) put('ir', fs.readFileSync(f));

  const npyDir = path.join(root, 'test/npy/fixtures');
  for (const f of fs.readdirSync(npyDir)) if (f.endsWith('.npy')) put('npy', fs.readFileSync(path.join(npyDir, f)));

  const vocab = { '[UNK]': 0, hello: 1, world: 2, '##s': 3, ',': 4, '!': 5, '1': 6, '<eos>': 7 };
  const base = { version: '1.0', truncation: null, padding: null, normalizer: null, post_processor: null };
  const wordpiece = {
    ...base,
    added_tokens: [{ id: 7, content: '<eos>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'Whitespace' },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  put('tokenizer', JSON.stringify(wordpiece));
  put('tokenizer', `${JSON.stringify(wordpiece)}\0${JSON.stringify({ eos_token: '<eos>' })}`);
  put('tokenizer', `${JSON.stringify(wordpiece)}\0${JSON.stringify({ eos_token: { content: '<eos>' } })}`);
  const bpe = {
    ...base,
    added_tokens: [],
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab: { H: 0, e: 1, l: 2, o: 3, He: 4, ll: 5, Hell: 6, Hello: 7, Ġ: 8 },
      merges: ['H e', 'l l', 'He ll', 'Hell o'],
    },
  };
  put('tokenizer', JSON.stringify(bpe));
  const unigram = {
    ...base,
    added_tokens: [],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: {
      type: 'Unigram',
      unk_id: 0,
      vocab: [
        ['<unk>', 0],
        ['▁Hello', -1],
        ['▁world', -2],
        ['▁', -3],
        ['l', -4],
      ],
      byte_fallback: false,
    },
  };
  put('tokenizer', JSON.stringify(unigram));
  for (const t of fs.readdirSync(seedsDir)) console.log(`${t}: ${fs.readdirSync(path.join(seedsDir, t)).length} seeds`);
}

main();
