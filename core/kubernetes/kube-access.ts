// Where the Kubernetes API is and how to prove who we are: a kubeconfig file (--kubeconfig,
// else $KUBECONFIG, else ~/.kube/config) or, in a pod, the service account.
// Read here rather than with @kubernetes/client-node's KubeConfig because importing that
// loads the library's whole generated API (~35 MB of heap in every gateway and operator,
// issue 17). The common cases — a server, its CA, a bearer token or a client certificate —
// are a few fields; kubeconfigs that authenticate through an exec plugin or an
// auth-provider (cloud CLIs, OIDC) are handed to KubeConfig, loaded only for them.
import { existsSync, readFileSync } from "node:fs";
import { Agent, type RequestOptions } from "node:https";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";
import { ConfigInvalidError } from "../api/errors.ts";

export type KubeRequestOptions = RequestOptions & { headers: Record<string, string> };

export interface KubeAccess {
  readonly server: URL;
  /** Puts the connection (TLS material) and the credentials on a request's options. */
  apply(options: KubeRequestOptions): Promise<void>;
}

const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";
/**
 * Connections to the API server are reused, but after a burst of requests (a status write
 * for every object) at most a few idle ones stay open: each holds its TLS state, and watches
 * keep their own connections anyway.
 */
const KEEP_ALIVE = { keepAlive: true, maxFreeSockets: 4 } as const;
/**
 * A projected service-account token is rotated by the kubelet (hourly by default); reading
 * the file again this often keeps a long-running process on a valid one.
 */
const TOKEN_REREAD_MS = 60_000;

/** Throws SLUICE_CONFIG_INVALID naming the file when the kubeconfig cannot be read or used. */
export function loadKubeAccess(kubeconfigPath?: string): KubeAccess {
  const file = kubeconfigPath ?? defaultKubeconfig();
  try {
    if (file === undefined) return inCluster();
    return fromKubeconfig(file);
  } catch (err) {
    if (err instanceof ConfigInvalidError) throw err;
    throw new ConfigInvalidError(`--kubeconfig ${file ?? "(in-cluster)"}: ${(err as Error).message}`);
  }
}

/** $KUBECONFIG (its first file), else ~/.kube/config when present, else in-cluster. */
function defaultKubeconfig(): string | undefined {
  const fromEnv = process.env.KUBECONFIG?.split(":").find((p) => p !== "");
  if (fromEnv) return fromEnv;
  const home = join(homedir(), ".kube", "config");
  return existsSync(home) ? home : undefined;
}

function inCluster(): KubeAccess {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host) {
    throw new ConfigInvalidError(
      "--kubeconfig (in-cluster): no kubeconfig given and KUBERNETES_SERVICE_HOST is unset (not in a pod)",
    );
  }
  const server = new URL(`https://${host.includes(":") ? `[${host}]` : host}:${port}`);
  const agent = new Agent({ ...KEEP_ALIVE, ca: readFileSync(join(SERVICE_ACCOUNT, "ca.crt")) });
  return tokenAccess(server, agent, tokenFile(join(SERVICE_ACCOUNT, "token")));
}

/** A token file, read again every TOKEN_REREAD_MS (the kubelet rotates projected tokens). */
function tokenFile(path: string): () => string {
  let token = "";
  let readAt = Number.NEGATIVE_INFINITY;
  return () => {
    if (performance.now() - readAt > TOKEN_REREAD_MS) {
      token = readFileSync(path, "utf8").trim();
      readAt = performance.now();
    }
    return token;
  };
}

function tokenAccess(server: URL, agent: Agent, token: (() => string) | undefined): KubeAccess {
  return {
    server,
    apply: async (options) => {
      options.agent = agent;
      const t = token?.();
      if (t) options.headers.authorization = `Bearer ${t}`;
    },
  };
}

interface KubeconfigFile {
  "current-context"?: string;
  contexts?: Array<{ name: string; context?: { cluster?: string; user?: string } }>;
  clusters?: Array<{ name: string; cluster?: Record<string, unknown> }>;
  users?: Array<{ name: string; user?: Record<string, unknown> }>;
}

function fromKubeconfig(file: string): KubeAccess {
  const config = (parse(readFileSync(file, "utf8")) ?? {}) as KubeconfigFile;
  const contextName = config["current-context"];
  const context = config.contexts?.find((c) => c.name === contextName)?.context;
  if (!context)
    throw new ConfigInvalidError(`--kubeconfig ${file}: current-context "${contextName ?? ""}" not found`);
  const cluster = config.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster || typeof cluster.server !== "string") {
    throw new ConfigInvalidError(`--kubeconfig ${file}: cluster "${context.cluster ?? ""}" has no server`);
  }
  const server = new URL(cluster.server);
  const user = config.users?.find((u) => u.name === context.user)?.user ?? {};
  if (user.exec !== undefined || user["auth-provider"] !== undefined) return viaClientNode(file, server);
  const base = dirname(file);
  // Relative paths in a kubeconfig are relative to the file, as kubectl reads them.
  const material = (dataKey: string, pathKey: string): Buffer | undefined => {
    const data = cluster[dataKey] ?? user[dataKey];
    if (typeof data === "string") return Buffer.from(data, "base64");
    const path = cluster[pathKey] ?? user[pathKey];
    if (typeof path === "string") return readFileSync(isAbsolute(path) ? path : join(base, path));
    return undefined;
  };
  const agent = new Agent({
    ...KEEP_ALIVE,
    ca: material("certificate-authority-data", "certificate-authority"),
    cert: material("client-certificate-data", "client-certificate"),
    key: material("client-key-data", "client-key"),
    rejectUnauthorized: cluster["insecure-skip-tls-verify"] !== true,
    ...(typeof cluster["tls-server-name"] === "string" ? { servername: cluster["tls-server-name"] } : {}),
  });
  if (typeof user.token === "string") {
    const token = user.token;
    return tokenAccess(server, agent, () => token);
  }
  if (typeof user.tokenFile === "string") {
    const path = user.tokenFile;
    return tokenAccess(server, agent, tokenFile(isAbsolute(path) ? path : join(base, path)));
  }
  if (typeof user.username === "string" && typeof user.password === "string") {
    const basic = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString("base64")}`;
    return {
      server,
      apply: async (options) => {
        options.agent = agent;
        options.headers.authorization = basic;
      },
    };
  }
  return tokenAccess(server, agent, undefined);
}

/** Exec plugins and auth-providers: client-node's KubeConfig knows them all (loaded at first use). */
function viaClientNode(file: string, server: URL): KubeAccess {
  let loading: Promise<{ applyToHTTPSOptions(o: KubeRequestOptions): Promise<void> }> | undefined;
  return {
    server,
    apply: async (options) => {
      loading ??= import("@kubernetes/client-node").then(({ KubeConfig }) => {
        const kc = new KubeConfig();
        kc.loadFromFile(file);
        return kc;
      });
      await (await loading).applyToHTTPSOptions(options);
    },
  };
}
