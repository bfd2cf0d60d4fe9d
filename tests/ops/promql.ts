import { parser } from '@prometheus-io/lezer-promql';

/** Grafana's variables replaced by values Prometheus accepts, so a query can be parsed. */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replace(/\$\{?(\w+)\}?/g, '.*');
}

export interface Selector {
  metric: string;
  labels: string[];
}

/** Parses a PromQL expression; throws at the first syntax error, else returns its selectors. */
export function parsePromql(expr: string): Selector[] {
  const tree = parser.parse(expr);
  const selectors: Selector[] = [];
  let error: number | undefined;
  tree.iterate({
    enter(node) {
      if (node.type.isError && error === undefined) error = node.from;
      if (node.name !== 'VectorSelector') return;
      const metric = node.node.getChild('Identifier');
      const matchers = node.node.getChild('LabelMatchers');
      const labels = matchers
        ? matchers.getChildren('UnquotedLabelMatcher').map((m) => {
            const name = m.getChild('LabelName')!;
            return expr.slice(name.from, name.to);
          })
        : [];
      if (metric) selectors.push({ metric: expr.slice(metric.from, metric.to), labels });
    },
  });
  if (error !== undefined) {
    throw new Error(`PromQL syntax error at ${error}: ${expr.slice(0, error)} ⟨here⟩ ${expr.slice(error)}`);
  }
  return selectors;
}
