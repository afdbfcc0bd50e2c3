// The HTTPS listener: a request over TLS reaches the upstream, and when the certificate
// files are replaced (as Kubernetes does for a mounted Secret: a new directory, then one
// symlink swapped) new connections get the new certificate without a restart. A broken
// pair is refused and the previous certificate keeps serving.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type PeerCertificate } from "node:tls";
import { Agent, request } from "undici";
import { beforeAll, describe, expect, it } from "vitest";
import { closeAfterAll, pool, simpleRoute, type TestGateway, type Upstream } from "./harness.ts";

const t = closeAfterAll();

const dir = mkdtempSync(join(tmpdir(), "sluice-tls-"));
const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });

/** A CA, and a server certificate for 127.0.0.1 signed by it with the given CN. */
function issue(name: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:app.test\nextendedKeyUsage=serverAuth\n");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", `/CN=${name}`);
  openssl(
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    join(dir, "ca.crt"),
    "-CAkey",
    join(dir, "ca.key"),
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    ext,
    "-out",
    cert,
  );
  return { cert, key };
}

/** Mounts a pair the way the kubelet does: files in a timestamped dir behind ..data. */
function mount(pair: { cert: string; key: string }, generation: number) {
  const data = join(dir, "mount", `..gen${generation}`);
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, "tls.crt"), execFileSync("cat", [pair.cert]));
  writeFileSync(join(data, "tls.key"), execFileSync("cat", [pair.key]));
  const link = join(dir, "mount", "..data_tmp");
  symlinkSync(`..gen${generation}`, link);
  renameSync(link, join(dir, "mount", "..data"));
}

const peerCN = (port: number) =>
  new Promise<string>((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const cert: PeerCertificate = socket.getPeerCertificate();
      socket.end();
      resolve(String(cert.subject.CN));
    });
    socket.on("error", reject);
  });

let upstream: Upstream;
let gateway: TestGateway;
let port: number;

beforeAll(async () => {
  t.defer(() => rmSync(dir, { recursive: true, force: true }));
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    join(dir, "ca.key"),
    "-out",
    join(dir, "ca.crt"),
    "-days",
    "1",
    "-subj",
    "/CN=test-ca",
  );
  mount(issue("first"), 1);
  mkdirSync(join(dir, "mount"), { recursive: true });
  symlinkSync("..data/tls.crt", join(dir, "mount", "tls.crt"));
  symlinkSync("..data/tls.key", join(dir, "mount", "tls.key"));
  upstream = await t.upstream("tls-upstream");
  gateway = await t.gateway([pool("web", [upstream.port]), simpleRoute("web", "web")], {
    tlsCertFile: join(dir, "mount", "tls.crt"),
    tlsKeyFile: join(dir, "mount", "tls.key"),
  });
  port = gateway.handle.dataAddress.port;
});

describe("HTTPS listener", () => {
  it("serves a request over TLS, verified against the CA, and says proto https upstream", async () => {
    const dispatcher = new Agent({ connect: { ca: execFileSync("cat", [join(dir, "ca.crt")]) } });
    const res = await request(`https://127.0.0.1:${port}/hello`, {
      dispatcher,
      headers: { host: "app.test" },
    });
    const body = (await res.body.json()) as { url: string; headers: Record<string, string> };
    await dispatcher.close();
    expect(res.statusCode).toBe(200);
    expect(body.url).toBe("/hello");
    expect(body.headers["x-forwarded-proto"]).toBe("https");
    expect(await peerCN(port)).toBe("first");
  });

  it("sends Strict-Transport-Security over TLS, on the gateway's own answers too", async () => {
    const dispatcher = new Agent({ connect: { ca: execFileSync("cat", [join(dir, "ca.crt")]) } });
    const res = await request(`https://127.0.0.1:${port}/hello`, {
      dispatcher,
      headers: { host: "app.test" },
    });
    await res.body.dump();
    // An encoded slash in the path is refused by the gateway itself (400 problem).
    const refused = await request(`https://127.0.0.1:${port}/a%2Fb`, {
      dispatcher,
      headers: { host: "app.test" },
    });
    await refused.body.dump();
    await dispatcher.close();
    expect(res.headers["strict-transport-security"]).toBe("max-age=31536000");
    expect(refused.statusCode).toBe(400);
    expect(refused.headers["strict-transport-security"]).toBe("max-age=31536000");
  });

  it("serves a replaced certificate to new connections without a restart", async () => {
    mount(issue("second"), 2);
    const deadline = Date.now() + 10_000;
    let cn = await peerCN(port);
    while (cn !== "second" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      cn = await peerCN(port);
    }
    expect(cn).toBe("second");
  });

  it("keeps the last good certificate when the new files do not make a pair", async () => {
    const third = issue("third");
    const other = issue("other");
    mount({ cert: third.cert, key: other.key }, 3);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await peerCN(port)).toBe("second");
  });
});
