import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../src/cli/backend';
import { loadMnist } from '../../src/cli/data';
import { loadShippedClassifier, MODELS_DIR } from '../../src/cli/models';
import { LIGHT, renderDigit } from '../../src/cli/png';
import { BrowseService, classifyBadge, type BadgeGp, type BrowseDeps } from '../../src/background/browse';
import { BROWSE_ORIGINS_KEY } from '../../src/background/browse-sites';
import { parseUncertaintyCalibrationFile, uncertaintyCalibrationOf } from '../../src/core/defenses/calibration';
import { isUncertain } from '../../src/core/defenses/uncertainty';
import { catalogEntry } from '../../src/core/models/catalog';
import type { Classifier } from '../../src/core/models/types';
import { bytesToBase64 } from '../../src/protocol/base64';
import type { CapturedImage } from '../../src/protocol/types';

/** Browse-mode badges in the service worker, on the shipped models (wasm) and real MNIST test digits drawn as a page shows them. */
const test = loadMnist('test');
const models = new Map<string, Promise<Classifier>>();
const model = (id: string): Promise<Classifier> => {
  if (!models.has(id)) models.set(id, loadShippedClassifier(id));
  return models.get(id) as Promise<Classifier>;
};
let gp: BadgeGp;

const page = (i: number): CapturedImage => {
  const img = renderDigit(test.images.subarray(i * 784, (i + 1) * 784), 2, LIGHT.ink, LIGHT.paper, 4);
  return { width: img.width, height: img.height, naturalWidth: img.width, naturalHeight: img.height, rgbaBase64: bytesToBase64(img.data) };
};

beforeAll(async () => {
  await useNodeBackend('wasm');
  const g = await model('mnist-gpdnn');
  if (!isUncertain(g)) throw new Error('mnist-gpdnn is not Uncertain');
  const file = parseUncertaintyCalibrationFile(JSON.parse(readFileSync(join(MODELS_DIR, 'mnist-gpdnn', 'uncertainty.json'), 'utf8')) as unknown);
  gp = { model: g, calibration: uncertaintyCalibrationOf(file) };
  await model('mnist-lenet');
  await model('fashion-cnn');
});

const ORIGIN = 'http://127.0.0.1:8080';

type FakeDeps = BrowseDeps & { stored: unknown; told: [string, boolean][]; probed: unknown[] };

function fakeDeps(over: Partial<BrowseDeps> = {}): FakeDeps {
  const d: FakeDeps = {
    stored: undefined,
    told: [],
    probed: [],
    readOrigins: async (): Promise<unknown> => d.stored,
    writeOrigins: async (list: string[]) => {
      d.stored = list;
    },
    tabUrl: async (tabId: number) => (tabId === 1 ? `${ORIGIN}/digits.html` : tabId === 2 ? 'chrome://extensions/' : null),
    tellOrigin: async (o: string, e: boolean) => {
      d.told.push([o, e]);
    },
    modelIdOf: () => 'mnist-lenet',
    model,
    gpdnn: async () => gp,
    backend: async () => tf.getBackend(),
    busy: () => false,
    probe: (req: unknown) => {
      d.probed.push(req);
    },
    ...over,
  };
  return d;
}

const sender = { tab: { id: 1, url: `${ORIGIN}/digits.html` }, frameId: 0, url: `${ORIGIN}/digits.html` };

