// Sluice in the cluster as a platform team installs it (helm, or kustomize), echo backends
// as pods, and the waits the scenarios share. Everything goes through kubectl and helm.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { request } from "undici";
import { inject } from "vitest";
import { eventually } from "../../../test-support/index.ts";
import { KubeClient } from "../../harness/kube-client.ts";
import { CHART, helm, helmBinary, helmHome } from "../../helm/helm.ts";
import { type ClusterInfo, serviceUrl } from "./providers.ts";

export const NAMESPACE = "sluice-system";
export const RELEASE = "sluice";
/** The echo server of the Gateway API conformance suite, built here (e2e/cluster/images). */
export const ECHO_IMAGE = "registry.k8s.io/gateway-api/echo-basic:v1.5.1";
export const ECHO_PORT = 3000;

export function cluster(): { info: ClusterInfo; kube: KubeClient } {
  const info = inject("cluster");
  return { info, kube: new KubeClient(info.kubeconfig) };
}

export interface Json {
  // biome-ignore lint/suspicious/noExplicitAny: kubectl's JSON, read field by field in tests
  [key: string]: any;
}

export function getJson(kube: KubeClient, ...args: string[]): Json {
  return JSON.parse(kube.kubectl("get", ...args, "-o", "json"));
}

const execFileAsync = promisify(execFile);

/** kubectl without blocking the event loop (a load is running); throws with stderr. */
export async function kubectlAsync(kube: KubeClient, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync("kubectl", ["--kubeconfig", kube.kubeconfig, ...args]);
  return stdout;
}

export async function getJsonAsync(kube: KubeClient, ...args: string[]): Promise<Json> {
  return JSON.parse(await kubectlAsync(kube, "get", ...args, "-o", "json"));
}

function helmArgs(info: ClusterInfo, values: Record<string, string | number>): string[] {
  const set = Object.entries({ "image.pullPolicy": "Never", ...info.helmValues, ...values }).flatMap(
    ([k, v]) => ["--set", `${k}=${v}`],
  );
  const install = ["upgrade", "--install", RELEASE, CHART, "-n", NAMESPACE, "--create-namespace"];
  return [...install, ...set, "--wait", "--timeout", "3m", "--kubeconfig", info.kubeconfig];
}

/** `helm upgrade --install` of charts/sluice with the image built here; throws with helm's output. */
export function helmInstall(info: ClusterInfo, values: Record<string, string | number> = {}): string {
  const res = helm(helmArgs(info, values));
  if (res.status !== 0) throw new Error(`helm upgrade --install failed:\n${res.stderr}\n${res.stdout}`);
  return res.stdout;
}

/** helmInstall without blocking the event loop (a load is running). */
export async function helmInstallAsync(
  info: ClusterInfo,
  values: Record<string, string | number> = {},
): Promise<void> {
  // The same throwaway HELM_*_HOME as helm(): the user's helm configuration is never read.
  await execFileAsync(helmBinary(), helmArgs(info, values), { env: { ...process.env, ...helmHome() } });
}

