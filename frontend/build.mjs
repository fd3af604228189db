// Bundles the admin's browser code (frontend/src/) and the npm libraries it imports (Uppy,
// hls.js) into frontend/dist/staff/, which Django's staticfiles collects (STATICFILES_DIRS) and
// WhiteNoise serves. Run by `npm run build` (the Makefile, the Dockerfile's node stage, CI);
// the output is git-ignored and never committed.
import { build } from "esbuild";

await build({
  entryPoints: {
    uploader: "frontend/src/uploader.js",
    status: "frontend/src/status.js",
    preview: "frontend/src/preview.js",
  },
  outdir: "frontend/dist/staff",
  bundle: true,
  format: "iife",
  minify: true,
  sourcemap: "linked",
  target: ["es2020"],
  legalComments: "linked",
  logLevel: "warning",
});
