import { ServerConnection } from '@jupyterlab/services';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from '../request';
import { ISpec } from '../spec';
import { IBatchSpecModel } from '../tokens';

/**
 * A stand-in for the tagging plugin's `IBatchSpecModel`, used only when that token is not
 * provided (the tagging plugin disabled): the active notebook's spec from `POST spec` with the
 * unsaved content, debounced after edits. The server stays the only analyser.
 */
export class FallbackSpecModel implements IBatchSpecModel {
  constructor(
    private readonly tracker: INotebookTracker,
    private readonly serverSettings: ServerConnection.ISettings,
    private readonly delay = 400
  ) {
    tracker.currentChanged.connect(this._follow, this);
    this._follow();
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

  get changed(): ISignal<IBatchSpecModel, void> {
    return this._changed;
  }

  async refresh(): Promise<void> {
    window.clearTimeout(this._timer);
    const panel = this._notebook;
    if (!panel || !panel.context.model) {
      return;
    }
    const request = ++this._request;
    try {
      const spec = await requestAPI<ISpec>('spec', this.serverSettings, {
        method: 'POST',
        body: JSON.stringify({
          path: panel.context.path,
          notebook: panel.context.model.toJSON()
        })
      });
      if (request === this._request && panel === this._notebook) {
        this._spec = spec;
        this._error = null;
        this._changed.emit();
      }
    } catch (error) {
      if (request === this._request && panel === this._notebook) {
        this._error = (error as Error).message;
        this._changed.emit();
      }
    }
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    Signal.clearData(this);
  }

  private _follow(): void {
    const panel = this.tracker.currentWidget;
    if (panel === this._notebook) {
      return;
    }
    this._notebook?.context.model?.contentChanged.disconnect(
      this._schedule,
      this
    );
    this._notebook = panel;
    this._spec = null;
    this._error = null;
    this._changed.emit();
    if (panel) {
      void panel.context.ready.then(() => {
        if (panel === this._notebook) {
          panel.context.model.contentChanged.connect(this._schedule, this);
          void this.refresh();
        }
      });
    }
  }

  private _schedule(): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => void this.refresh(), this.delay);
  }

  private _notebook: NotebookPanel | null = null;
  private _spec: ISpec | null = null;
  private _error: string | null = null;
  private _timer = 0;
  private _request = 0;
  private _changed = new Signal<IBatchSpecModel, void>(this);
}
