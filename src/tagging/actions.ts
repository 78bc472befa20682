import { Cell, ICellModel } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

import type { Role } from '../spec';
import { parseTags, setRole, TagBatchCount } from './tags';

/**
 * Writing roles on cells through the shared notebook model: `cell.model.setMetadata('tags', ...)`
 * goes through the Yjs document, so undo/redo and real-time collaboration see it, and nothing but
 * the cell's `naavre:` tags changes.
 */

/** The role chosen in the toolbar or by a command; `none` removes every `naavre:` tag. */
export type RoleChoice = Role | 'none';

/** The cell's `metadata.tags` as stored (whatever it holds), or null without the key. */
export function cellTags(model: ICellModel): unknown[] | null {
  const tags = model.getMetadata('tags');
  return Array.isArray(tags) ? tags : null;
}

/** The role the cell's tags give it (null for none or an unreadable tag set). */
export function cellRole(model: ICellModel): Role | null {
  return parseTags(cellTags(model) ?? []).role;
}

/** The batch count the cell's tags give it (splitters only). */
export function cellBatchCount(model: ICellModel): TagBatchCount | null {
  return parseTags(cellTags(model) ?? []).batchCount;
}

function sameTags(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/**
 * Set the role of one cell model. A cell without a `tags` key that ends with no tags keeps having
 * none (as Python's `set_cell_role`), so clearing an untagged cell changes nothing.
 * Throws `TagValueError` for a batch count the grammar rejects, before writing anything.
 */
export function setCellRole(
  model: ICellModel,
  role: RoleChoice,
  batchCount?: TagBatchCount | null
): boolean {
  const before = cellTags(model);
  const after = setRole(
    before ?? [],
    role,
    role === 'splitter' ? batchCount : null
  );
  if (before === null ? after.length === 0 : sameTags(before, after)) {
    return false;
  }
  model.setMetadata('tags', after);
  return true;
}

/**
 * Set the role of several cells as one undoable change of the notebook. Only code cells take a
 * role (a tag on a markdown cell only earns a warning); the others are skipped.
 * Returns how many cells changed.
 */
export function setCellsRole(
  panel: NotebookPanel,
  cells: readonly Cell[],
  role: RoleChoice | ((model: ICellModel) => RoleChoice),
  batchCount?:
    TagBatchCount | null | ((model: ICellModel) => TagBatchCount | null)
): number {
  const code = cells.filter(c => c.model.type === 'code');
  // validate every cell first so a bad value changes nothing
  const plan = code.map(cell => {
    const r = typeof role === 'function' ? role(cell.model) : role;
    const n =
      typeof batchCount === 'function' ? batchCount(cell.model) : batchCount;
    setRole(cellTags(cell.model) ?? [], r, r === 'splitter' ? n : null);
    return { model: cell.model, role: r, batchCount: n };
  });
  let changed = 0;
  const write = () => {
    for (const step of plan) {
      if (setCellRole(step.model, step.role, step.batchCount)) {
        changed++;
      }
    }
  };
  const shared = panel.model?.sharedModel;
  if (shared) {
    oneUndoStep(shared, write);
  } else {
    write();
  }
  return changed;
}

/**
 * Make `change` one step of the notebook's undo history, on its own: the Yjs undo manager
 * merges changes less than 500 ms apart (its `captureTimeout`), so two commands run in quick
 * succession (W P then W M) would otherwise be undone together.
 */
export function oneUndoStep(
  shared: { transact(f: () => void): void; undoManager?: unknown },
  change: () => void
): void {
  const undo = shared.undoManager as { stopCapturing(): void } | undefined;
  undo?.stopCapturing();
  shared.transact(change);
  undo?.stopCapturing();
}

/** The code cells a command acts on: every selected cell, or the active one. */
export function selectedCodeCells(panel: NotebookPanel | null): Cell[] {
  if (!panel) {
    return [];
  }
  const notebook = panel.content;
  return notebook.widgets.filter(
    cell => notebook.isSelectedOrActive(cell) && cell.model.type === 'code'
  );
}
