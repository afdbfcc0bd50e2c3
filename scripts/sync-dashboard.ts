// The Grafana dashboard lives in config/prometheus/dashboards (kustomize's configMapGenerator
// reads it there); Helm cannot read outside the chart, so the chart ships a copy. This keeps
// the copy identical: `make manifests` writes it, `make verify-generated` runs with --check,
// which fails when the copy differs. Edit the dashboard in Grafana, export it over the source.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const DASHBOARD_SOURCE = "config/prometheus/dashboards/sluice-overview.json";
export const DASHBOARD_COPY = "charts/sluice/dashboards/sluice-overview.json";

function read(path: string): string | undefined {
  try {
    return readFileSync(join(root, path), "utf8");
  } catch {
    return undefined;
  }
}

function main() {
  const source = read(DASHBOARD_SOURCE);
  if (source === undefined) throw new Error(`${DASHBOARD_SOURCE} is missing`);
  JSON.parse(source); // a broken export fails here rather than in Grafana
  if (read(DASHBOARD_COPY) === source) return;
  if (process.argv.includes("--check")) {
    console.error(`${DASHBOARD_COPY} differs from ${DASHBOARD_SOURCE} (run make manifests)`);
    process.exit(1);
  }
  mkdirSync(dirname(join(root, DASHBOARD_COPY)), { recursive: true });
  writeFileSync(join(root, DASHBOARD_COPY), source);
  console.log(`wrote ${DASHBOARD_COPY}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
