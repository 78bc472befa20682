import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { IBatchSpecModel } from '../tokens';
import { cellBatchCount, cellRole, RoleChoice, setCellsRole } from './actions';
import { parameterNames } from './layout';
import { normaliseBatchCount, ROLES, TagBatchCount } from './tags';

/** The name of the cell toolbar item (`"jupyter.lab.toolbars": {"Cell": [...]}`). */
export const ROLE_TOOLBAR_ITEM = 'naavre-batch-role';

let nextId = 0;

/**
 * The role control of a code cell's toolbar: none / splitter / processor / merger, and for a
 * splitter the batch count inline (a number or one of the notebook's `param_*` names, offered in
 * a list). Every change is written at once through the shared model (one undo step each), so
 * leaving the cell never loses a choice; the batch count field only asks for a different value.
 */
export class RoleControl extends Widget {
  constructor(options: RoleControl.IOptions) {
    super();
    this._cell = options.cell;
    this._panel = options.panel;
    this._specModel = options.specModel;
    this._trans = options.trans;
    this._defaultBatchCount = options.defaultBatchCount;
    this.addClass('jp-NaavreBatch-roleControl');
    const id = `jp-NaavreBatch-roleControl-${++nextId}`;
    const trans = this._trans;

    const select = (this._select = document.createElement('select'));
    select.className = 'jp-NaavreBatch-roleSelect';
    select.setAttribute(
      'aria-label',
      trans.__('Batch workflow role of this cell')
    );
    select.title = trans.__(
      'Batch workflow role: splitter, processor or merger'
    );
    const labels: Record<RoleChoice, string> = {
      none: trans.__('No role'),
      splitter: trans.__('Splitter'),
      processor: trans.__('Processor'),
      merger: trans.__('Merger')
    };
    for (const value of ['none', ...ROLES] as RoleChoice[]) {
      const option = document.createElement('option');
      option.value = value;
      option.textContent = labels[value];
      select.appendChild(option);
    }

    const input = (this._input = document.createElement('input'));
    input.type = 'text';
    input.className = 'jp-NaavreBatch-batchCountInput';
    input.size = 8;
    input.spellcheck = false;
    input.autocomplete = 'off';
    input.setAttribute('list', `${id}-choices`);
    input.setAttribute(
      'aria-label',
      trans.__('Batch count: a number, or the name of a param_ parameter')
    );
    input.placeholder = trans.__('batches');
    this._datalist = document.createElement('datalist');
    this._datalist.id = `${id}-choices`;

    const times = document.createElement('span');
    times.className = 'jp-NaavreBatch-batchCountTimes';
    times.textContent = '×';
    times.setAttribute('aria-hidden', 'true');
    this._batch = document.createElement('span');
    this._batch.className = 'jp-NaavreBatch-batchCount';
    this._batch.append(times, input, this._datalist);

    this.node.append(select, this._batch);

    // Keep the notebook from taking the focus away (it handles mousedown on cells).
    this.node.addEventListener('mousedown', event => event.stopPropagation());
    this.node.addEventListener('dblclick', event => event.stopPropagation());
    select.addEventListener('change', () => this._onRoleChosen());
    input.addEventListener('keydown', event => this._onKeyDown(event));
    input.addEventListener('change', () => this._commitBatchCount());
    input.addEventListener('input', () => this._markInvalid(null));

    this._cell.model.metadataChanged.connect(this._sync, this);
    this._specModel.changed.connect(this._syncChoices, this);
    this._sync();
    this._syncChoices();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    if (!this._cell.isDisposed) {
      this._cell.model.metadataChanged.disconnect(this._sync, this);
    }
    this._specModel.changed.disconnect(this._syncChoices, this);
    super.dispose();
  }

  /** The select element (tests and focus handling). */
  get select(): HTMLSelectElement {
    return this._select;
  }

  private _onRoleChosen(): void {
    const role = this._select.value as RoleChoice;
    const count =
      role === 'splitter'
        ? (cellBatchCount(this._cell.model) ?? this._defaultBatchCount())
        : null;
    setCellsRole(this._panel, [this._cell], role, count);
    void this._specModel.refresh();
    this._sync();
    if (role === 'splitter') {
      // ask for the batch count inline: the default is written, the field is ready to change it
      this._input.focus();
      this._input.select();
    }
  }

  private _onKeyDown(event: KeyboardEvent): void {
    if (['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(event.key)) {
      // move the caret, not the toolbar's focus
      event.stopPropagation();
    } else if (event.key === 'Enter') {
      event.preventDefault();
      this._commitBatchCount();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      this._sync();
      this._select.focus();
    }
  }

  private _commitBatchCount(): void {
    const text = this._input.value;
    const value = normaliseBatchCount(text);
    if (value === null) {
      this._markInvalid(
        this._trans.__(
          'The batch count must be a whole number of at least 1, or a param_ parameter name.'
        )
      );
      return;
    }
    this._markInvalid(null);
    if (
      value !== cellBatchCount(this._cell.model) ||
      cellRole(this._cell.model) !== 'splitter'
    ) {
      setCellsRole(this._panel, [this._cell], 'splitter', value);
      void this._specModel.refresh();
    }
    this._sync();
  }

  private _markInvalid(message: string | null): void {
    if (message) {
      this._input.setAttribute('aria-invalid', 'true');
      this._input.title = message;
      this._input.classList.add('jp-mod-invalid');
    } else {
      this._input.removeAttribute('aria-invalid');
      this._input.title = this._trans.__(
        'Batch count: a number, or the name of a param_ parameter'
      );
      this._input.classList.remove('jp-mod-invalid');
    }
  }

  /** Show the cell's tags (also those written elsewhere: tag editor, another user, undo). */
  private _sync(): void {
    if (this._cell.isDisposed) {
      return;
    }
    const role = cellRole(this._cell.model);
    this._select.value = role ?? 'none';
    const isSplitter = role === 'splitter';
    this._batch.hidden = !isSplitter;
    this.toggleClass('jp-mod-splitter', isSplitter);
    const count = cellBatchCount(this._cell.model);
    if (document.activeElement !== this._input || !isSplitter) {
      this._input.value = count === null ? '' : String(count);
    }
  }

  private _syncChoices(): void {
    const names =
      this._specModel.notebook === this._panel
        ? parameterNames(this._specModel.spec)
        : [];
    const choices: TagBatchCount[] = [...names, this._defaultBatchCount()];
    this._datalist.replaceChildren(
      ...choices.map(choice => {
        const option = document.createElement('option');
        option.value = String(choice);
        return option;
      })
    );
  }

  private _batch: HTMLSpanElement;
  private _cell: Cell;
  private _datalist: HTMLDataListElement;
  private _defaultBatchCount: () => number;
  private _input: HTMLInputElement;
  private _panel: NotebookPanel;
  private _select: HTMLSelectElement;
  private _specModel: IBatchSpecModel;
  private _trans: TranslationBundle;
}

export namespace RoleControl {
  export interface IOptions {
    cell: Cell;
    panel: NotebookPanel;
    specModel: IBatchSpecModel;
    trans: TranslationBundle;
    /** The default batch count from the settings, read when splitter is chosen. */
    defaultBatchCount: () => number;
  }
}
