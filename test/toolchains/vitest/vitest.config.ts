import { defineConfig } from "vitest/config";

// Vite 8 compiles TypeScript with Oxc, which lowers only the legacy decorator dialect; @Cached
// works under both.
export default defineConfig({
  oxc: { decorator: { legacy: true } },
});
