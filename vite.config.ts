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

/**
 * The crx plugin lists a script imported with `?iife` (the content script, which the worker registers and
 * injects itself) as a web-accessible resource for every site. Injection needs no such entry, and a listed
 * file would let any page detect the extension: drop it from the written manifest.
 */
function noWebAccessibleScripts(): Plugin & { renderCrxManifest(manifest: CrxManifest): CrxManifest } {
  return {
    name: 'probe-no-web-accessible-scripts',
    apply: 'build',
    enforce: 'post',
    // Called by the crx plugin on the manifest it is about to write, after its own plugins.
    renderCrxManifest(manifest) {
      const kept = (manifest.web_accessible_resources ?? [])
        .map((w) => ({ ...w, resources: w.resources.filter((r) => !r.endsWith('.iife.js')) }))
        .filter((w) => w.resources.length > 0);
      if (kept.length > 0) manifest.web_accessible_resources = kept;
      else delete manifest.web_accessible_resources;
      return manifest;
    },
  };
}

/** The part of the manifest the plugin above edits. */
interface CrxManifest {
  web_accessible_resources?: { resources: string[]; matches?: string[] }[];
}

export const config = defineConfig({
  plugins: [preact(), crx({ manifest }), staticFiles(), noWebAccessibleScripts()],
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
