import { crx, type ManifestV3Export } from '@crxjs/vite-plugin';
import type { PluginOption, UserConfig } from 'vite';
import chromeManifest from '../../manifest.json';
import { config as chromeConfig } from '../../vite.config';
import { FIREFOX_DIST, firefoxManifest, type Manifest } from './manifest';

function flatten(options: readonly PluginOption[]): PluginOption[] {
  return options.flatMap((p) => (Array.isArray(p) ? flatten(p) : [p]));
}

function pluginName(p: PluginOption): string | null {
  return typeof p === 'object' && p !== null && !Array.isArray(p) && 'name' in p && typeof p.name === 'string' ? p.name : null;
}

/**
 * The Chrome build's vite config with its crx plugins swapped for crx in Firefox mode on the derived
 * manifest, written to dist-firefox/. Every other plugin (Preact, the models and wasm files) and
 * build option is the Chrome build's own, so the two builds cannot drift apart.
 */
export function firefoxViteConfig(): UserConfig {
  const base = chromeConfig as UserConfig;
  const plugins = flatten(base.plugins ?? []);
  const isCrx = (p: PluginOption): boolean => pluginName(p)?.startsWith('crx:') === true;
  const at = plugins.findIndex(isCrx);
  if (at < 0) throw new Error('vite.config.ts has no crx plugin to replace');
  const manifest = firefoxManifest(chromeManifest as Manifest) as unknown as ManifestV3Export;
  const others = plugins.filter((p) => !isCrx(p));
  // The Firefox crx plugins go where the Chrome ones were (plugin order is part of the build).
  return {
    ...base,
    plugins: [...others.slice(0, at), crx({ manifest, browser: 'firefox' }), ...others.slice(at)],
    build: { ...base.build, outDir: FIREFOX_DIST, emptyOutDir: true },
  };
}