describe('browse mode in the service worker', () => {
  it('badges real digits with the right class, a confidence and the GPDNN flag; tensors back to baseline', async () => {
    const deps = fakeDeps();
    deps.stored = [ORIGIN];
    const s = new BrowseService(deps);
    // Warm up once (first run compiles kernels), then measure tensors.
    await s.classify(sender, page(0));
    const before = tf.memory().numTensors;
    let right = 0;
    for (let i = 0; i < 20; i++) {
      const b = await s.classify(sender, page(i));
      expect(b.modelId).toBe('mnist-lenet');
      expect(b.confidence).toBeGreaterThan(0);
      expect(b.confidence).toBeLessThanOrEqual(1);
      expect(typeof b.unsure).toBe('boolean');
      if (b.label === test.labels[i]) right++;
    }
    expect(right).toBeGreaterThanOrEqual(19);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a Fashion-MNIST model gets no GPDNN verdict (unsure: null)', async () => {
    const entry = catalogEntry('fashion-cnn');
    if (!entry) throw new Error('fashion-cnn missing from the catalog');
    const m = await model('fashion-cnn');
    const img = page(1);
    const before = tf.memory().numTensors;
    const b = await classifyBadge(m, entry, { width: img.width, height: img.height, data: Uint8Array.from(Buffer.from(img.rgbaBase64, 'base64')) }, gp, 'wasm');
    expect(b.unsure).toBeNull();
    expect(b.modelId).toBe('fashion-cnn');
    expect(m.classNames).toContain(b.className);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stores the per-site switch as a list of origins and tells that site’s tabs', async () => {
    const deps = fakeDeps();
    const s = new BrowseService(deps);
    expect(await s.getSite(1)).toEqual({ origin: ORIGIN, enabled: false });
    expect(await s.setSite(1, true)).toEqual({ origin: ORIGIN, enabled: true });
    expect(deps.stored).toEqual([ORIGIN]);
    expect(await s.getSite(1)).toEqual({ origin: ORIGIN, enabled: true });
    expect(await s.setSite(1, false)).toEqual({ origin: ORIGIN, enabled: false });
    expect(deps.stored).toEqual([]);
    expect(deps.told).toEqual([[ORIGIN, true], [ORIGIN, false]]);
    // Browser pages cannot be switched on: a coded error, nothing stored.
    expect(await s.getSite(2)).toEqual({ origin: null, enabled: false });
    await expect(s.setSite(2, true)).rejects.toMatchObject({ code: 'UNSUPPORTED_PAGE' });
    expect(deps.stored).toEqual([]);
  });

  it('reads as off where the site is stored but no longer allowed (grant withdrawn in the browser’s settings)', async () => {
    let allowed = true;
    const deps = { ...fakeDeps(), allowed: async () => allowed };
    const s = new BrowseService(deps);
    await s.setSite(1, true);
    expect(await s.getSite(1)).toEqual({ origin: ORIGIN, enabled: true });
    allowed = false;
    expect(await s.getSite(1)).toEqual({ origin: ORIGIN, enabled: false });
    // A content script left in the page asks in vain.
    await expect(s.classify(sender, page(0))).rejects.toMatchObject({ code: 'FORBIDDEN_SENDER' });
  });

  it('refuses badge requests from sites that are switched off, from no tab, and malformed pixels', async () => {
    const deps = fakeDeps();
    const s = new BrowseService(deps);
    await expect(s.classify(sender, page(0))).rejects.toMatchObject({ code: 'FORBIDDEN_SENDER' });
    deps.stored = [ORIGIN];
    await expect(s.classify({ url: `${ORIGIN}/x` }, page(0))).rejects.toMatchObject({ code: 'FORBIDDEN_SENDER' });
    await expect(s.classify(sender, { ...page(0), width: 3 })).rejects.toMatchObject({ code: 'BAD_MESSAGE' });
    expect(() => s.open({ url: ORIGIN }, 'http://x/y.png')).toThrow(expect.objectContaining({ code: 'FORBIDDEN_SENDER' }));
  });

  it('a badge click probes that image in the sender’s tab and frame, as the context menu does', () => {
    const deps = fakeDeps();
    const s = new BrowseService(deps);
    expect(s.open({ ...sender, frameId: 3 }, `${ORIGIN}/d4.png`)).toEqual({ started: true });
    expect(deps.probed).toEqual([{ tabId: 1, frameId: 3, srcUrl: `${ORIGIN}/d4.png`, pageUrl: `${ORIGIN}/digits.html`, frameUrl: `${ORIGIN}/digits.html` }]);
  });

  it('badges wait while the probe queue is busy (the user goes first)', async () => {
    let busy = true;
    const deps = fakeDeps({ busy: () => busy });
    deps.stored = [ORIGIN];
    const s = new BrowseService(deps);
    let done = false;
    const p = s.classify(sender, page(2)).then((b) => {
      done = true;
      return b;
    });
    await new Promise((r) => setTimeout(r, 80));
    expect(done).toBe(false);
    busy = false;
    expect((await p).label).toBe(test.labels[2]);
  });
});
