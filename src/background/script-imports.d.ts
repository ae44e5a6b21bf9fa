/** Build-time file names of scripts bundled on their own (crx plugin): `import file from './x.iife.ts?iife'`. */
declare module '*?iife' {
  const fileName: string;
  export default fileName;
}
