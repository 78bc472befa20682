/**
 * The batch-count advisor's view logic, pure: the shape of the server's `POST advise` answer, the
 * plot's geometry, and the notebook edit that *Use m = k* makes. The model itself (expected time
 * against m) lives only on the server (naavre_batch_ext/engines/advisor.py): the panel plots the
 * rows it returns and never computes a time.
 */

import { BatchCount, ISpec } from '../spec';

/** One row of the table: the expected processor-stage time for `batches` = m. */
export interface IAdviceRow {
  batches: number;
  instances: number;
  waves: number;
  batch_items: number;
  seconds: number;
}

/** The advice for one split/merge section (`advisor.advise_sections`). */
export interface IAdviceSection {
  section: number;
  splitter: string;
  /** Where m comes from: what *Use m = k* edits. */
  batch_count: BatchCount | null;
  measured_in: string;
  start_cost_source: string;
  items: number;
  item_seconds: number;
  parallelism: number | null;
  start_cost: number;
  current: number | null;
  current_seconds: number | null;
  best: number;
  best_seconds: number;
  rows: IAdviceRow[];
}

/** The `POST advise` answer. */
export interface IAdvice {
  sections: IAdviceSection[];
  model: string;
  defaultStartCost: number;
  /** The start cost s advised with, and where it comes from (`startCostOrigin`). */
  startCost: number;
  startCostSource: string;
}

/**
 * Where the server's start cost s comes from (`advisor.choose_start_cost`): a value given in the
 * field, the last finished cluster run of the notebook (its pods' measured time beyond their
 * items), the setting `advisorStartCost`, or the documented default.
 */
export type StartCostOrigin =
  | { kind: 'given' }
  | { kind: 'cluster'; run: string }
  | { kind: 'settings' }
  | { kind: 'default' };

const CLUSTER_SOURCE = 'last cluster run ';

/** The origin named by a `startCostSource` of the server. */
export function startCostOrigin(source: string): StartCostOrigin {
  if (source.startsWith(CLUSTER_SOURCE)) {
    return { kind: 'cluster', run: source.slice(CLUSTER_SOURCE.length) };
  }
  if (source === 'your settings') {
    return { kind: 'settings' };
  }
  return source === 'default' ? { kind: 'default' } : { kind: 'given' };
}

/**
 * The start cost fields of `POST advise`: `startCost` only when the user typed one (it wins over
 * everything), and the setting as `settingsStartCost`, which the server takes only when no
 * cluster run of the notebook measured s.
 */
export function startCostRequest(
  typed: string,
  setting: number | null
): { startCost: number | null; settingsStartCost: number | null } {
  const text = typed.trim();
  return {
    startCost: text ? Number(text) : null,
    settingsStartCost: setting
  };
}

/** Margins of the plot inside its view box (room for the axis labels). */
export const PLOT_MARGIN = { left: 44, right: 12, top: 12, bottom: 30 };

/** A point of the plot, in view-box units. */
export interface IPlotPoint {
  m: number;
  x: number;
  y: number;
}

/** The plot's geometry for a view box `width` x `height`. */
export interface IPlotLayout {
  points: IPlotPoint[];
  /** SVG polyline `points` attribute. */
  line: string;
  /** The x of an m (linear from the first to the last row's m). */
  x: (m: number) => number;
  /** The y of a time in seconds (0 at the bottom axis). */
  y: (seconds: number) => number;
  /** The largest time on the y axis (the rows' maximum, so the curve fills the height). */
  maxSeconds: number;
  /** Ticks of the x axis: the first m, the last m, and a few evenly spaced between. */
  xTicks: number[];
}

/**
 * Place the rows' (m, seconds) in a view box of `width` x `height`: m grows to the right, time
 * upwards from 0 (so the gaps between the curve and the axis compare honestly).
 */
export function plotLayout(
  rows: readonly IAdviceRow[],
  width: number,
  height: number
): IPlotLayout {
  const first = rows.length ? rows[0].batches : 1;
  const last = rows.length ? rows[rows.length - 1].batches : 1;
  const maxSeconds = Math.max(0, ...rows.map(r => r.seconds)) || 1;
  const innerW = width - PLOT_MARGIN.left - PLOT_MARGIN.right;
  const innerH = height - PLOT_MARGIN.top - PLOT_MARGIN.bottom;
  const x = (m: number) =>
    PLOT_MARGIN.left +
    (last === first ? innerW / 2 : ((m - first) / (last - first)) * innerW);
  const y = (seconds: number) =>
    PLOT_MARGIN.top + innerH - (seconds / maxSeconds) * innerH;
  const points = rows.map(r => ({
    m: r.batches,
    x: x(r.batches),
    y: y(r.seconds)
  }));
  const line = points.map(p => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
  return { points, line, x, y, maxSeconds, xTicks: xTicks(first, last) };
}

/** Up to five whole-number ticks from `first` to `last`, both included. */
export function xTicks(first: number, last: number): number[] {
  if (last <= first) {
    return [first];
  }
  const span = last - first;
  const step = Math.max(1, Math.ceil(span / 4));
  const ticks: number[] = [];
  for (let m = first; m < last; m += step) {
    ticks.push(m);
  }
  if (ticks.length && last - ticks[ticks.length - 1] < step / 2) {
    ticks.pop();
  }
  ticks.push(last);
  return ticks;
}

/** What *Use m = k* changes: the header line that sets the parameter, or the splitter's tag. */
export type BatchCountEdit =
  | {
      kind: 'parameter';
      name: string;
      cellIndex: number;
      /** The cell's whole new source. */
      source: string;
    }
  | { kind: 'tag'; cellIndex: number };

/**
 * The edit that makes the notebook use `k` batches in a section whose batch count is `count`:
 * for `{parameter}`, the header line (`spec.parameters[].cell_index`, `line`) that assigns it gets
 * `k` as its value (`cellSource` is that cell's current text); for `{value}`, the splitter's
 * `naavre:batch-count:` tag. Null when the line no longer assigns a whole number to the name
 * (the notebook changed since the spec): nothing is written then.
 */
export function batchCountEdit(
  spec: ISpec,
  count: BatchCount | null,
  splitter: string,
  k: number,
  cellSource: (index: number) => string | null
): BatchCountEdit | null {
  if (!count) {
    return null;
  }
  if ('parameter' in count) {
    const p = spec.parameters.find(q => q.name === count.parameter);
    if (!p) {
      return null;
    }
    const text = cellSource(p.cell_index);
    const source =
      text === null ? null : replaceAssignment(text, p.name, p.line, k);
    return source === null
      ? null
      : { kind: 'parameter', name: p.name, cellIndex: p.cell_index, source };
  }
  const step = spec.steps.find(s => s.id === splitter);
  return step && step.cells.length
    ? { kind: 'tag', cellIndex: step.cells[0].index }
    : null;
}

/**
 * `source` with the integer that line `line` (from 1) assigns to `name` replaced by `value`,
 * everything else on the line (spaces, a comment, a type annotation) kept; null when that line
 * does not assign a whole number to `name`.
 */
export function replaceAssignment(
  source: string,
  name: string,
  line: number,
  value: number
): string | null {
  const lines = source.split('\n');
  const text = lines[line - 1];
  if (text === undefined) {
    return null;
  }
  const pattern = new RegExp(
    `^(\\s*${name}\\s*(?::[^=]*)?=\\s*)(\\d+)(\\s*(?:#.*)?)$`
  );
  const match = pattern.exec(text);
  if (!match) {
    return null;
  }
  lines[line - 1] = `${match[1]}${value}${match[3]}`;
  return lines.join('\n');
}
