/**
 * Where each cell stands in the workflow: header, the first cell of a step, or a cell that joins
 * a step; and which diagnostics concern it. Pure (no JupyterLab import), so the badges' logic is
 * tested with Jest.
 *
 * The server's spec is the truth (its steps' cells, header cells and diagnostics). Until it has
 * answered for the current content, the same layout is derived from the tags alone with the rule
 * of docs/tags.md, so a tag change shows at once.
 */

import type { BatchCount, IDiagnostic, IParameter, ISpec, Role } from '../spec';
import { parseTags, TagBatchCount } from './tags';

/** What the decorator needs to know about a cell of the notebook model. */
export interface ICellInfo {
  /** nbformat cell id, when the notebook has ids. */
  id: string | null;
  type: string;
  /** `metadata.tags`, whatever it holds. */
  tags: unknown;
}

/** How a cell takes part in the workflow. */
export type Place = 'none' | 'header' | 'start' | 'member';

/** The batch count shown on a splitter's badge. */
export interface IBatchLabel {
  /** The number, when the tag holds one or the parameter's default is known. */
  value: number | null;
  /** The parameter name, when the batch count is a workflow parameter. */
  parameter: string | null;
}

/** Everything the badges show on one cell. */
export interface ICellLayout {
  place: Place;
  /** The role of the step the cell starts or joins. */
  role: Role | null;
  /** The step id from the spec (null in tags-only mode). */
  stepId: string | null;
  /** Splitter starts only. */
  batch: IBatchLabel | null;
  diagnostics: IDiagnostic[];
}

function tagList(tags: unknown): unknown[] {
  return Array.isArray(tags) ? tags : [];
}

function emptyLayout(): ICellLayout {
  return {
    place: 'none',
    role: null,
    stepId: null,
    batch: null,
    diagnostics: []
  };
}

/** The label of a batch count from the tags, with the parameter's default when known. */
export function batchLabel(
  count: TagBatchCount | BatchCount | null | undefined,
  parameters: readonly IParameter[] = []
): IBatchLabel | null {
  if (count === null || count === undefined) {
    return null;
  }
  if (typeof count === 'number') {
    return { value: count, parameter: null };
  }
  const name =
    typeof count === 'string'
      ? count
      : 'parameter' in count
        ? count.parameter
        : null;
  if (name === null) {
    return { value: (count as { value: number }).value, parameter: null };
  }
  const param = parameters.find(p => p.name === name);
  let value: number | null = null;
  if (
    param &&
    typeof param.default === 'number' &&
    Number.isInteger(param.default)
  ) {
    value = param.default;
  } else if (
    typeof count === 'object' &&
    'default' in count &&
    typeof count.default === 'number'
  ) {
    value = count.default;
  }
  return { value, parameter: name };
}

/**
 * The layout from the tags alone (docs/tags.md): a code cell with a role starts a step, untagged
 * code cells below join it, code cells before the first role cell are the header. Tag problems
 * become diagnostics on their cell, as the server would report them.
 */
export function layoutFromTags(cells: readonly ICellInfo[]): ICellLayout[] {
  const result = cells.map(() => emptyLayout());
  const annotations = cells.map(cell => parseTags(tagList(cell.tags)));
  const hasRoles = cells.some(
    (cell, i) => cell.type === 'code' && annotations[i].role !== null
  );
  let current: Role | null = null;
  cells.forEach((cell, i) => {
    const ann = annotations[i];
    const layout = result[i];
    layout.diagnostics = ann.problems.map(p => ({
      severity: p.severity,
      code: p.code,
      message: p.message,
      hint: p.hint,
      cell_index: i,
      cell_id: cell.id,
      line: 1,
      column: 1
    }));
    if (cell.type !== 'code' || !hasRoles) {
      return;
    }
    if (ann.role !== null) {
      current = ann.role;
      layout.place = 'start';
      layout.role = ann.role;
      layout.batch =
        ann.role === 'splitter' ? batchLabel(ann.batchCount) : null;
    } else if (current !== null) {
      layout.place = 'member';
      layout.role = current;
    } else {
      layout.place = 'header';
    }
  });
  return result;
}

/**
 * Find the position of a spec cell reference in the current cells: by id when both have one
 * (robust to cells inserted since the spec was made), else by index.
 */
export function cellPosition(
  cells: readonly ICellInfo[],
  id: string | null | undefined,
  index: number | null | undefined
): number | null {
  if (id) {
    const found = cells.findIndex(c => c.id === id);
    if (found >= 0) {
      return found;
    }
  }
  if (typeof index === 'number' && index >= 0 && index < cells.length) {
    return index;
  }
  return null;
}

/** The diagnostics of the spec, per cell position (notebook-wide ones are left out). */
export function diagnosticsByCell(
  cells: readonly ICellInfo[],
  diagnostics: readonly IDiagnostic[]
): IDiagnostic[][] {
  const result: IDiagnostic[][] = cells.map(() => []);
  for (const d of diagnostics) {
    const at = cellPosition(cells, d.cell_id, d.cell_index);
    if (at !== null) {
      result[at].push(d);
    }
  }
  return result;
}

/**
 * The layout from the server's spec: its steps' cells (first cell starts the step, the others
 * join it), its header cells (only when there is a step, as every step runs them) and its
 * diagnostics. Batch counts come from the spec's steps with the parameters' defaults.
 */
export function layoutFromSpec(
  cells: readonly ICellInfo[],
  spec: ISpec
): ICellLayout[] {
  const result = cells.map(() => emptyLayout());
  if (spec.steps.length > 0) {
    for (const ref of spec.header.cells) {
      const at = cellPosition(cells, ref.id, ref.index);
      if (at !== null) {
        result[at].place = 'header';
      }
    }
  }
  for (const step of spec.steps) {
    step.cells.forEach((ref, k) => {
      const at = cellPosition(cells, ref.id, ref.index);
      if (at === null) {
        return;
      }
      const layout = result[at];
      layout.place = k === 0 ? 'start' : 'member';
      layout.role = step.role;
      layout.stepId = step.id;
      if (k === 0 && step.role === 'splitter') {
        layout.batch = batchLabel(step.batch_count, spec.parameters);
      }
    });
  }
  diagnosticsByCell(cells, spec.diagnostics).forEach((list, i) => {
    result[i].diagnostics = list;
  });
  return result;
}

/**
 * The layout to show: from the spec when it describes the current content, else from the tags
 * with the last spec's diagnostics (they stay until the server answers again) or, without any
 * spec, the tag problems.
 */
export function cellLayout(
  cells: readonly ICellInfo[],
  spec: ISpec | null,
  specIsCurrent: boolean
): ICellLayout[] {
  if (spec && specIsCurrent) {
    return layoutFromSpec(cells, spec);
  }
  const layout = layoutFromTags(cells);
  if (spec) {
    const byCell = diagnosticsByCell(cells, spec.diagnostics);
    layout.forEach((l, i) => {
      l.diagnostics = byCell[i];
      if (l.batch && l.batch.parameter && l.batch.value === null) {
        l.batch = batchLabel(l.batch.parameter, spec.parameters);
      }
    });
  }
  return layout;
}

/** The `param_*` names of the spec, for the batch count choices. */
export function parameterNames(spec: ISpec | null): string[] {
  return spec ? spec.parameters.map(p => p.name) : [];
}
