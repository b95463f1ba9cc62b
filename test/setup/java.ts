/**
 * DynamoDB Local, which the L2 tests run against, needs Java 17. Without it the test run stops before
 * anything else, with this message first: how to install Java, and how to run the tests that do not
 * need DynamoDB (`npm run test:local`). An endpoint given in `DYNAMODB_ENDPOINT` needs no Java.
 *
 * Run as a script (`tsx test/setup/java.ts`, the first step of `npm test`), it exits 1 with the message.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const JAVA_HELP = [
  "The DynamoDB tests need Java 17 to run DynamoDB Local, and `java` was not found or does not run.",
  "Install it:",
  "  Debian/Ubuntu:  sudo apt-get install -y openjdk-17-jre-headless",
  "  Fedora/RHEL:    sudo dnf install -y java-17-openjdk-headless",
  "  macOS:          brew install openjdk@17   (then add it to the PATH as brew's note says)",
  "  Windows:        winget install Microsoft.OpenJDK.17",
  "Or run the tests that do not need DynamoDB:  npm run test:local",
  "(or point the tests at a running DynamoDB: DYNAMODB_ENDPOINT=http://127.0.0.1:8000 npm test)",
].join("\n");

/** The help text when the DynamoDB tests cannot run here; `undefined` when they can. */
export function javaProblem(): string | undefined {
  if (process.env.DYNAMODB_ENDPOINT) return undefined;
  const probe = spawnSync("java", ["-version"], { encoding: "utf8" });
  return probe.error || probe.status !== 0 ? JAVA_HELP : undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problem = javaProblem();
  if (problem !== undefined) {
    process.stderr.write(`\n${problem}\n\n`);
    process.exit(1);
  }
}
