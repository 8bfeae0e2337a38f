import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The dashboard is served by the read API (`fillstream api`) from dist/; `npm run dev` proxies
// the API to FILLSTREAM_API_URL.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 900 },
  server: {
    proxy: {
      "/api": process.env.FILLSTREAM_API_URL ?? "http://127.0.0.1:8791",
      "/login": process.env.FILLSTREAM_API_URL ?? "http://127.0.0.1:8791",
    },
  },
  test: { environment: "jsdom", globals: true, include: ["src/**/*.test.ts", "src/**/*.test.tsx"] },
});
