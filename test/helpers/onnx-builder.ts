/**
 * Test-side entry to the ONNX model builder (the library's `compiler/onnx/builder.ts`), so tests import
 * one helper path whatever the library layout becomes.
 */
export * from '../../compiler/onnx/builder.js';
export { dtypeFromOnnx, dtypeToOnnx, tensorFromProto } from '../../compiler/onnx/tensor.js';
