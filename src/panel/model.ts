import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';

import { APIError, requestAPI } from '../request';
import { ISpec } from '../spec';
import { AdvancedOptionsModel } from './advancedmodel';
import { AdvisorModel } from './advisormodel';
import { ClusterModel } from './clustermodel';
import { IBatchSpecModel } from '../tokens';
import { ExportFormat, exportOptionsFor } from './export';
import {
  IRunFailure,
  IRunView,
  RunContext,
  formatParameter,
  parseRunStatus,
  runParameters
} from './runs';

/**
 * Export options of the panel, prefilled from the settings (`schema/plugin.json`); parallelism,
 * retries and Argo's hygiene options are the *Advanced* ones (`advancedmodel.ts`).
 */
export interface IExportOptions {
  image: string;
  /** How values cross steps: `parameters` (the server's default) or `artifacts`. */
  values: string;
}

/** The `POST export` answer (`job` for `cwl`: the job file with the parameter defaults). */
interface IExportAnswer {
  text: string;
  path: string | null;
  warnings: ({ code?: string; message: string } | string)[];
  job?: { text: string; path: string | null };
}

/** How often a running run's status is fetched, in milliseconds. */
const POLL_MS = 500;

/**
 * The panel's state besides the spec (which `IBatchSpecModel` owns): the active cell, the export
 * options, the parameter values typed for a run, and the current run, polled until it ends.
 * The React view renders it and calls its actions.
 */
export class PanelModel {
  constructor(
    readonly app: JupyterFrontEnd,
    readonly specModel: IBatchSpecModel,
    readonly trans: TranslationBundle
  ) {
    specModel.changed.connect(this._onSpecChanged, this);
    this._onSpecChanged();
    this.cluster = new ClusterModel(this);
    this.cluster.changed.connect(() => this._changed.emit());
    this.advisor = new AdvisorModel(this);
    this.advisor.changed.connect(() => this._changed.emit());
    this.advanced = new AdvancedOptionsModel(this);
    this.advanced.changed.connect(() => this._changed.emit());
    this.advanced.setNotebook(this.notebook);
  }

  /** The Advanced export options (src/panel/advancedmodel.ts). */
  readonly advanced: AdvancedOptionsModel;

  /** The batch-count advisor (src/panel/advisormodel.ts). */
  readonly advisor: AdvisorModel;

  /** Runs on the Argo server (src/panel/clustermodel.ts). */
  readonly cluster: ClusterModel;

  /** The export options as `POST export` / `POST cluster-runs` take them, or what is wrong. */
  exportRequestOptions(): Record<string, unknown> | string {
    return this._exportRequestOptions();
  }

  get changed(): ISignal<PanelModel, void> {
    return this._changed;
  }

  get notebook(): NotebookPanel | null {
    return this.specModel.notebook;
  }

  get spec(): ISpec | null {
    return this.specModel.spec;
  }

  /** Index of the notebook's active cell (to highlight its step). */
  get activeCell(): number | null {
    return this._activeCell;
  }

  get exportOptions(): IExportOptions {
    return this._exportOptions;
  }

  /** The export's parallelism as typed (Advanced section, or its fallbacks); empty: no limit. */
  get exportParallelism(): string {
    return this.advanced.text('parallelism') ?? '';
  }

  get busy(): string | null {
    return this._busy;
  }

  /** The last export's saved path and warnings, shown under the buttons. */
  get exportResult(): { path: string | null; warnings: string[] } | null {
    return this._exportResult;
  }

  get run(): IRunView | null {
    return this._run;
  }

  /** The text in each parameter input (defaults until the user edits one). */
  parameterText(name: string): string {
    const edited = this._parameterTexts[name];
    if (edited !== undefined) {
      return edited;
    }
    const p = this.spec?.parameters.find(q => q.name === name);
    return p ? formatParameter(p.default) : '';
  }

  /** The parameter values the run form currently holds (parsed; invalid ones left out). */
  get parameterValues(): Record<string, unknown> {
    return runParameters(this.spec?.parameters ?? [], this._parameterTexts)
      .values;
  }

  /** Let a parameter's input follow the notebook's default again (forget what was typed). */
  resetParameterText(name: string): void {
    const texts = { ...this._parameterTexts };
    delete texts[name];
    this._parameterTexts = texts;
    this._changed.emit();
  }

