/**
 * Writes the bundled demo page (assets/demo/) and the extension icons (assets/icons/) from the
 * real MNIST test set. Run: npm run assets. Deterministic: the same files every time.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resampleArea } from '../src/core/image/preprocess';
import { loadMnist } from '../src/cli/data';
import { DARK, LIGHT, encodePng, renderDigit } from '../src/cli/png';

const DEMO = 'assets/demo';
const DIGITS = join(DEMO, 'digits');
/** How many MNIST test digits go on the demo page (first N of the test set). */
export const DEMO_DIGITS = 12;

function icon(pixels: Float32Array, size: number): Buffer {
  const big = renderDigit(pixels, 8, [255, 255, 255], [40, 48, 90], 16);
  const gray = new Float32Array(big.width * big.height * 3);
  for (let i = 0, p = 0; i < big.width * big.height; i++, p += 4) {
    gray[i * 3] = big.data[p];
    gray[i * 3 + 1] = big.data[p + 1];
    gray[i * 3 + 2] = big.data[p + 2];
  }
  const data = new Uint8Array(size * size * 4);
  for (let c = 0; c < 3; c++) {
    const ch = new Float32Array(big.width * big.height);
    for (let i = 0; i < ch.length; i++) ch[i] = gray[i * 3 + c];
    const small = resampleArea(ch, big.width, big.height, size, size);
    for (let i = 0; i < size * size; i++) {
      // A red speckle in one corner: the "adversarial" mark.
      const x = i % size;
      const y = Math.floor(i / size);
      const mark = x > size * 0.62 && y > size * 0.62 && (x + y) % 2 === 0;
      data[i * 4 + c] = mark ? [230, 60, 60][c] : Math.round(small[i]);
    }
  }
  for (let i = 0; i < size * size; i++) data[i * 4 + 3] = 255;
  return encodePng({ width: size, height: size, data });
}

function main(): void {
  const test = loadMnist('test');
  const digit = (i: number): Float32Array => test.images.subarray(i * 784, i * 784 + 784);
  mkdirSync('assets/icons', { recursive: true });
  for (const s of [16, 48, 128]) writeFileSync(`assets/icons/icon${s}.png`, icon(digit(0), s));

  rmSync(DIGITS, { recursive: true, force: true });
  mkdirSync(DIGITS, { recursive: true });
  const cards: string[] = [];
  for (let i = 0; i < DEMO_DIGITS; i++) {
    const style = i % 2 === 0 ? 'light' : 'dark';
    const { ink, paper } = style === 'light' ? LIGHT : DARK;
    const name = `mnist-test-${String(i).padStart(4, '0')}-${style}.png`;
    writeFileSync(join(DIGITS, name), encodePng(renderDigit(digit(i), 4, ink, paper, 8)));
    cards.push(
      `<figure class="${style}"><img src="digits/${name}" alt="MNIST test digit ${i}" data-label="${test.labels[i]}" data-kind="digit"><figcaption>test #${i} · label ${test.labels[i]} · ${style}</figcaption></figure>`,
    );
  }
  // An off-centre digit on a wide card: preprocessing must crop and centre it.
  const off = renderDigit(digit(DEMO_DIGITS), 3, LIGHT.ink, LIGHT.paper, 0);
  const W = 260;
  const H = 140;
  const wide = new Uint8Array(W * H * 4);
  for (let p = 0; p < W * H; p++) wide.set([LIGHT.paper[0], LIGHT.paper[1], LIGHT.paper[2], 255], p * 4);
  for (let y = 0; y < off.height; y++) {
    for (let x = 0; x < off.width; x++) wide.set(off.data.subarray((y * off.width + x) * 4, (y * off.width + x) * 4 + 4), ((y + 40) * W + x + 150) * 4);
  }
  const offName = `mnist-test-${String(DEMO_DIGITS).padStart(4, '0')}-offcentre.png`;
  writeFileSync(join(DIGITS, offName), encodePng({ width: W, height: H, data: wide }));
  cards.push(
    `<figure class="light"><img src="digits/${offName}" alt="MNIST test digit ${DEMO_DIGITS}, off centre" data-label="${test.labels[DEMO_DIGITS]}" data-kind="digit"><figcaption>test #${DEMO_DIGITS} · label ${test.labels[DEMO_DIGITS]} · off-centre</figcaption></figure>`,
  );
  const photos = readdirSync(join(DEMO, 'photos')).filter((f) => /\.(png|jpe?g)$/.test(f)).sort();
  const photoCards = photos.map(
    (f) => `<figure class="photo"><img src="photos/${f}" alt="photo ${f}" data-kind="photo"><figcaption>${f} (not a digit: watch the model be confidently wrong)</figcaption></figure>`,
  );
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Adversarial Probe — demo page</title>
<link rel="stylesheet" href="demo.css">
</head>
<body>
<h1>Adversarial Probe — demo page</h1>
<p>Right-click any image and choose <b>Probe this image</b>. Digits are real MNIST test images (label shown), on light and dark backgrounds.</p>
<section class="grid">
${cards.join('\n')}
</section>
<h2>Photos</h2>
<section class="grid">
${photoCards.join('\n')}
</section>
</body>
</html>
`;
  writeFileSync(join(DEMO, 'index.html'), html);
  console.log(`wrote ${cards.length} digits, ${photos.length} photos, 3 icons`);
}

main();
