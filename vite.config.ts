import { crx } from '@crxjs/vite-plugin';
import preact from '@preact/preset-vite';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import manifest from './manifest.json';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** Ships the trained models and the tfjs wasm binaries inside the extension (no remote code or weights). */
function staticFiles(): Plugin {
  const wasmDir = 'node_modules/@tensorflow/tfjs-backend-wasm/dist';
  return {
    name: 'probe-static-files',
    apply: 'build',
    generateBundle() {
      for (const file of filesUnder('models')) {
        this.emitFile({ type: 'asset', fileName: relative('.', file), source: readFileSync(file) });
      }
      for (const name of readdirSync(wasmDir).filter((n) => n.endsWith('.wasm'))) {
        this.emitFile({ type: 'asset', fileName: `wasm/${name}`, source: readFileSync(join(wasmDir, name)) });
      }
    },
  };
}

export const config = defineConfig({
  plugins: [preact(), crx({ manifest }), staticFiles()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 8000,
    minify: true,
    // Extension pages that the manifest does not name (crx adds those it names, e.g. the popup).
    rolldownOptions: {
      input: { classroom: 'src/popup/classroom.html' },
      // Preact (shared by the popup and the classroom page) in one chunk with a stable name: web-ext lint's
      // accepted warning for it (src/firefox/lint.ts) names that file.
      output: { codeSplitting: { groups: [{ name: 'preact', test: /node_modules[\\/](preact|@preact)[\\/]/ }] } },
    },
  },
});

export { config as default };
