/**
 * Writes assets/data/font-digits.json + font-digits.bin.gz: the digits 0–9 rendered from every font
 * family installed on this machine (fc-list), in normal/bold weight, upright/italic, at several
 * sizes, with canvas fillText in headless Chromium (playwright-core), then put through the same
 * MNIST-style preprocessing the extension uses (src/core/image/preprocess.ts: grayscale, invert the
 * light background, crop, fit 20×20, centre by mass in 28×28). Exact duplicates (a family the
 * browser resolves to another one) are dropped. Run once at development time:
 * `npx tsx training/font-digits.ts`; reading the files needs no browser (parseFontDigits).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { preprocess } from '../src/core/image/preprocess';
import { CHROMIUM, withTimeout } from '../src/cli/browser';
import { FONT_DIGITS_BIN, FONT_DIGITS_DIR, FONT_DIGITS_JSON, type FontDigitsMeta, type FontVariant } from '../src/core/metrics/reproduce-bradshaw';

const CANVAS = 160;
const WEIGHTS = ['normal', 'bold'] as const;
const STYLES = ['normal', 'italic'] as const;
const SIZES = [24, 48, 96] as const;

/** Font families fontconfig knows, first name of each entry, sorted and unique. */
function families(): string[] {
  const out = execFileSync('fc-list', [':', 'family'], { encoding: 'utf8' });
  const names = new Set<string>();
  for (const line of out.split('\n')) {
    const name = line.split(',')[0]?.trim();
    if (name) names.add(name);
  }
  return [...names].sort();
}

async function main(): Promise<void> {
  const fams = families();
  if (fams.length === 0) throw new Error('fc-list lists no fonts');
  const variants: FontVariant[] = [];
  for (const family of fams) for (const weight of WEIGHTS) for (const style of STYLES) for (const sizePx of SIZES) variants.push({ family, weight, style, sizePx });
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-first-run', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-pings'],
  });
  try {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><canvas id="c"></canvas>');
    // Grey levels (0..255, black ink on white) of each digit of each variant, base64, CANVAS×CANVAS each.
    const rendered = await withTimeout(page.evaluate(({ variants: vs, side }) => {
      const canvas = document.getElementById('c') as HTMLCanvasElement;
      canvas.width = side;
      canvas.height = side;
      const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
      const out: string[][] = [];
      for (const v of vs) {
        const row: string[] = [];
        for (let d = 0; d < 10; d++) {
          ctx.fillStyle = '#fff';
          ctx.fillRect(0, 0, side, side);
          ctx.fillStyle = '#000';
          ctx.font = `${v.style} ${v.weight} ${v.sizePx}px "${v.family}"`;
          ctx.textAlign = 'center';
          ctx.textBaseline = 'middle';
          ctx.fillText(String(d), side / 2, side / 2);
          const px = ctx.getImageData(0, 0, side, side).data;
          let s = '';
          for (let i = 0; i < px.length; i += 4) s += String.fromCharCode(px[i]);
          row.push(btoa(s));
        }
        out.push(row);
      }
      return out;
    }, { variants, side: CANVAS }), 300_000, 'rendering the font digits');
    const seen = new Set<string>();
    const kept: { pixels: Uint8Array; label: number; variant: number }[] = [];
    const keptVariants: FontVariant[] = [];
    rendered.forEach((row, vi) => {
      row.forEach((b64, digit) => {
        const grey = Buffer.from(b64, 'base64');
        const rgba = new Uint8Array(CANVAS * CANVAS * 4);
        for (let i = 0; i < grey.length; i++) {
          rgba[4 * i] = grey[i];
          rgba[4 * i + 1] = grey[i];
          rgba[4 * i + 2] = grey[i];
          rgba[4 * i + 3] = 255;
        }
        const p = preprocess({ width: CANVAS, height: CANVAS, data: rgba }, { mode: 'mnist' });
        const bytes = Uint8Array.from(p.pixels, (v) => Math.round(255 * Math.min(1, Math.max(0, v))));
        const key = createHash('sha256').update(bytes).digest('hex');
        if (seen.has(key)) return;
        seen.add(key);
        let vk = keptVariants.indexOf(variants[vi]);
        if (vk < 0) vk = keptVariants.push(variants[vi]) - 1;
        kept.push({ pixels: bytes, label: digit, variant: vk });
      });
    });
    const bin = new Uint8Array(kept.length * 784);
    kept.forEach((k, i) => bin.set(k.pixels, i * 784));
    const meta: FontDigitsMeta = {
      about: 'Digits 0-9 rendered with canvas fillText (black on white) in headless Chromium from every font family installed on the generating machine '
        + '(normal/bold, upright/italic, several pixel sizes), then MNIST-style preprocessed (src/core/image/preprocess.ts) to 28x28; exact duplicates dropped. '
        + 'Generated by training/font-digits.ts. Pixels: uint8 (0 = background, 255 = ink), row-major, gzipped, one image after another.',
      file: FONT_DIGITS_BIN,
      n: kept.length,
      rows: 28,
      cols: 28,
      labels: kept.map((k) => k.label),
      variantOf: kept.map((k) => k.variant),
      variants: keptVariants,
      chromium: browser.version(),
    };
    mkdirSync(FONT_DIGITS_DIR, { recursive: true });
    const gz = gzipSync(Buffer.from(bin), { level: 9 });
    writeFileSync(join(FONT_DIGITS_DIR, FONT_DIGITS_BIN), gz);
    writeFileSync(join(FONT_DIGITS_DIR, FONT_DIGITS_JSON), `${JSON.stringify(meta)}\n`);
    console.log(`${kept.length} images of ${variants.length * 10} rendered (${fams.length} families: ${fams.join(', ')}); ${FONT_DIGITS_BIN} ${gz.length} bytes`);
  } finally {
    await browser.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
