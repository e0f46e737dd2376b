import { fileURLToPath, URL } from "node:url";
import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";

// Built into the Django app's static folder; Django's view reads .vite/manifest.json to inject the hashed names.
const backend = process.env.RETAIL_BACKEND ?? "http://127.0.0.1:8000";

export default defineConfig({
  base: "/static/dashboard/",
  plugins: [vue()],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: {
    outDir: fileURLToPath(new URL("../server/web/static/dashboard", import.meta.url)),
    emptyOutDir: true,
    manifest: true,
    target: "es2022",
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        manualChunks: {
          konva: ["konva", "vue-konva"],
          charts: ["chart.js", "vue-chartjs"],
          vue: ["vue", "vue-router"],
        },
      },
    },
  },
  server: {
    proxy: {
      "/api": backend,
      "/media": backend,
      "/ws": { target: backend.replace(/^http/, "ws"), ws: true },
    },
  },
});
