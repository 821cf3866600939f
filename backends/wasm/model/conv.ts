/**
 * Plain 1-D / 2-D convolution for the whole-model module (ONNX Conv: pads, strides, dilations,
 * groups, auto_pad as in ir/ops/conv.ts): per image and group, im2col into scratch
 * ([Cg*kh*kw, OH*OW], zero where the window leaves the input), then the SIMD matmul kernel of
 * linear.ts with the group's weights [Mg, Cg*kh*kw], then the bias. 1-D is 2-D with H = 1.
 */
import binaryen from 'binaryen';
import { stepInput } from '../../model-plan.js';
import type { Expr } from '../builder.js';
import { type Emit, emitMap, kindOf, numelOf, type StepHandler, unsupported, viewOf } from './core.js';
import { matmulKernel } from './linear.js';

export const CONV_OPS: ReadonlySet<string> = new Set(['conv']);

interface Axis {
  pad: number;
  stride: number;
  dil: number;
  k: number;
  inD: number;
  outD: number;
}

/** Prepares a conv step. */
export const convStep: StepHandler = (ctx, step): Emit => {
  const n = step.node;
  const file = ctx.plan.graph.meta?.file;
  const [x, w, b] = (['X', 'W', 'B'] as const).map((name) => stepInput(step, name));
  const out = step.outputs[0]!;
  if ([x, w, b].some((p) => p && kindOf(p.dtype) !== 'f32')) unsupported(n, file, 'conv on non-float32 data', 'LUT5055');
  const sp = x!.shape.length - 2;
  const a = n.attrs;
  const ks = (a.kernel_shape as number[] | undefined) ?? w!.shape.slice(2);
  const strides = (a.strides as number[] | undefined) ?? new Array<number>(sp).fill(1);
  const dil = (a.dilations as number[] | undefined) ?? new Array<number>(sp).fill(1);
  const pads = (a.pads as number[] | undefined) ?? new Array<number>(2 * sp).fill(0);
  const autoPad = (a.auto_pad as string | undefined) ?? 'NOTSET';
  const axes: Axis[] = [];
  for (let i = 0; i < sp; i++) {
    const [k, s, d, inD] = [ks[i]!, strides[i]!, dil[i]!, x!.shape[2 + i]!];
    const ek = d * (k - 1) + 1;
    let pb = 0;
    if (autoPad === 'NOTSET') pb = pads[i]!;
    else if (autoPad !== 'VALID') {
      const o = Math.ceil(inD / s);
      const total = Math.max(0, (o - 1) * s + ek - inD);
      pb = autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
    }
    axes.push({ pad: pb, stride: s, dil: d, k, inD, outD: out.shape[2 + i]! });
  }
  if (sp === 1) axes.unshift({ pad: 0, stride: 1, dil: 1, k: 1, inD: 1, outD: 1 });
  const [H, W] = [axes[0]!, axes[1]!];
  const group = (a.group as number | undefined) ?? 1;
  const [N, C] = [x!.shape[0]!, x!.shape[1]!];
  const Mo = w!.shape[0]!;
  const Cg = C / group,
    Mg = Mo / group;
  const rowsK = Cg * H.k * W.k,
    cols = H.outD * W.outD;
  ctx.scratch(0, rowsK * cols * 4);
  const xImg = C * H.inD * W.inD * 4,
    oImg = Mo * cols * 4;
  return (f) => {
    const m = f.mod;
    const { i32 } = binaryen;
    if (numelOf(out.shape) === 0) return [];
    const col = ctx.scratchBase;
    const mm = matmulKernel(ctx, Mg, rowsK, cols);
    const L = () => f.local(i32);
    const [img, gi, c, ki, kj, oh, ow, dst, ih, iw, src] = [L(), L(), L(), L(), L(), L(), L(), L(), L(), L(), L()];
    const inRange = (v: number, lim: number) => m.i32.lt_u(f.get(v), m.i32.const(lim));
    // ih = oh*stride - pad + ki*dil (same for w); out-of-range reads are zero
    const elem: Expr[] = [
      f.set(
        iw,
        m.i32.add(m.i32.sub(m.i32.mul(f.get(ow), m.i32.const(W.stride)), m.i32.const(W.pad)), m.i32.mul(f.get(kj), m.i32.const(W.dil))),
      ),
      m.f32.store(
        0,
        4,
        f.get(dst),
        m.if(
          m.i32.and(inRange(ih, H.inD), inRange(iw, W.inD)),
          m.f32.load(
            0,
            4,
            m.i32.add(f.get(src), m.i32.shl(m.i32.add(m.i32.mul(f.get(ih), m.i32.const(W.inD)), f.get(iw)), m.i32.const(2))),
          ),
          m.f32.const(0),
        ),
      ),
      f.incr(dst, 4),
    ];
    const rowLoop = [
      f.set(
        ih,
        m.i32.add(m.i32.sub(m.i32.mul(f.get(oh), m.i32.const(H.stride)), m.i32.const(H.pad)), m.i32.mul(f.get(ki), m.i32.const(H.dil))),
      ),
      f.loop(ow, m.i32.const(W.outD), elem),
    ];
    const perChannel = [
      f.set(
        src,
        m.i32.add(
          m.i32.add(m.i32.const(ctx.addrOf(x!)), m.i32.mul(f.get(img), m.i32.const(xImg))),
          m.i32.mul(m.i32.add(m.i32.mul(f.get(gi), m.i32.const(Cg)), f.get(c)), m.i32.const(H.inD * W.inD * 4)),
        ),
      ),
      f.loop(ki, m.i32.const(H.k), [f.loop(kj, m.i32.const(W.k), [f.loop(oh, m.i32.const(H.outD), rowLoop)])]),
    ];
    const perGroup = [
      f.set(dst, m.i32.const(col)),
      f.loop(c, m.i32.const(Cg), perChannel),
      m.call(
        mm,
        [
          m.i32.add(m.i32.const(ctx.addrOf(w!)), m.i32.mul(f.get(gi), m.i32.const(Mg * rowsK * 4))),
          m.i32.const(col),
          m.i32.add(
            m.i32.add(m.i32.const(ctx.addrOf(out)), m.i32.mul(f.get(img), m.i32.const(oImg))),
            m.i32.mul(f.get(gi), m.i32.const(Mg * cols * 4)),
          ),
        ],
        binaryen.none,
      ),
    ];
    const res: Expr[] = [f.loop(img, m.i32.const(N), [f.loop(gi, m.i32.const(group), perGroup)])];
    if (b) {
      const ov = viewOf(ctx, out, [N, Mo, cols]);
      res.push(
        emitMap(
          ctx,
          f,
          [N, Mo, cols],
          ov,
          [ov, { addr: ctx.addrOf(b), dtype: 'f32', strides: [0, 1, 0] }],
          (g) => m.f32.add(g(0), g(1)),
          (g) => m.f32x4.add(g(0), g(1)),
        ),
      );
    }
    return res;
  };
};
