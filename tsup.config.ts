import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    // Both builds run at once: the library's cleaning must not remove the CLI's output.
    clean: ["!cli.js", "!cli.js.map"],
    target: "node20",
  },
  {
    // `npx cacherator`: the cache inspector, one self-contained ESM file.
    entry: { cli: "src/cli/main.ts" },
    format: ["esm"],
    sourcemap: true,
    clean: false,
    target: "node20",
    banner: { js: "#!/usr/bin/env node" },
  },
]);
