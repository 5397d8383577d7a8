// Wraps deploy/prometheus/rules.yaml (the rule groups promtool tests) in the Prometheus
// Operator's PrometheusRule object, deploy/prometheus/prometheusrule.yaml, or with --verify checks
// that the checked-in object matches the rules.
import { readFileSync, writeFileSync } from "node:fs";
import { dump, load } from "js-yaml";

const RULES = "deploy/prometheus/rules.yaml";
const OUT = "deploy/prometheus/prometheusrule.yaml";

function render(): string {
  const rules = load(readFileSync(RULES, "utf8")) as { groups: unknown[] };
  const obj = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: "vmdr", namespace: "vmdr-system", labels: { "app.kubernetes.io/name": "vmdr" } },
    spec: { groups: rules.groups },
  };
  return `# Generated from rules.yaml by hack/gen-prometheus-rule.ts. Do not edit; run \`make prometheus-rule\`.\n${dump(obj, { lineWidth: 120, noRefs: true })}`;
}

const text = render();
if (process.argv.includes("--verify")) {
  let onDisk = "";
  try {
    onDisk = readFileSync(OUT, "utf8");
  } catch {
    /* missing is drift */
  }
  if (onDisk !== text) {
    console.error(`${OUT} is out of date with ${RULES}; run \`make prometheus-rule\` and commit it.`);
    process.exitCode = 1;
  }
} else {
  writeFileSync(OUT, text);
}
