/**
 * Prometheus text exposition (format 0.0.4) of the API's own counters plus the families the node
 * contributes (ClientBackend.metrics). Counters are plain numbers keyed by their label set.
 */
import type { MetricFamily } from "./interface.js";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labelText(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return "";
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** A counter family with a fixed label name list; label values are created on first use. */
export class LabeledCounter {
  private readonly values = new Map<string, { labels: Record<string, string>; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
  ) {}

  inc(labelValues: readonly string[], by = 1): void {
    const key = labelValues.join("\u0000");
    let entry = this.values.get(key);
    if (entry === undefined) {
      entry = { labels: Object.fromEntries(this.labelNames.map((name, i) => [name, labelValues[i] ?? ""])), value: 0 };
      this.values.set(key, entry);
    }
    entry.value += by;
  }

  get(labelValues: readonly string[]): number {
    return this.values.get(labelValues.join("\u0000"))?.value ?? 0;
  }

  family(): MetricFamily {
    return { name: this.name, help: this.help, type: "counter", samples: [...this.values.values()] };
  }
}

export function renderPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help.replace(/\n/g, " ")}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) lines.push(`${family.name}${labelText(sample.labels)} ${Number.isFinite(sample.value) ? sample.value : 0}`);
  }
  return `${lines.join("\n")}\n`;
}