export function helmUninstall(info: ClusterInfo): void {
  const res = helm(["uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "2m"], info.kubeconfig);
  if (res.status !== 0 && !/not found/.test(res.stderr))
    throw new Error(`helm uninstall failed:\n${res.stderr}`);
}

export function releaseInstalled(info: ClusterInfo): boolean {
  return helm(["status", RELEASE, "-n", NAMESPACE], info.kubeconfig).status === 0;
}

/** An echo Deployment and its Service (port 8080 → the pods' echo port). */
export function echoBackend(namespace: string, name: string, replicas: number): unknown[] {
  const labels = { app: name };
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name, namespace },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            terminationGracePeriodSeconds: 5,
            containers: [
              {
                name: "echo",
                image: ECHO_IMAGE,
                imagePullPolicy: "IfNotPresent",
                ports: [{ name: "http", containerPort: ECHO_PORT }],
                env: [
                  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                  { name: "NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                ],
                readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 1 },
                // As a production backend does: keep serving until every gateway has learnt
                // that the endpoint is gone (EndpointSlice → operator → snapshot → reload),
                // instead of dropping what is on its way. The kubelet's own sleep action:
                // the echo image has no shell.
                lifecycle: { preStop: { sleep: { seconds: 2 } } },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace },
      spec: { selector: labels, ports: [{ name: "http", port: 8080, targetPort: "http" }] },
    },
  ];
}

/**
 * A route `name` for one hostname and the Service-backed pool it sends to (`pool`, the echo
 * backend of that name). The route retries a GET whose connection failed or was reset, as a
 * production route would: a backend pod that is going away may drop a request already sent.
 */
export function echoRoute(namespace: string, name: string, hostname: string, pool = name): [Json, Json] {
  return [
    {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "BackendPool",
      metadata: { name: pool, namespace },
      spec: { service: { name: pool, port: 8080 } },
    },
    {
      apiVersion: "sluice.dev/v1alpha1",
      kind: "GatewayRoute",
      metadata: { name, namespace },
      spec: {
        hostnames: [hostname],
        rules: [
          {
            matches: [{ path: { type: "PathPrefix", value: "/" } }],
            backendRefs: [{ name: pool }],
            retry: {
              attempts: 2,
              retryOn: ["connect-failure", "reset"],
              backoff: { base: "25ms", max: "250ms" },
            },
          },
        ],
      },
    },
  ];
}

/** The gateway Service's URL as the tests reach it (ClusterIP, or a NodePort on kind). */
export function gatewayUrl(info: ClusterInfo, kube: KubeClient, service = `${RELEASE}-gateway`): string {
  const svc = getJson(kube, "service", service, "-n", NAMESPACE);
  const port = svc.spec.ports[0];
  return serviceUrl(info, { clusterIP: svc.spec.clusterIP, port: port.port, nodePort: port.nodePort });
}

export function condition(obj: Json, type: string): Json | undefined {
  return (obj.status?.conditions ?? []).find((c: Json) => c.type === type);
}

/** Waits until a GET through the gateway answers 200 from the echo backend (kube-proxy programs a new Service a moment after its pods turn Ready). */
export async function waitServed(
  url: string,
  hostOrHeaders: string | Record<string, string>,
  timeoutMs = 60_000,
): Promise<void> {
  const headers = typeof hostOrHeaders === "string" ? { host: hostOrHeaders } : hostOrHeaders;
  let last = "no answer";
  await eventually(
    `${headers.host} served through ${url}`,
    async () => {
      try {
        const res = await request(url, { headers, headersTimeout: 2000, bodyTimeout: 2000 });
        last = `${res.statusCode} ${(await res.body.text()).slice(0, 200)}`;
        return res.statusCode === 200;
      } catch (err) {
        last = String(err);
        return false;
      }
    },
    { timeoutMs, intervalMs: 250 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last answer: ${last}`);
  });
}

const readyNames = (pods: Json) =>
  pods.items
    .filter((p: Json) => !p.metadata.deletionTimestamp && condition(p, "Ready")?.status === "True")
    .map((p: Json) => p.metadata.name as string) as string[];

export function readyPods(kube: KubeClient, namespace: string, selector: string): string[] {
  return readyNames(getJson(kube, "pods", "-n", namespace, "-l", selector));
}

export async function readyPodsAsync(
  kube: KubeClient,
  namespace: string,
  selector: string,
): Promise<string[]> {
  return readyNames(await getJsonAsync(kube, "pods", "-n", namespace, "-l", selector));
}

/** The backend and route every load-carrying scenario sends its traffic to. */
export const TRAFFIC = { namespace: "e2e-traffic", name: "echo", host: "traffic.e2e.sluice.dev" };

/** Applies (idempotently) the traffic backend and route and waits until the gateway serves it. */
export async function ensureTrafficRoute(info: ClusterInfo, kube: KubeClient, replicas = 2): Promise<string> {
  kube.apply(echoBackend(TRAFFIC.namespace, TRAFFIC.name, replicas));
  kube.apply(echoRoute(TRAFFIC.namespace, TRAFFIC.name, TRAFFIC.host));
  const url = gatewayUrl(info, kube);
  await waitServed(url, TRAFFIC.host);
  return url;
}

/** Resolves once every pod of the Deployment is Ready and no old pod is left. */
export async function rolloutStatus(kube: KubeClient, namespace: string, deployment: string): Promise<void> {
  await kubectlAsync(
    kube,
    "rollout",
    "status",
    `deployment/${deployment}`,
    "-n",
    namespace,
    "--timeout=180s",
  );
}

/**
 * The operator pod holding the leader Lease, when it is one of the running, Ready ones (the
 * chart and config/default pass --identity=$(POD_NAME)); undefined otherwise — e.g. while a
 * lease left by a deleted pod runs out.
 */
export function leaderPod(kube: KubeClient): string | undefined {
  const holder = getJson(kube, "lease", "sluice-operator", "-n", NAMESPACE).spec.holderIdentity as
    | string
    | undefined;
  return readyPods(kube, NAMESPACE, "app.kubernetes.io/component=operator").find((p) => p === holder);
}