  setParameterText(name: string, text: string): void {
    this._parameterTexts = { ...this._parameterTexts, [name]: text };
    this._changed.emit();
  }

  setExportOption(key: keyof IExportOptions, value: string): void {
    this._exportOptions = { ...this._exportOptions, [key]: value };
    this._changed.emit();
  }

  /**
   * Follow the export defaults of the settings (`exportImage` in schema/plugin.json; the
   * advisor, the Advanced section and the cluster section read their own); a changed setting
   * replaces what was typed.
   */
  useSettings(settings: ISettingRegistry.ISettings): void {
    const read = () => {
      const image = settings.get('exportImage').composite;
      this._exportOptions = {
        image: typeof image === 'string' ? image : '',
        values: this._exportOptions.values
      };
      this._changed.emit();
    };
    settings.changed.connect(read);
    read();
    this.advisor.useSettings(settings);
    this.advanced.useSettings(settings);
    this.cluster.useSettings(settings);
  }

  /** Select a notebook cell, scroll to it, and put the cursor at `line`/`column` (from 1). */
  async goToCell(
    index: number,
    line?: number | null,
    column?: number | null
  ): Promise<void> {
    const panel = this.notebook;
    if (!panel) {
      return;
    }
    const notebook = panel.content;
    if (index < 0 || index >= notebook.widgets.length) {
      return;
    }
    this.app.shell.activateById(panel.id);
    notebook.deselectAll();
    notebook.activeCellIndex = index;
    await notebook.scrollToItem(index, 'smart');
    const cell = notebook.widgets[index];
    if (line) {
      notebook.mode = 'edit';
      await cell.ready;
      const editor = cell.editor;
      if (editor) {
        const lineCount = editor.lineCount;
        const target = Math.min(
          Math.max(line - 1, 0),
          Math.max(lineCount - 1, 0)
        );
        editor.setCursorPosition({
          line: target,
          column: Math.max((column ?? 1) - 1, 0)
        });
        editor.focus();
      }
    } else {
      notebook.mode = 'command';
      notebook.node.focus();
    }
  }

  /**
   * Export the spec as an Argo workflow or the spec JSON, saved beside the notebook. Asks before
   * replacing an existing file (the server answers 409), then opens the file in an editor tab.
   */
  async exportAs(format: ExportFormat): Promise<void> {
    const panel = this.notebook;
    if (!panel || this._busy) {
      return;
    }
    const trans = this.trans;
    const options = this._exportRequestOptions();
    if (typeof options === 'string') {
      await showErrorMessage(trans.__('Export options'), options);
      return;
    }
    const body = {
      path: panel.context.path,
      notebook: panel.context.model.toJSON(),
      format,
      options: exportOptionsFor(format, options),
      save: true,
      overwrite: false
    };
    this._setBusy(trans.__('Exporting…'));
    try {
      let answer: IExportAnswer;
      try {
        answer = await this._post<IExportAnswer>('export', body);
      } catch (error) {
        if (!(error instanceof APIError) || error.status !== 409) {
          throw error;
        }
        const target = (error.body && error.body.path) || '';
        const choice = await showDialog({
          title: trans.__('Replace the existing file?'),
          body: target
            ? trans.__(
                '%1 already exists beside the notebook. Replace it with the new export?',
                target
              )
            : trans.__(
                'The export file already exists beside the notebook. Replace it?'
              ),
          buttons: [
            Dialog.cancelButton({ label: trans.__('Keep it') }),
            Dialog.warnButton({ label: trans.__('Replace') })
          ]
        });
        if (!choice.button.accept) {
          return;
        }
        answer = await this._post<IExportAnswer>('export', {
          ...body,
          overwrite: true
        });
      }
      this._exportResult = {
        path: answer.job?.path
          ? `${answer.path}, ${answer.job.path}`
          : answer.path,
        warnings: (answer.warnings ?? []).map(w =>
          typeof w === 'string' ? w : w.message
        )
      };
      if (answer.path) {
        await this.app.commands.execute('docmanager:open', {
          path: answer.path
        });
      }
    } catch (error) {
      await showErrorMessage(
        trans.__('Export failed'),
        (error as Error).message
      );
    } finally {
      this._setBusy(null);
    }
  }

