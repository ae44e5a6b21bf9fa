import { defineConfig } from 'vite';
import { firefoxViteConfig } from './src/firefox/vite-config';

/** `npm run build:firefox`: the same extension for Firefox MV3 in dist-firefox/ (see src/firefox/). */
export const firefoxConfig = defineConfig(firefoxViteConfig());

export { firefoxConfig as default };
