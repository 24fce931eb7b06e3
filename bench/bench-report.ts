// The bench's results: one row per metric and transport, the printed table, and the JSON file.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transport } from './bench-target.js';
import { roundSpread, type Spread } from './stats.js';

export interface ResultRow {
  readonly metric: string;
  readonly transport: Transport;
  readonly unit: string;
  /** Throughput: more is better; times and memory: less is better. */
  readonly better: 'higher' | 'lower';
  /** Undefined when the measurement was not run; `skipped` says why. */
  readonly deploybus: Spread | undefined;
  readonly raw: Spread | undefined;
  /** deploybus/raw on medians (for throughput and for times alike), undefined without a raw figure. */
  readonly ratio: number | undefined;
  /** What the ratio (or for memory the deploybus figure) should meet, as text; undefined when none is set. */
  readonly target: string | undefined;
  readonly meetsTarget: boolean | undefined;
  readonly note?: string;
  readonly skipped?: string;
}

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly loadavgAtStart: readonly number[];
  readonly loadavgAtEnd: readonly number[];
  readonly node: string;
  readonly platform: string;
  readonly osRelease: string;
  readonly totalMemoryMb: number;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly durationS: number;
  readonly machine: MachineInfo;
  readonly broker: { readonly amqp: string; readonly stomp: string };
  readonly settings: Readonly<Record<string, number | string | boolean>>;
  readonly phaseSeconds: Readonly<Record<string, number>>;
  readonly notes: readonly string[];
  readonly results: readonly ResultRow[];
}

/** A row whose ratio is deploybus/raw, checked against `limit` in the direction of `better`. */
export function compareRow(fields: Omit<ResultRow, 'ratio' | 'target' | 'meetsTarget'>, limit: number | undefined): ResultRow {
  const ratio = ratioOf(fields.deploybus, fields.raw);
  if (ratio === undefined || limit === undefined) return { ...fields, ratio, target: undefined, meetsTarget: undefined };
  const target = fields.better === 'higher' ? `>= ${limit}` : `<= ${limit}`;
  const meetsTarget = fields.better === 'higher' ? ratio >= limit : ratio <= limit;
  return { ...fields, ratio, target, meetsTarget };
}

/** A row checked on deploybus's own figure (memory), with the raw figure for reference. */
export function absoluteRow(fields: Omit<ResultRow, 'ratio' | 'target' | 'meetsTarget'>, below: number): ResultRow {
  const meetsTarget = fields.deploybus === undefined ? undefined : fields.deploybus.median < below;
  return { ...fields, ratio: ratioOf(fields.deploybus, fields.raw), target: `deploybus < ${below} ${fields.unit}`, meetsTarget };
}

function ratioOf(deploybus: Spread | undefined, raw: Spread | undefined): number | undefined {
  return deploybus === undefined || raw === undefined || raw.median === 0 ? undefined : deploybus.median / raw.median;
}

function formatNumber(value: number): string {
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function formatSpread(spread: Spread | undefined): string {
  if (spread === undefined) return 'not run';
  if (spread.samples === 1) return formatNumber(spread.median);
  return `${formatNumber(spread.median)} (${formatNumber(spread.min)}-${formatNumber(spread.max)})`;
}

export function formatTable(rows: readonly ResultRow[]): string {
  const header = ['metric', 'transport', 'deploybus median (min-max)', 'raw median (min-max)', 'ratio db/raw', 'target', ''];
  const lines = rows.map((row) => [
    `${row.metric} [${row.unit}]`,
    row.transport,
    formatSpread(row.deploybus),
    formatSpread(row.raw),
    row.ratio === undefined ? '-' : row.ratio.toFixed(3),
    row.target ?? '-',
    row.meetsTarget === undefined ? (row.skipped === undefined ? '' : 'see below') : row.meetsTarget ? 'ok' : 'MISSED',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const render = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const footnotes = rows.flatMap((row) => [
    ...(row.note === undefined ? [] : [`  ${row.metric}, ${row.transport}: ${row.note}`]),
    ...(row.skipped === undefined ? [] : [`  ${row.metric}, ${row.transport}: ${row.skipped}`]),
  ]);
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...lines.map(render), ...footnotes].join('\n');
}

/** Writes bus-<timestamp>.json and latest.json into `directory`; returns the first file's path. */
export async function writeReport(directory: string, report: BenchReport): Promise<string> {
  await mkdir(directory, { recursive: true });
  const results = report.results.map((row) => ({
    ...row,
    deploybus: row.deploybus === undefined ? undefined : roundSpread(row.deploybus),
    raw: row.raw === undefined ? undefined : roundSpread(row.raw),
    ratio: row.ratio === undefined ? undefined : Math.round(row.ratio * 1000) / 1000,
  }));
  const text = `${JSON.stringify({ ...report, results }, null, 2)}\n`;
  const file = join(directory, `bus-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, text);
  await writeFile(join(directory, 'latest.json'), text);
  return file;
}
