/**
 * Small host-side helpers over a GPUDevice: storage buffers from typed arrays, one compute dispatch
 * with a bind group in binding order, and read-back. Used by the kernel runner and the model host.
 */

export type Bindable = GPUBuffer;

/** A storage buffer holding `data` (padded to 4 bytes; at least 4 bytes so empty arrays bind). */
export function storageBuffer(device: GPUDevice, data: ArrayBufferView | number, extraUsage = 0): GPUBuffer {
  const bytes = typeof data === 'number' ? data : data.byteLength;
  const size = Math.max(4, Math.ceil(bytes / 4) * 4);
  const buf = device.createBuffer({
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
    mappedAtCreation: typeof data !== 'number',
  });
  if (typeof data !== 'number') {
    new Uint8Array(buf.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buf.unmap();
  }
  return buf;
}

/** Storage access of each binding 0..n-1 of group 0, in order. */
export type BindingAccess = ('read' | 'rw')[];

/**
 * Compiles a compute pipeline with an explicit layout (an 'auto' layout would drop bindings a shader
 * variant does not use, and the host binds the same buffers for every variant). WGSL errors and
 * validation errors surface as a thrown Error with the compiler's messages: they are lutc bugs.
 */
export async function computePipeline(
  device: GPUDevice,
  code: string,
  entryPoint: string,
  access: BindingAccess,
): Promise<GPUComputePipeline> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  const errs = info.messages.filter((m) => m.type === 'error');
  if (errs.length)
    throw new Error(`WGSL compile error (${entryPoint}):\n${errs.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('\n')}`);
  const layout = device.createBindGroupLayout({
    entries: access.map((a, binding) => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: a === 'read' ? 'read-only-storage' : 'storage' },
    })),
  });
  const pipeline = await device.createComputePipelineAsync({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint },
  });
  const err = await device.popErrorScope();
  if (err) throw new Error(`WebGPU pipeline error (${entryPoint}): ${err.message}`);
  return pipeline;
}

/** Records one dispatch of `pipeline` with `buffers` bound at bindings 0..n-1 of group 0. */
export function dispatch(
  enc: GPUCommandEncoder,
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  buffers: GPUBuffer[],
  groups: [number, number, number],
): void {
  const bg = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bg);
  pass.dispatchWorkgroups(...groups);
  pass.end();
}

/** Copies `bytes` bytes of `src` back to the host. */
export async function readBack(device: GPUDevice, src: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  const size = Math.max(4, Math.ceil(bytes / 4) * 4);
  const rb = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, rb, 0, size);
  device.queue.submit([enc.finish()]);
  await rb.mapAsync(GPUMapMode.READ);
  const out = rb.getMappedRange().slice(0, bytes);
  rb.unmap();
  rb.destroy();
  return out;
}
