import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { APIError, requestAPI } from '../request';
import {
  clusterDebugEndPoint,
  IClusterFailure,
  IClusterLog,
  IClusterRun,
  itemRangeText,
  parseClusterRun,
  stepStatesOf,
  storedOutputText
} from './cluster';
import type { PanelModel } from './model';
import { runParameters } from './runs';

/**
 * How often a cluster run that goes on is fetched, in milliseconds, unless the setting
 * `clusterPollInterval` (schema/plugin.json) says otherwise.
 */
export const CLUSTER_POLL_MS = 2000;

/**
 * The panel's cluster runs (docs/cluster.md): submit with the panel's parameters and export
 * options, the notebook's runs listed from the cluster (they survive reloads and server restarts),
 * one followed run polled until it ends, its step states shared with the cell badges through
 * `IBatchSpecModel.setStepStates`, logs, and stop / retry / resubmit confirmed in dialogs.
 */
export class ClusterModel {
  constructor(readonly panel: PanelModel) {
    panel.specModel.changed.connect(this._onNotebook, this);
    this._onNotebook();
  }

  get changed(): ISignal<ClusterModel, void> {
    return this._changed;
  }

  /** The notebook's runs on the cluster, newest first (null before the first answer). */
  get runs(): IClusterRun[] | null {
    return this._runs;
  }

  /** The followed run with its steps, or null. */
  get run(): IClusterRun | null {
    return this._run;
  }

  /** Why the list or the followed run could not be read (connection problems), or null. */
  get error(): string | null {
    return this._error;
  }

  get busy(): string | null {
    return this._busy;
  }

  /** Why cluster runs are off (no Argo server configured: message and hint), or null. */
  get notConfigured(): string | null {
    return this._notConfigured;
  }

  /** The merger's printed output once the followed run succeeded (its pod's log), or null. */
  get output(): { task: string; text: string } | null {
    return this._output;
  }

  /** The path of the notebook whose runs are listed. */
  get path(): string | null {
    return this._path;
  }

  /** Follow the setting `clusterPollInterval`; the next fetch is scheduled with it. */
  useSettings(settings: ISettingRegistry.ISettings): void {
    const read = () => {
      const value = settings.get('clusterPollInterval').composite;
      this._pollInterval =
        typeof value === 'number' && value > 0 ? value : CLUSTER_POLL_MS;
    };
    settings.changed.connect(read);
    read();
  }

  /** Fetch the notebook's runs from the cluster. */
  async refreshList(): Promise<void> {
    const path = this._path;
    if (!path) {
      return;
    }
    try {
      const answer = await this._api<{ runs: any[] }>(
        `cluster-runs?path=${encodeURIComponent(path)}`
      );
      if (path === this._path) {
        this._runs = answer.runs.map(parseClusterRun);
        this._error = null;
        this._notConfigured = null;
        // after a page reload or a server restart: follow the run that still goes on
        const going = this._runs.find(r => !r.finished);
        if (!this._run && going) {
          void this.follow(going.name);
        }
      }
    } catch (error) {
      if (path === this._path) {
        this._runs = [];
        if (
          error instanceof APIError &&
          error.body?.kind === 'not-configured'
        ) {
          this._notConfigured = errorText(error);
          this._error = null;
        } else {
          this._error = errorText(error);
        }
      }
    }
    this._changed.emit();
  }

  /**
   * Export the notebook (its current content, saved or not) with the panel's export options and
   * the run parameters typed in the panel, and create the workflow on the cluster; then follow it.
   */
  async submit(): Promise<void> {
    const panel = this.panel.notebook;
    const spec = this.panel.spec;
    if (!panel || !spec || this._busy) {
      return;
    }
    const trans = this.panel.trans;
    const { values, invalid } = runParameters(
      spec.parameters,
      Object.fromEntries(
        spec.parameters.map(p => [p.name, this.panel.parameterText(p.name)])
      )
    );
    if (invalid.length) {
      await showErrorMessage(
        trans.__('Run parameters'),
        trans.__('Fix the value of %1 first.', invalid.join(', '))
      );
      return;
    }
    const options = this.panel.exportRequestOptions();
    if (typeof options === 'string') {
      await showErrorMessage(trans.__('Export options'), options);
      return;
    }
    this._setBusy(trans.__('Submitting to the cluster…'));
    try {
      const created = await this._api<any>('cluster-runs', 'POST', {
        path: panel.context.path,
        notebook: panel.context.model.toJSON(),
        parameters: values,
        options
      });
      this._follow(parseClusterRun(created));
      void this.refreshList();
    } catch (error) {
      await showErrorMessage(
        trans.__('The run was not submitted'),
        errorText(error)
      );
    } finally {
      this._setBusy(null);
    }
  }

