/**
 * `npm run demo`: the main job on the embedded default. Builds (npm script) then opens Chromium
 * with the extension on the bundled demo page (assets/demo). With a display it stays open for
 * you to right-click images; without one (or with --headless) it probes every demo image
 * through the real context-menu listener, saves popup screenshots and a JSON report.
 *   npm run demo [-- --headless] [--out out/demo]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fireProbe, launchExtension, openPopup, readPopup, type PopupReading } from './browser';
import { serveStatic } from './serve';

interface DemoRow {
  readonly image: string;
  readonly kind: string;
  readonly label: number | null;
  readonly reading: PopupReading;
  readonly screenshot: string;
  readonly seconds: number;
}

function argValue(argv: string[], key: string): string | undefined {
  const i = argv.indexOf(key);
  return i >= 0 ? argv[i + 1] : undefined;
}

export async function runDemo(argv: string[]): Promise<number> {
  const hasDisplay = Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
  const headless = argv.includes('--headless') || !hasDisplay || process.env.CI === 'true';
  const out = resolve(argValue(argv, '--out') ?? 'out/demo');
  const server = await serveStatic('assets/demo');
  const session = await launchExtension({ headless });
  try {
    const page = await session.context.newPage();
    await page.goto(`${server.url}/index.html`);
    if (!headless) {
      console.log(`Demo page open at ${server.url}/index.html — right-click an image and choose “Probe this image”. Close the browser to stop.`);
      await new Promise<void>((done) => session.context.on('close', () => done()));
      return 0;
    }
    mkdirSync(out, { recursive: true });
    await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete));
    await page.screenshot({ path: join(out, 'demo-page.png'), fullPage: true });
    const images = await page.$$eval('img[data-kind]', (els) =>
      els.map((el, idx) => {
        const img = el as HTMLImageElement;
        if (!img.id) img.id = `demo-img-${idx}`;
        return { id: img.id, src: img.currentSrc || img.src, kind: img.dataset.kind ?? '', label: img.dataset.label ?? null };
      }),
    );
    const rows: DemoRow[] = [];
    for (const im of images) {
      const t0 = performance.now();
      const tabId = await fireProbe(session, page, im.src, `#${im.id}`);
      const popup = await openPopup(session, tabId);
      const reading = await readPopup(popup);
      const name = im.src.split('/').pop()!.replace(/\.[a-z]+$/i, '');
      const shot = join(out, `popup-${name}.png`);
      await popup.screenshot({ path: shot, fullPage: true });
      await popup.close();
      const row: DemoRow = { image: im.src.replace(server.url, ''), kind: im.kind, label: im.label === null ? null : Number(im.label), reading, screenshot: shot, seconds: (performance.now() - t0) / 1000 };
      rows.push(row);
      const r = reading;
      const line =
        r.status === 'done'
          ? `${row.image}: ${row.label !== null ? `label ${row.label}, ` : ''}predicted ${r.prediction} (${r.confidence}); FGSM ε=0.25 → ${r.advPrediction} (${r.advConfidence}) ${r.advPrediction !== r.prediction ? 'FOOLED' : 'not fooled'}; L∞ ${r.linf}, L2 ${r.l2}; ${r.backend}`
          : `${row.image}: error ${r.errorCode}: ${r.errorText}`;
      console.log(line);
    }
    const digits = rows.filter((r) => r.label !== null && r.reading.status === 'done');
    const report = {
      createdAt: new Date().toISOString(),
      backend: rows.find((r) => r.reading.backend)?.reading.backend ?? null,
      images: rows.length,
      digits: digits.length,
      digitAccuracy: digits.length ? digits.filter((r) => r.reading.prediction === String(r.label)).length / digits.length : null,
      fgsmFlipRate: digits.length ? digits.filter((r) => r.reading.advPrediction !== r.reading.prediction).length / digits.length : null,
      rows,
    };
    writeFileSync(join(out, 'report.json'), JSON.stringify(report, null, 2));
    console.log(`report: ${join(out, 'report.json')} (${rows.length} images, screenshots in ${out})`);
    return rows.every((r) => r.reading.status === 'done') ? 0 : 1;
  } finally {
    await session.close();
    await server.close();
  }
}

runDemo(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
