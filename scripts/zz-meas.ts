import '/work/main/ir/ops/index.js';
import { interpret } from '/work/main/ir/interpret.js';
import { quantizeMatrix } from '/work/main/compiler/quantize.js';
import { weightRows } from '/work/main/ir/lut/weights.js';
import { dequantRef, errors, linearGraph, randTensor, rng } from '/work/main/test/lut/util.js';
import { runPipeline } from '/work/main/compiler/pipeline.js';
for (const [m,k,n,bits,gs] of [[1,64,16,2,32],[3,100,13,4,64],[2,203,37,1,128],[5,260,19,3,64],[4,600,33,4,128],[2,1024,32,2,128]] as const) {
  const r = rng(k*31+n); const w = randTensor(r,[k,n]); const x = randTensor(r,[m,k]);
  const g = linearGraph(m, w); runPipeline(g, {target:'ref', bits, groupSize: gs, tables:'i8'});
  const y = interpret(g,{x})[0]!; const qm = quantizeMatrix(weightRows(w,false).w, n, k, {bits, groupSize: gs});
  console.log(m,k,n,bits,gs, errors(y.data as Float32Array, dequantRef(x.data as Float32Array, m, qm)).relL2.toFixed(4));
}
