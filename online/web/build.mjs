// Bundles the voting page's entry point (src/app.js, or the file named on the command line)
// into one minified ES module in dist/, which the platform serves itself: no CDN.
// `npm run build` (package.json); `node build.mjs src/hanpyo-v2.js` measures one module alone.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';

const entry = process.argv[2] ?? 'src/app.js';
if (!existsSync(entry)) {
  console.error(`build: ${entry} does not exist (the voting page's entry point)`);
  process.exit(1);
}
await build({
  entryPoints: [entry],
  outfile: `dist/${basename(entry)}`,
  bundle: true,
  format: 'esm',
  minify: true,
  // BigInt (the group's scalars) and Chromium, Safari and Firefox of 2020 onwards.
  target: ['es2020'],
  platform: 'browser',
  legalComments: 'eof',
  logLevel: 'warning',
});
