// How values look to people in a terminal: durations, short commit ids, aligned columns, and a
// progress bar. Pure; the commands decide what to show.

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1_000);
  return minutes < 60 ? `${minutes}m${String(seconds).padStart(2, '0')}s` : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

export function shortSha(sha: string | undefined): string {
  return sha === undefined ? '-' : sha.slice(0, 10);
}

/** "2026-11-22T10:00:00.000Z" -> "2026-11-22 10:00:00"; anything else as it is. */
export function formatTime(iso: string | undefined): string {
  if (iso === undefined) return '-';
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(iso);
  return match ? `${match[1]} ${match[2]}` : iso;
}

/** Control characters from the server must not reach the terminal (they could move the cursor or retitle it). */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is replaced
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '?');
}

/** Columns padded to their widest cell; the last column is not padded. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows].map((row) => row.map((cell) => printable(cell).replace(/\n/g, ' ')));
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]?.length ?? 0)));
  return all.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}

/** `[#########-----------]  3/8 hosts` fitted into `columns`. */
export function progressBar(done: number, total: number, columns: number, label = 'hosts'): string {
  const counter = ` ${done}/${total} ${label}`;
  const width = Math.max(10, Math.min(40, columns - counter.length - 3));
  const filled = total <= 0 ? 0 : Math.min(width, Math.round((done / total) * width));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${counter}`;
}
