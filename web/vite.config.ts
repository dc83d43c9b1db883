import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { docsPlugin } from "./tools/docs";

const docsDir = fileURLToPath(new URL("../docs", import.meta.url));

export default defineConfig({
  plugins: [docsPlugin(docsDir)],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // A language mode is loaded when it is first picked; keep each in its own chunk.
    chunkSizeWarningLimit: 800,
  },
  server: {
    // `npm run dev` beside `jaula up`: the API stays on its own port.
    proxy: { "/v1": "http://127.0.0.1:8000", "/healthz": "http://127.0.0.1:8000" },
  },
  test: {
    environment: "node",
    include: ["test/**/*.test.ts"],
  },
});
