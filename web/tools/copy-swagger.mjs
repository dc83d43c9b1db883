// Copy Swagger UI's files into dist/swagger/, so that the API reference at /docs works offline
// (FastAPI's default page loads them from a CDN). Run by `npm run build`, after `vite build`.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const source = dirname(require.resolve("swagger-ui-dist/package.json"));
const target = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "swagger");
mkdirSync(target, { recursive: true });
for (const name of ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"]) {
  copyFileSync(join(source, name), join(target, name));
}
