// Small statistics and formatting helpers shared by the benchmark scripts.
'use strict';

function sorted(values) {
  return [...values].sort((a, b) => a - b);
}

/** Nearest-rank percentile of an ascending array. */
function percentile(ascending, p) {
  if (ascending.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * ascending.length);
  return ascending[Math.min(ascending.length - 1, Math.max(0, rank - 1))];
}

/** min / median / max (and the raw values) of a list of numbers. */
function summary(values) {
  const s = sorted(values.filter((v) => Number.isFinite(v)));
  if (s.length === 0) return { n: 0, min: null, median: null, max: null, values: [] };
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { n: s.length, min: s[0], median, max: s[s.length - 1], values };
}

function fmt(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return '-';
  return Number(value).toFixed(digits);
}

/** `x / y` as `0.42×`, or `-` when undefined. */
function ratio(x, y, digits = 2) {
  if (!Number.isFinite(x) || !Number.isFinite(y) || y === 0) return '-';
  return `${(x / y).toFixed(digits)}×`;
}

/** A plain text table: first row is the header; numbers are right-aligned. */
function table(rows) {
  const widths = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, String(cell).length);
    });
  }
  const line = (row) =>
    row
      .map((cell, i) => {
        const text = String(cell);
        return i === 0 ? text.padEnd(widths[i]) : text.padStart(widths[i]);
      })
      .join('  ');
  const out = [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const row of rows.slice(1)) out.push(line(row));
  return out.join('\n');
}

/** Rotates `list` by `n`: alternating the order of variants between rounds spreads drift evenly. */
function rotate(list, n) {
  const k = n % list.length;
  return list.slice(k).concat(list.slice(0, k));
}

/** The package a loaded file belongs to: the path segment(s) after the last node_modules. */
function packageOf(file, ownRoot) {
  const marker = '/node_modules/';
  const normal = file.replace(/\\/g, '/');
  const at = normal.lastIndexOf(marker);
  if (at === -1) {
    if (ownRoot && normal.startsWith(`${ownRoot.replace(/\\/g, '/')}/`)) return 'otel-run';
    return '(app)';
  }
  const parts = normal.slice(at + marker.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? '(app)');
}

module.exports = { fmt, packageOf, percentile, ratio, rotate, sorted, summary, table };