  /** Follow a run of the list (fetches its steps, polls while it goes on). */
  async follow(name: string): Promise<void> {
    const summary = this._runs?.find(r => r.name === name);
    this._follow(summary ?? parseClusterRun({ name }));
    await this._fetch(name);
  }

  /** Stop following (the run goes on on the cluster); the badges lose their states. */
  unfollow(): void {
    window.clearTimeout(this._timer);
    this._run = null;
    this._publishStates();
    this._changed.emit();
  }

  async stop(): Promise<void> {
    const trans = this.panel.trans;
    await this._act(
      'stop',
      trans.__('Stop the cluster run?'),
      trans.__(
        'Running batches of %1 are stopped and pending ones never start. Batches already done keep their results.'
      ),
      trans.__('Stop')
    );
  }

  async retry(): Promise<void> {
    const trans = this.panel.trans;
    await this._act(
      'retry',
      trans.__('Retry the failed batches?'),
      trans.__(
        'The failed batches and the steps after them of %1 run again; the batches that succeeded are kept.'
      ),
      trans.__('Retry')
    );
  }

  async resubmit(): Promise<void> {
    const trans = this.panel.trans;
    await this._act(
      'resubmit',
      trans.__('Resubmit the run?'),
      trans.__(
        'A new run starts from the beginning with the workflow and parameters of %1.'
      ),
      trans.__('Resubmit')
    );
  }

  /**
   * Show a step's or batch's log: first the notebook at the cell it failed in (line selected),
   * then the log in a dialog titled with the batch and its item range.
   */
  async openLog(podName: string): Promise<void> {
    const run = this._run;
    if (!run) {
      return;
    }
    const trans = this.panel.trans;
    let log: IClusterLog;
    try {
      log = await this._api<IClusterLog>(
        `cluster-runs/${encodeURIComponent(run.name)}/log?pod=${encodeURIComponent(podName)}`
      );
    } catch (error) {
      await showErrorMessage(trans.__('Cannot read the log'), errorText(error));
      return;
    }
    if (log.cell_index !== null && log.state === 'failed') {
      await this.panel.goToCell(log.cell_index, log.line);
    }
    const what =
      log.index !== null
        ? trans.__(
            'batch %1 of %2 (%3)',
            log.index,
            log.task,
            itemRangeText(log.start, log.stop)
          )
        : log.task;
    const where =
      log.cell_index !== null && log.state === 'failed'
        ? log.line
          ? trans.__('failed in cell %1, line %2', log.cell_index, log.line)
          : trans.__('failed in cell %1', log.cell_index)
        : '';
    const body = new Widget();
    body.addClass('jp-NaavreBatch-logDialog');
    body.node.dataset.cell =
      log.cell_index === null ? '' : String(log.cell_index);
    if (where) {
      const p = document.createElement('p');
      p.textContent = where;
      body.node.appendChild(p);
    }
    const pre = document.createElement('pre');
    pre.textContent =
      log.text ||
      (log.missing
        ? trans.__('(no log: %1)', log.missing)
        : trans.__('(the log is empty)'));
    body.node.appendChild(pre);
    await showDialog({
      title: trans.__('Log of %1', what),
      body,
      buttons: [Dialog.okButton({ label: trans.__('Close') })]
    });
  }

  /**
   * "Debug in notebook" for a failed batch: the server reads its inputs through the Argo server
   * (`GET cluster-runs/<name>/debug`); they are loaded into the notebook's kernel and the failing
   * cell is selected, as for a local run.
   */
  async debugBatch(failure: IClusterFailure): Promise<void> {
    const run = this._run;
    const endPoint =
      run && this._path
        ? clusterDebugEndPoint(run.name, this._path, failure)
        : null;
    if (!endPoint) {
      return;
    }
    this._setBusy(this.panel.trans.__('Reading the batch from the cluster…'));
    try {
      await this.panel.loadIntoKernel(endPoint);
    } catch (error) {
      await showErrorMessage(
        this.panel.trans.__('Debug in notebook'),
        errorText(error)
      );
    } finally {
      this._setBusy(null);
    }
  }

  /** Ask the server for the Argo server's version; a dialog says it or why not. */
  async testConnection(): Promise<void> {
    const trans = this.panel.trans;
    try {
      const answer = await this._api<any>('cluster/connection');
      const c = answer.connection ?? {};
      await showDialog({
        title: trans.__('Connected to the Argo server'),
        body: trans.__(
          'Argo Workflows %1 at %2, namespace %3.',
          answer.version,
          c.server,
          c.namespace
        ),
        buttons: [Dialog.okButton()]
      });
    } catch (error) {
      await showErrorMessage(
        trans.__('No connection to the Argo server'),
        errorText(error)
      );
    }
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    Signal.clearData(this);
  }