  /**
   * Start a run of the saved notebook (asking to save unsaved edits first, since the server runs
   * the file), then poll its status until it ends. `reuse` takes unchanged task instances from
   * the runs folder's store; `resume` re-runs only what failed or did not run in that run.
   */
  async startRun(
    context: RunContext,
    options: { reuse?: boolean; resume?: string } = {}
  ): Promise<void> {
    const panel = this.notebook;
    const spec = this.spec;
    if (!panel || !spec || this._busy || (this._run && !this._run.finished)) {
      return;
    }
    const trans = this.trans;
    const { values, invalid } = runParameters(
      spec.parameters,
      this._parameterTexts
    );
    if (invalid.length) {
      await showErrorMessage(
        trans.__('Run parameters'),
        trans.__('Fix the value of %1 first.', invalid.join(', '))
      );
      return;
    }
    if (panel.context.model.dirty) {
      const choice = await showDialog({
        title: trans.__('Save the notebook?'),
        body: trans.__(
          'Runs use the saved notebook. Save your changes and run?'
        ),
        buttons: [
          Dialog.cancelButton(),
          Dialog.okButton({ label: trans.__('Save and run') })
        ]
      });
      if (!choice.button.accept) {
        return;
      }
      await panel.context.save();
    }
    this._setBusy(trans.__('Starting the run…'));
    try {
      const answer = await this._post<{ id: string }>('runs', {
        path: panel.context.path,
        context,
        parameters: values,
        ...(options.reuse ? { reuse: true } : {}),
        ...(options.resume ? { resume: options.resume } : {})
      });
      this._run = parseRunStatus({ id: answer.id, context, status: 'queued' });
      this._runPath = panel.context.path;
      this._changed.emit();
      this._poll(answer.id);
    } catch (error) {
      await showErrorMessage(
        trans.__('The run did not start'),
        (error as Error).message
      );
    } finally {
      this._setBusy(null);
    }
  }

  /**
   * "Re-run failed": a new run of the same context that takes the finished instances of the
   * current (failed) run and runs only the failed or missing ones, then the merger.
   */
  async rerunFailed(): Promise<void> {
    const run = this._run;
    if (!run || !run.canResume) {
      return;
    }
    const context: RunContext = run.context === 'both' ? 'both' : 'workflow';
    await this.startRun(context, { resume: run.id });
  }

  /**
   * "Debug in notebook": load the header values and the failed instance's inputs (its batch as
   * the splitter's variable) into the notebook's running kernel, with the code the server
   * returns (`GET runs/<id>/debug`), then select the failing cell and say so.
   */
  async debugInNotebook(failure: IRunFailure): Promise<void> {
    const run = this._run;
    if (!run || !this.notebook || !this._runPath) {
      return;
    }
    const query = new URLSearchParams({ path: this._runPath });
    if (failure.batch !== null) {
      query.set('batch', String(failure.batch));
    }
    if (failure.task) {
      query.set('task', failure.task);
    }
    try {
      await this.loadIntoKernel(
        `runs/${encodeURIComponent(run.id)}/debug?${query.toString()}`
      );
    } catch (error) {
      await showErrorMessage(
        this.trans.__('Debug in notebook'),
        (error as Error).message
      );
    }
  }

  /**
   * Run the loader a debug endpoint answers (`runs/<id>/debug`, `cluster-runs/<name>/debug`:
   * `{code, cell_index, message}`) in the notebook's running kernel, select the failing cell and
   * say so; throws what went wrong (the request, no kernel, the loader failing in the kernel).
   */
  async loadIntoKernel(endPoint: string): Promise<void> {
    const panel = this.notebook;
    const trans = this.trans;
    if (!panel) {
      return;
    }
    const answer = await requestAPI<{
      code: string;
      cell_index: number | null;
      message: string;
    }>(endPoint, this.app.serviceManager.serverSettings);
    const kernel = panel.sessionContext.session?.kernel;
    if (!kernel) {
      throw new Error(
        trans.__(
          'The notebook has no running kernel: start one, then try again.'
        )
      );
    }
    const reply = await kernel.requestExecute({
      code: answer.code,
      store_history: false
    }).done;
    if (reply.content.status !== 'ok') {
      const content = reply.content as { ename?: string; evalue?: string };
      throw new Error(
        trans.__(
          'Loading the inputs failed in the kernel: %1: %2',
          content.ename ?? 'error',
          content.evalue ?? ''
        )
      );
    }
    if (answer.cell_index !== null) {
      await this.goToCell(answer.cell_index);
    }
    Notification.success(answer.message, { autoClose: 8000 });
  }

