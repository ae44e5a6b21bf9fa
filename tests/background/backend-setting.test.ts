import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendSetting, type BackendSettingDeps } from '../../src/background/backend-setting';
import * as engine from '../../src/background/engine';
import { ProbeService } from '../../src/background/service';
import { serveStatic, type StaticServer } from '../../src/cli/serve';
import { loadMnist } from '../../src/cli/data';
import type { BackendName } from '../../src/protocol/types';
import { captureDigit } from '../helpers/service';

/**
 * The compute-backend setting ('probe/set-backend', the benchmark's --backend) with the real engine in Node, where
 * wasm and cpu work and WebGPU/WebGL do not: the stored preference is applied first, a switch drops the models of
 * the old backend (no tensor left) and the next load runs on the new one with the same predictions, a backend that
 * does not work is refused with BACKEND_FAILED leaving everything as it was, and a switch waits for queued jobs.
 */
const WASM_DIR = `${resolve('node_modules/@tensorflow/tfjs-backend-wasm/dist')}/`;
const MODEL = 'mnist-lenet';

let server: StaticServer;
let folderUrlOf: (id: string) => string;
let pixels: Float32Array;
const writes: (BackendName | null)[] = [];

function deps(stored: unknown, exclusive: BackendSettingDeps['exclusive'] = (t) => t()): BackendSettingDeps {
  return {
    read: async () => stored,
    write: async (name) => {
      writes.push(name);
    },
    exclusive,
    wasmDir: WASM_DIR,
  };
}

async function predictions(): Promise<number[]> {
  const m = await engine.getModel(MODEL, folderUrlOf);
  const x = tf.tensor4d(pixels, [20, 28, 28, 1]);
  const logits = m.logits(x);
  const labels = logits.argMax(-1);
  const out = Array.from(await labels.data());
  tf.dispose([x, logits, labels]);
  return out;
}

beforeAll(async () => {
  server = await serveStatic('models');
  folderUrlOf = (id) => `${server.url}/${id}/`;
  const test = loadMnist('test');
  pixels = test.images.slice(0, 20 * 784);
});
afterAll(async () => {
  await server.close();
});

describe('BackendSetting with the real engine (Node: wasm and cpu work, webgpu and webgl do not)', () => {
  it('applies the stored preference before the first choice, switches with the models reloaded, refuses a backend that fails, and returns to automatic', async () => {
    const setting = new BackendSetting(deps('cpu'));
    expect(await setting.view()).toMatchObject({ backend: 'cpu', preference: 'cpu', notUsed: [] });
    expect(tf.getBackend()).toBe('cpu');
    const onCpu = await predictions();
    const cpuModel = await engine.getModel(MODEL, folderUrlOf);
    const oneModel = tf.memory().numTensors;

    // To wasm: stored, the cpu model dropped (its tensors freed) and loaded again on wasm, same predictions.
    expect(await setting.set('wasm')).toMatchObject({ backend: 'wasm', preference: 'wasm' });
    expect(writes).toEqual(['wasm']);
    expect(tf.getBackend()).toBe('wasm');
    expect(await predictions()).toEqual(onCpu);
    const wasmModel = await engine.getModel(MODEL, folderUrlOf);
    expect(wasmModel).not.toBe(cpuModel);
    expect(tf.memory().numTensors).toBe(oneModel);

    // WebGL does not exist in Node: refused with its reason, nothing stored, nothing dropped.
    const refused = await setting.set('webgl').catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'BACKEND_FAILED', message: expect.stringContaining('webgl') });
    expect(writes).toEqual(['wasm']);
    expect(await setting.view()).toMatchObject({ backend: 'wasm', preference: 'wasm' });
    expect(tf.getBackend()).toBe('wasm');
    expect(await engine.getModel(MODEL, folderUrlOf)).toBe(wasmModel);

    // Automatic: the measured order (webgpu, webgl, wasm), each skipped backend with its reason; wasm again, so the model stays.
    const auto = await setting.set(null);
    expect(auto).toMatchObject({ backend: 'wasm', preference: null });
    expect(auto.notUsed.map((n) => n.backend)).toEqual(['webgpu', 'webgl']);
    for (const n of auto.notUsed) expect(n.reason.length).toBeGreaterThan(0);
    expect(writes).toEqual(['wasm', null]);
    expect(await engine.getModel(MODEL, folderUrlOf)).toBe(wasmModel);

    // The benchmark's backend for one run: cpu inside, then automatic (wasm) again; nothing stored.
    const inside = await setting.during('cpu', async (b) => {
      expect(tf.getBackend()).toBe('cpu');
      expect(await predictions()).toEqual(onCpu);
      return b;
    });
    expect(inside).toBe('cpu');
    expect(await setting.view()).toMatchObject({ backend: 'wasm', preference: null });
    expect(writes).toEqual(['wasm', null]);
    expect(await predictions()).toEqual(onCpu);
    expect(tf.memory().numTensors).toBe(oneModel);
  });

  it('a stored value that is not a backend name is ignored (automatic)', async () => {
    const setting = new BackendSetting(deps('gpu9000'));
    expect(await setting.view()).toMatchObject({ backend: 'wasm', preference: null });
  });

  it('a switch waits for the jobs queued before it (ProbeService.exclusive), counted as queued meanwhile but not as a job done', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const service = new ProbeService({
      capture: async (req) => {
        await gate;
        order.push('probe captured');
        return captureDigit(req);
      },
      model: (id) => engine.getModel(id, folderUrlOf),
      backend: async () => tf.getBackend(),
      persist() {},
      now: () => 0,
    });
    const setting = new BackendSetting(deps(null, (t) => service.exclusive(t)));
    await setting.view();
    const probe = service.probeImage({ tabId: 1, frameId: 0, srcUrl: 'http://x/d3.png', pageUrl: 'http://x/' });
    const switched = setting.set('cpu').then((v) => {
      order.push('switched');
      return v;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(order).toEqual([]);
    expect(service.queueStats().queued).toBe(2);
    expect(tf.getBackend()).toBe('wasm');
    release();
    const [state, view] = await Promise.all([probe, switched]);
    expect(order).toEqual(['probe captured', 'switched']);
    expect(state).toMatchObject({ status: 'done', backend: 'wasm' });
    expect(view).toMatchObject({ backend: 'cpu', preference: 'cpu' });
    expect(service.queueStats()).toMatchObject({ queued: 0, done: 1 });
    await setting.set(null);
  });
});
