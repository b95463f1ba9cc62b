/**
 * Builds the package once before the tests: child-process tests run the built `dist/`, as a user's
 * program would.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  execFileSync(process.execPath, [fileURLToPath(new URL("../../node_modules/tsup/dist/cli-default.js", import.meta.url))], {
    cwd: root,
    stdio: "pipe",
  });
}
