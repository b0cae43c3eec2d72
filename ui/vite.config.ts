/// <reference types="vitest" />
import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// The UI is served by Tauri from `ui/dist` (see the root tauri.conf.json). In development
// `tauri dev` loads it from this dev server instead.
export default defineConfig({
  plugins: [preact()],
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    outDir: "dist",
    target: ["es2021", "safari15"],
    // No inline scripts or eval: the CSP forbids them.
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
