import { ICellModel } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from '../request';
import { ISpec } from '../spec';
import { IBatchSpecModel, IStepStates } from '../tokens';

/** Default wait after the last edit before asking the server, in milliseconds. */
export const DEFAULT_DEBOUNCE = 500;

/**
 * The spec of the active notebook, from `POST <base>/naavre-batch-ext/spec` with the unsaved
 * content, so badges and panel follow edits without a save. The server is the only analyser.
 *
 * Requests are debounced after source, tag, metadata and cell-list changes (outputs and
 * execution counts do not change the spec and are ignored). Answers to older requests are
 * dropped, so a slow answer never overwrites a newer one.
 */
export class BatchSpecModel implements IBatchSpecModel {
  constructor(options: BatchSpecModel.IOptions) {
    this._tracker = options.tracker;
    this._serverSettings = options.serverSettings;
    this._tracker.currentChanged.connect(this._onCurrentChanged, this);
    this._onCurrentChanged();
  }

  get notebook(): NotebookPanel | null {
    return this._notebook;
  }

  get spec(): ISpec | null {
    return this._spec;
  }

  get error(): string | null {
    return this._error;
  }

  /**
   * Whether `spec` describes the notebook's current content: false from an edit until the answer
   * to the request sent after it.
   */
  get isCurrent(): boolean {
    return this._spec !== null && this._specVersion === this._version;
  }

  get changed(): ISignal<IBatchSpecModel, void> {
    return this._changed;
  }

  get stepStates(): IStepStates | null {
    return this._stepStates;
  }

  setStepStates(value: IStepStates | null): void {
    if (JSON.stringify(value) !== JSON.stringify(this._stepStates)) {
      this._stepStates = value;
      this._changed.emit();
    }
  }

  /** Milliseconds to wait after the last edit before asking the server. */
  get debounce(): number {
    return this._debounce;
  }
  set debounce(value: number) {
    this._debounce = Math.max(0, value);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._clearTimer();
    this._disconnect();
    Signal.clearData(this);
  }

  async refresh(): Promise<void> {
    this._clearTimer();
    const panel = this._notebook;
    if (!panel) {
      return;
    }
    await panel.context.ready;
    if (panel !== this._notebook || this._isDisposed || !panel.model) {
      return;
    }
    const requestId = ++this._requestId;
    const version = this._version;
    let spec: ISpec | null = null;
    let error: string | null = null;
    try {
      spec = await requestAPI<ISpec>('spec', this._serverSettings, {
        method: 'POST',
        body: JSON.stringify({
          path: panel.context.path,
          notebook: panel.model.toJSON()
        })
      });
    } catch (reason) {
      error = (reason as Error).message ?? String(reason);
    }
    if (
      requestId !== this._requestId ||
      panel !== this._notebook ||
      this._isDisposed
    ) {
      return; // a newer request or another notebook took over
    }
    this._spec = spec;
    this._specVersion = version;
    this._error = error;
    this._changed.emit();
  }

  private _onCurrentChanged(): void {
    const panel = this._tracker.currentWidget;
    if (panel === this._notebook) {
      return;
    }
    this._disconnect();
    this._clearTimer();
    this._notebook = panel;
    this._spec = null;
    this._error = null;
    this._requestId++;
    this._version++;
    this._changed.emit();
    if (panel) {
      panel.disposed.connect(this._onPanelDisposed, this);
      void panel.context.ready.then(() => {
        if (panel === this._notebook && panel.model) {
          this._connect(panel);
          void this.refresh();
        }
      });
    }
  }

  private _onPanelDisposed(panel: NotebookPanel): void {
    if (panel === this._notebook) {
      this._disconnect();
      this._clearTimer();
      this._notebook = null;
      this._spec = null;
      this._error = null;
      this._changed.emit();
    }
  }

  private _connect(panel: NotebookPanel): void {
    const model = panel.model!;
    model.cells.changed.connect(this._onCellsChanged, this);
    model.sharedModel.metadataChanged.connect(this._onEdit, this);
    panel.context.pathChanged.connect(this._onEdit, this);
    this._connectCells();
  }

  private _disconnect(): void {
    for (const cell of this._cells) {
      if (!cell.isDisposed) {
        cell.sharedModel.changed.disconnect(this._onCellChanged, this);
      }
    }
    this._cells.clear();
    const panel = this._notebook;
    if (panel) {
      panel.disposed.disconnect(this._onPanelDisposed, this);
      panel.context.pathChanged.disconnect(this._onEdit, this);
      const model = panel.model;
      if (model) {
        model.cells.changed.disconnect(this._onCellsChanged, this);
        model.sharedModel.metadataChanged.disconnect(this._onEdit, this);
      }
    }
  }

  /** Follow every cell of the notebook (cells come and go; connections are kept in a set). */
  private _connectCells(): void {
    const model = this._notebook?.model;
    if (!model) {
      return;
    }
    const current = new Set<ICellModel>();
    for (let i = 0; i < model.cells.length; i++) {
      current.add(model.cells.get(i));
    }
    for (const cell of this._cells) {
      if (!current.has(cell)) {
        if (!cell.isDisposed) {
          cell.sharedModel.changed.disconnect(this._onCellChanged, this);
        }
        this._cells.delete(cell);
      }
    }
    for (const cell of current) {
      if (!this._cells.has(cell)) {
        cell.sharedModel.changed.connect(this._onCellChanged, this);
        this._cells.add(cell);
      }
    }
  }

  private _onCellsChanged(): void {
    this._connectCells();
    this._onEdit();
  }

  private _onCellChanged(_: unknown, change: { [key: string]: unknown }): void {
    if (change.metadataChange || change.sourceChange) {
      this._onEdit();
    }
  }

  private _onEdit(): void {
    this._version++;
    this._clearTimer();
    this._timer = window.setTimeout(() => {
      this._timer = null;
      void this.refresh();
    }, this._debounce);
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _cells = new Set<ICellModel>();
  private _changed = new Signal<IBatchSpecModel, void>(this);
  private _stepStates: IStepStates | null = null;
  private _debounce = DEFAULT_DEBOUNCE;
  private _error: string | null = null;
  private _isDisposed = false;
  private _notebook: NotebookPanel | null = null;
  private _requestId = 0;
  private _serverSettings: ServerConnection.ISettings;
  private _spec: ISpec | null = null;
  private _specVersion = -1;
  private _timer: number | null = null;
  private _tracker: INotebookTracker;
  private _version = 0;
}

export namespace BatchSpecModel {
  export interface IOptions {
    tracker: INotebookTracker;
    serverSettings: ServerConnection.ISettings;
  }
}
