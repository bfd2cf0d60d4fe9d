import type { PromSample, StartedPrometheus } from './prometheus.ts';

export interface PanelQuery {
  panel: string;
  refId: string;
  legend: string;
  /** The query as the dashboard holds it, Grafana variables included. */
  expr: string;
}

interface DashboardJson {
  panels: Array<{
    title: string;
    type: string;
    targets?: Array<{ expr: string; refId: string; legendFormat?: string }>;
  }>;
}

/** Every target of every panel of a Grafana dashboard (rows have none). */
export function dashboardPanelQueries(dashboard: unknown): PanelQuery[] {
  return (dashboard as DashboardJson).panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title,
      refId: t.refId,
      legend: t.legendFormat ?? '',
      expr: t.expr,
    })),
  );
}

export interface GrafanaVariables {
  /**
   * `$__rate_interval`. Grafana makes it max(4 × scrape interval, step + scrape interval); an
   * instant query at the end of a short scenario needs a window that covers the scenario instead.
   */
  rateInterval: string;
  /** `$__interval` (the graph's step). */
  interval?: string;
  /** Template variables by name; a missing one takes the dashboard's "All" value `.*`. */
  values?: Record<string, string>;
}

/** The query Grafana would send: built-in and template variables replaced. */
export function substituteGrafanaVariables(expr: string, vars: GrafanaVariables): string {
  return expr
    .replaceAll('$__rate_interval', vars.rateInterval)
    .replaceAll('$__interval', vars.interval ?? vars.rateInterval)
    .replace(/\$\{?(\w+)\}?/g, (_, name: string) => vars.values?.[name] ?? '.*');
}

export interface PanelResult extends PanelQuery {
  query: string;
  /** Series returned; 0 means the panel shows "No data" for this target. */
  series: number;
  /** The largest value among them (NaN when none), to tell a flat zero from activity. */
  max: number;
  error?: string;
  samples: PromSample[];
}

/** Runs every panel query as an instant query; a query Prometheus refuses is a result with `error`. */
export async function evaluatePanels(
  prom: StartedPrometheus,
  queries: PanelQuery[],
  vars: GrafanaVariables,
): Promise<PanelResult[]> {
  const results: PanelResult[] = [];
  for (const q of queries) {
    const query = substituteGrafanaVariables(q.expr, vars);
    try {
      const samples = await prom.query(query);
      const values = samples.map((s) => Number(s.value[1])).filter((v) => !Number.isNaN(v));
      results.push({
        ...q,
        query,
        samples,
        series: samples.length,
        max: values.length ? Math.max(...values) : Number.NaN,
      });
    } catch (err) {
      results.push({ ...q, query, samples: [], series: 0, max: Number.NaN, error: (err as Error).message });
    }
  }
  return results;
}

/** One line per panel target: `data`/`NO DATA`, series count, max value, panel title and legend. */
export function formatPanelReport(results: PanelResult[]): string {
  const fmt = (v: number) => (Number.isNaN(v) ? '-' : Number(v.toPrecision(3)).toString());
  return results
    .map((r) => {
      const status = r.error ? 'ERROR  ' : r.series > 0 ? 'data   ' : 'NO DATA';
      const detail = r.error ?? `${r.series} series, max ${fmt(r.max)}`;
      return `${status} ${r.panel} [${r.refId}${r.legend ? ` ${r.legend}` : ''}]: ${detail}`;
    })
    .join('\n');
}
