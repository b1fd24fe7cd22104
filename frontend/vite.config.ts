import { defineConfig } from "vite";

// Django serves dist/index.html for every non-API path and dist/assets under /static/,
// so every asset URL the production build emits must start with /static/.
// The dev server keeps "/" so that client-side routes such as /login load directly.
export default defineConfig(({ command }) => ({
  base: command === "build" ? "/static/" : "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    rolldownOptions: {
      onwarn(warning, defaultHandler) {
        // react-router ships a "use client" directive for React Server Components; irrelevant in an SPA.
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        defaultHandler(warning);
      },
    },
  },
  // Dev server only (the production build needs none of this): the DICOM image loader must not
  // be pre-bundled (its decode worker is loaded by URL), while its codec entry points and
  // @cornerstonejs/metadata must be, or two copies of the metadata module end up in the page.
  optimizeDeps: {
    exclude: ["@cornerstonejs/dicom-image-loader"],
    include: [
      "@cornerstonejs/metadata",
      "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs",
      "@cornerstonejs/codec-charls/decodewasmjs",
      "@cornerstonejs/codec-openjpeg/decodewasmjs",
      "@cornerstonejs/codec-openjph/wasmjs",
      "@cornerstonejs/codec-libjxl/decodewasmjs",
    ],
  },
  server: {
    port: 5173,
    proxy: {
      "/api": { target: "http://127.0.0.1:8000" },
    },
  },
}));