  /** Cancel the current run (the server stops every process and kernel it started). */
  async cancelRun(): Promise<void> {
    const run = this._run;
    if (!run || run.finished) {
      return;
    }
    try {
      await requestAPI(
        `runs/${encodeURIComponent(run.id)}`,
        this.app.serviceManager.serverSettings,
        {
          method: 'DELETE'
        }
      );
    } catch (error) {
      await showErrorMessage(
        this.trans.__('Cancel failed'),
        (error as Error).message
      );
    }
    await this._fetchRun(run.id);
  }

  /** Forget a finished run's results (the graph goes back to the batch count). */
  clearRun(): void {
    if (this._run?.finished) {
      this._run = null;
      this._changed.emit();
    }
  }

  dispose(): void {
    window.clearTimeout(this._pollTimer);
    this.cluster.dispose();
    this.advanced.dispose();
    this._watchNotebook(null);
    Signal.clearData(this);
  }

  private _poll(id: string): void {
    window.clearTimeout(this._pollTimer);
    this._pollTimer = window.setTimeout(async () => {
      await this._fetchRun(id);
      if (this._run?.id === id && !this._run.finished) {
        this._poll(id);
      }
    }, POLL_MS);
  }

  private async _fetchRun(id: string): Promise<void> {
    try {
      const status = await requestAPI<any>(
        `runs/${encodeURIComponent(id)}`,
        this.app.serviceManager.serverSettings
      );
      if (this._run?.id === id) {
        this._run = parseRunStatus(status);
        this._changed.emit();
        if (this._run.finished) {
          this.advisor.runFinished(this._run);
        }
      }
    } catch (error) {
      if (this._run?.id === id) {
        this._run = {
          ...this._run,
          finished: true,
          status: 'error',
          message: (error as Error).message
        };
        this._changed.emit();
      }
    }
  }

  private _exportRequestOptions(): Record<string, unknown> | string {
    const trans = this.trans;
    const o = this._exportOptions;
    const advancedError = this.advanced.firstError();
    if (advancedError) {
      return trans.__('Fix the Advanced option %1 first.', advancedError);
    }
    const options: Record<string, unknown> = this.advanced.requestOptions();
    if (o.image.trim()) {
      if (/\s/.test(o.image.trim())) {
        return trans.__('The image name cannot contain spaces.');
      }
      options.image = o.image.trim();
    }
    if (o.values === 'artifacts') {
      options.values = 'artifacts';
    }
    return options;
  }

  private _post<T>(endPoint: string, body: unknown): Promise<T> {
    return requestAPI<T>(endPoint, this.app.serviceManager.serverSettings, {
      method: 'POST',
      body: JSON.stringify(body)
    });
  }

  private _setBusy(message: string | null): void {
    this._busy = message;
    this._changed.emit();
  }

  private _onSpecChanged(): void {
    const panel = this.specModel.notebook;
    if (panel !== this._watched) {
      this._watchNotebook(panel);
      this._parameterTexts = {};
      this._exportResult = null;
      this.advisor?.clear();
      this.advanced?.setNotebook(panel);
      if (
        this._run &&
        panel?.context.path !== this._runPath &&
        this._run.finished
      ) {
        this._run = null;
      }
    }
    this._changed.emit();
  }

  private _watchNotebook(panel: NotebookPanel | null): void {
    this._watched?.content.activeCellChanged.disconnect(
      this._onActiveCell,
      this
    );
    this._watched = panel;
    panel?.content.activeCellChanged.connect(this._onActiveCell, this);
    this._activeCell = panel ? panel.content.activeCellIndex : null;
  }

  private _onActiveCell(): void {
    this._activeCell = this._watched
      ? this._watched.content.activeCellIndex
      : null;
    this._changed.emit();
  }

  private _changed = new Signal<PanelModel, void>(this);
  private _watched: NotebookPanel | null = null;
  private _activeCell: number | null = null;
  private _parameterTexts: Record<string, string> = {};
  private _exportOptions: IExportOptions = {
    image: '',
    values: 'parameters'
  };
  private _exportResult: { path: string | null; warnings: string[] } | null =
    null;
  private _busy: string | null = null;
  private _run: IRunView | null = null;
  private _runPath: string | null = null;
  private _pollTimer = 0;
}
