// Draws the benchmark charts (SVG) from the JSON results in bench/results/.
// Usage: node --import tsx bench/charts.ts [results.json] — writes bench/charts/*.svg
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { repoRoot } from '@pushfleet/testkit';

interface Bar {
  label: string;
  value: number;
}

const palette = ['#2563eb', '#f59e0b', '#10b981', '#6b7280', '#db2777'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

/** A horizontal bar chart: one row per bar, value printed at the end of each bar. */
export function barChart(title: string, unit: string, bars: Bar[]): string {
  const rowHeight = 28;
  const labelWidth = 230;
  const plotWidth = 420;
  const height = 50 + bars.length * rowHeight;
  const max = Math.max(...bars.map((b) => b.value), 1);
  const rows = bars
    .map((bar, i) => {
      const y = 40 + i * rowHeight;
      const width = Math.max(1, (bar.value / max) * plotWidth);
      const value = bar.value >= 100 ? Math.round(bar.value).toLocaleString('en-US') : bar.value.toFixed(1);
      return (
        `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(bar.label)}</text>` +
        `<rect x="${labelWidth}" y="${y}" width="${width.toFixed(1)}" height="20" fill="${palette[i % palette.length]}"/>` +
        `<text x="${labelWidth + width + 6}" y="${y + 15}">${value} ${escapeXml(unit)}</text>`
      );
    })
    .join('\n');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + plotWidth + 140}" height="${height}" ` +
    `font-family="sans-serif" font-size="13" role="img">\n<title>${escapeXml(title)}</title>\n` +
    `<rect width="100%" height="100%" fill="white"/>\n` +
    `<text x="10" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>\n${rows}\n</svg>\n`
  );
}

interface TransportRow {
  name: string;
  sink: string;
  perSecond: number;
  cpuUsPerNotification: number;
}

interface E2eRun {
  sink: string;
  bare: { perSecond: number };
  fleets: { workers: number; perSecond: number }[];
}

function main(): void {
  const file = process.argv[2] ?? `${repoRoot}/bench/results/all-latest.json`;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const out = `${repoRoot}/bench/charts`;
  mkdirSync(out, { recursive: true });
  const transport: TransportRow[] = report.transport?.results ?? [];
  if (transport.length > 0) {
    writeFileSync(
      `${out}/transport-throughput.svg`,
      barChart(
        'Transport throughput, one process (higher is better)',
        '/s',
        transport.map((r) => ({ label: `${r.name} → ${r.sink}`, value: r.perSecond })),
      ),
    );
    writeFileSync(
      `${out}/transport-cpu.svg`,
      barChart(
        'Client CPU per notification (lower is better)',
        'µs',
        transport
          .filter((r) => Number.isFinite(r.cpuUsPerNotification))
          .map((r) => ({ label: `${r.name} → ${r.sink}`, value: r.cpuUsPerNotification })),
      ),
    );
  }
  if (report.e2e) {
    const bars: Bar[] = [];
    for (const run of report.e2e.runs as E2eRun[]) {
      bars.push({ label: `bare node-apn → ${run.sink}`, value: run.bare.perSecond });
      for (const fleet of run.fleets)
        bars.push({ label: `pushfleet ×${fleet.workers} → ${run.sink}`, value: fleet.perSecond });
    }
    writeFileSync(
      `${out}/e2e-throughput.svg`,
      barChart(`e2e: campaign of ${report.e2e.count.toLocaleString('en-US')} tokens`, '/s', bars),
    );
  }
  process.stdout.write(`charts written to ${out}\n`);
}

main();