  private async _act(
    action: 'stop' | 'retry' | 'resubmit',
    title: string,
    body: string,
    label: string
  ): Promise<void> {
    const run = this._run;
    if (!run || this._busy) {
      return;
    }
    const trans = this.panel.trans;
    const choice = await showDialog({
      title,
      body: body.replace('%1', run.name),
      buttons: [
        Dialog.cancelButton(),
        action === 'stop'
          ? Dialog.warnButton({ label })
          : Dialog.okButton({ label })
      ]
    });
    if (!choice.button.accept) {
      return;
    }
    this._setBusy(trans.__('Asking the cluster…'));
    try {
      const answer = await this._api<any>(
        `cluster-runs/${encodeURIComponent(run.name)}/${action}`,
        'PUT',
        {}
      );
      this._follow(parseClusterRun(answer));
      void this.refreshList();
    } catch (error) {
      await showErrorMessage(
        trans.__('The cluster did not %1 the run', action),
        errorText(error)
      );
    } finally {
      this._setBusy(null);
    }
  }

  private _follow(run: IClusterRun): void {
    if (run.name !== this._run?.name) {
      this._output = null;
    }
    this._run = run;
    this._publishStates();
    this._changed.emit();
    this._poll(run.name);
  }

  private _poll(name: string): void {
    window.clearTimeout(this._timer);
    if (this._run?.finished) {
      return;
    }
    this._timer = window.setTimeout(async () => {
      await this._fetch(name);
      if (this._run?.name === name && !this._run.finished) {
        this._poll(name);
      }
    }, this._pollInterval);
  }

  private async _fetch(name: string): Promise<void> {
    try {
      const status = await this._api<any>(
        `cluster-runs/${encodeURIComponent(name)}`
      );
      if (this._run?.name === name) {
        const wasFinished = this._run.finished;
        this._run = parseClusterRun(status);
        this._error = null;
        this._publishStates();
        if (this._run.finished && !wasFinished) {
          void this.refreshList();
        }
        if (this._run.phase === 'Succeeded' && !this._output) {
          void this._fetchOutput(this._run);
        }
      }
    } catch (error) {
      if (this._run?.name === name) {
        this._error = errorText(error);
      }
    }
    this._changed.emit();
  }

  /** The printed output of the last step that runs after the batches (the merger): the copy
   * the run's status keeps, else its pod's log, else why there is none. */
  private async _fetchOutput(run: IClusterRun): Promise<void> {
    const merger = [...run.steps]
      .reverse()
      .find(s => s.kind === 'merger' && (s.output || s.podName));
    if (!merger) {
      return;
    }
    if (merger.output) {
      this._output = {
        task: merger.task,
        text: storedOutputText(merger.output, this.panel.trans)
      };
      this._changed.emit();
      return;
    }
    try {
      const log = await this._api<IClusterLog>(
        `cluster-runs/${encodeURIComponent(run.name)}/log?pod=${encodeURIComponent(merger.podName!)}`
      );
      if (this._run?.name === run.name) {
        this._output = {
          task: merger.task,
          text: log.text || log.missing || ''
        };
        this._changed.emit();
      }
    } catch {
      // the output is a convenience; the step's status still opens its log
    }
  }

  private _publishStates(): void {
    const run = this._run;
    this.panel.specModel.setStepStates(
      run && this._path && run.steps.length
        ? { path: this._path, states: stepStatesOf(run, this.panel.trans) }
        : null
    );
  }

  private _onNotebook(): void {
    const path = this.panel.notebook?.context.path ?? null;
    if (path === this._path) {
      return;
    }
    window.clearTimeout(this._timer);
    this._path = path;
    this._runs = null;
    this._run = null;
    this._error = null;
    this._output = null;
    this.panel.specModel.setStepStates(null);
    this._changed.emit();
    if (path) {
      void this.refreshList();
    }
  }

  private _api<T>(
    endPoint: string,
    method = 'GET',
    body?: unknown
  ): Promise<T> {
    return requestAPI<T>(
      endPoint,
      this.panel.app.serviceManager.serverSettings,
      {
        method,
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      }
    );
  }

  private _setBusy(message: string | null): void {
    this._busy = message;
    this._changed.emit();
  }

  private _changed = new Signal<ClusterModel, void>(this);
  private _runs: IClusterRun[] | null = null;
  private _run: IClusterRun | null = null;
  private _error: string | null = null;
  private _busy: string | null = null;
  private _notConfigured: string | null = null;
  private _output: { task: string; text: string } | null = null;
  private _path: string | null = null;
  private _timer = 0;
  private _pollInterval = CLUSTER_POLL_MS;
}

/** The server's message and, when it sent one, its hint. */
export function errorText(error: unknown): string {
  if (
    error instanceof APIError &&
    error.body &&
    typeof error.body === 'object'
  ) {
    const hint = error.body.hint ? `\n\n${error.body.hint}` : '';
    return `${error.message}${hint}`;
  }
  return (error as Error)?.message ?? String(error);
}
