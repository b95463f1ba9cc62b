import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    // Both builds run at once: the library's cleaning must not remove the CLI's output.
    clean: ["!cli.js", "!cli.js.map", "!exit-worker.js", "!exit-worker.js.map"],
    target: "node20",
    // `import.meta.url` in the CommonJS build (where the exit worker's file is looked up).
    shims: true,
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
  {
    // The thread that sends DynamoDB what is still unsent at process exit (src/store/dynamodb/exit.ts
    // finds it beside the module that starts it).
    entry: { "exit-worker": "src/store/dynamodb/exit-worker.ts" },
    format: ["esm"],
    sourcemap: true,
    clean: false,
    target: "node20",
  },
]);
