/**
 * The floor under tfjs on WebGPU: the cost of one compute dispatch through the raw WebGPU API (Dawn in
 * Node), with no tfjs in between. 200 chained dispatches of a trivial element-wise kernel on 78,400
 * floats, one read-back at the end, in three styles: (a) one bind group and one compute pass for all,
 * (b) a new bind group and uniform write per dispatch, one pass, (c) like (b) plus a new compute pass
 * per dispatch (what tfjs 4.22 does between its deferred submits). Read-back alone is timed too.
 */
export interface RawResult {
  readonly workload: string;
  readonly medianMs: number;
  readonly unit: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Runs the raw-dispatch micro-benchmarks on `device` (a GPUDevice). */
export async function runRawDispatch(device: any, onResult: (r: RawResult) => void, runs = 15): Promise<void> {
  const GPUBufferUsage = (globalThis as any).GPUBufferUsage;
  const GPUMapMode = (globalThis as any).GPUMapMode;
  const n = 78400;
  const chain = 200;
  const module = device.createShaderModule({
    code: `@group(0) @binding(0) var<storage, read_write> a: array<f32>;
struct U { k: f32, n: u32 };
@group(0) @binding(1) var<uniform> u: U;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < u.n) { a[g.x] = a[g.x] * 0.5 + u.k; }
}`,
  });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const buf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const staging = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const uniforms = Array.from({ length: chain }, () => device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }));
  const groups = uniforms.map((u: any) => device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }, { binding: 1, resource: { buffer: u } }] }));
  const u8 = new ArrayBuffer(16);
  new Float32Array(u8, 0, 1)[0] = 1;
  new Uint32Array(u8, 4, 1)[0] = n;
  for (const u of uniforms) device.queue.writeBuffer(u, 0, u8);
  const wg = Math.ceil(n / 64);
  const readBack = async (): Promise<void> => {
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(buf, 0, staging, 0, n * 4);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    staging.getMappedRange();
    staging.unmap();
  };
  const styles: Record<string, () => Promise<void>> = {
    'raw-one-pass-one-group': async () => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, groups[0]);
      for (let i = 0; i < chain; i++) pass.dispatchWorkgroups(wg);
      pass.end();
      device.queue.submit([enc.finish()]);
      await readBack();
    },
    'raw-new-group-per-dispatch': async () => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      for (let i = 0; i < chain; i++) {
        device.queue.writeBuffer(uniforms[i], 0, u8);
        pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }, { binding: 1, resource: { buffer: uniforms[i] } }] }));
        pass.dispatchWorkgroups(wg);
      }
      pass.end();
      device.queue.submit([enc.finish()]);
      await readBack();
    },
    'raw-new-pass-per-dispatch-submit-15': async () => {
      let enc = device.createCommandEncoder();
      for (let i = 0; i < chain; i++) {
        device.queue.writeBuffer(uniforms[i], 0, u8);
        const pass = enc.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }, { binding: 1, resource: { buffer: uniforms[i] } }] }));
        pass.dispatchWorkgroups(wg);
        pass.end();
        if (i % 15 === 14) {
          device.queue.submit([enc.finish()]);
          enc = device.createCommandEncoder();
        }
      }
      device.queue.submit([enc.finish()]);
      await readBack();
    },
    'raw-read-back-only': readBack,
  };
  // Single calls, 2,000 each (JS → Dawn), to see which part of a dispatch costs.
  const layout = pipeline.getBindGroupLayout(0);
  const entries = [{ binding: 0, resource: { buffer: buf } }, { binding: 1, resource: { buffer: uniforms[0] } }];
  const calls: Record<string, () => void> = {
    'call-getBindGroupLayout': () => pipeline.getBindGroupLayout(0),
    'call-createBindGroup': () => device.createBindGroup({ layout, entries }),
    'call-writeBuffer-16B': () => device.queue.writeBuffer(uniforms[0], 0, u8),
    'call-encoder-pass-submit': () => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.end();
      device.queue.submit([enc.finish()]);
    },
  };
  for (const [name, f] of Object.entries(calls)) {
    const t: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      for (let i = 0; i < 2000; i++) f();
      t.push((performance.now() - t0) / 2000);
    }
    await readBack();
    onResult({ workload: name, medianMs: Math.round(median(t) * 1e5) / 1e5, unit: 'ms per call (2,000 in a row)' });
  }
  for (const [name, f] of Object.entries(styles)) {
    for (let i = 0; i < 3; i++) await f();
    const t: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await f();
      t.push(performance.now() - t0);
    }
    const per = name === 'raw-read-back-only' ? 1 : chain;
    onResult({ workload: name, medianMs: Math.round((median(t) / per) * 1e4) / 1e4, unit: per === 1 ? 'ms per read-back of 78,400 floats' : `ms per dispatch (${chain} chained, one read-back)` });
  }
  for (const b of [buf, staging, ...uniforms]) b.destroy();
}
