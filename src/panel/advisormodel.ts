import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ISignal, Signal } from '@lumino/signaling';

import { APIError, requestAPI } from '../request';
import { oneUndoStep, setCellRole } from '../tagging/actions';
import {
  IAdvice,
  IAdviceSection,
  batchCountEdit,
  startCostRequest
} from './advisor';
import type { PanelModel } from './model';
import { IRunView } from './runs';

/**
 * The batch-count advisor of the panel: after a run that measured the time per item, asks the
 * server for the expected processor time against m (`POST advise`, with the panel's parallelism
 * and start cost), and writes a chosen m into the notebook as one undoable edit.
 */
export class AdvisorModel {
  constructor(private readonly panel: PanelModel) {}

  get changed(): ISignal<AdvisorModel, void> {
    return this._changed;
  }

  /** The server's answer for the last measured run, or null. */
  get advice(): IAdvice | null {
    return this._advice;
  }

  /** Why there is no advice (no measurement yet, a bad field), or null. */
  get error(): string | null {
    return this._error;
  }

  /** The parallelism P typed in the advisor (empty: the export's parallelism, else no limit). */
  get parallelism(): string {
    return this._parallelism;
  }

  /**
   * The start cost s typed (empty: the last cluster run's measured overhead, else the setting
   * `advisorStartCost`, else the server default).
   */
  get startCost(): string {
    return this._startCost;
  }

  /** The start cost of the settings, shown as the field's placeholder. */
  get defaultStartCost(): number | null {
    return this._settingsStartCost;
  }

  /** The run whose measurement the advice uses. */
  get runId(): string | null {
    return this._runId;
  }

  useSettings(settings: ISettingRegistry.ISettings): void {
    const read = () => {
      // only a value the user set: the schema's default is the server's own (source "default")
      const value = settings.get('advisorStartCost').user;
      this._settingsStartCost = typeof value === 'number' ? value : null;
      void this.refresh();
    };
    settings.changed.connect(read);
    read();
  }

  /** A run ended: advise from its measurement (a cancelled run measured nothing). */
  runFinished(run: IRunView): void {
    if (run.status === 'cancelled' || run.status === 'error') {
      return;
    }
    this._runId = run.id;
    void this.refresh();
  }

  /** Forget the advice (another notebook became active). */
  clear(): void {
    this._runId = null;
    this._advice = null;
    this._error = null;
    this._changed.emit();
  }

  setParallelism(text: string): void {
    this._parallelism = text;
    void this.refresh();
  }

  setStartCost(text: string): void {
    this._startCost = text;
    void this.refresh();
  }

  /** The field a bad value belongs to and what is wrong, or null; checked before asking. */
  fieldError(field: 'parallelism' | 'startCost'): string | null {
    const trans = this.panel.trans;
    const text = (
      field === 'parallelism' ? this._parallelism : this._startCost
    ).trim();
    if (!text) {
      return null;
    }
    const n = Number(text);
    if (field === 'parallelism') {
      return Number.isInteger(n) && n >= 1
        ? null
        : trans.__('a whole number of at least 1, or empty for the export’s');
    }
    return Number.isFinite(n) && n >= 0
      ? null
      : trans.__('a number of seconds, at least 0');
  }

  /** Ask the server again (after a field or the notebook changed). */
  async refresh(): Promise<void> {
    const notebook = this.panel.notebook;
    if (!notebook || !this._runId) {
      return;
    }
    if (this.fieldError('parallelism') || this.fieldError('startCost')) {
      this._changed.emit();
      return;
    }
    const exportP = this.panel.exportParallelism.trim();
    const p = this._parallelism.trim() || exportP;
    const body: Record<string, unknown> = {
      path: notebook.context.path,
      notebook: notebook.context.model.toJSON(),
      run: this._runId,
      parameters: this.panel.parameterValues,
      parallelism: p && Number.isInteger(Number(p)) ? Number(p) : null,
      ...startCostRequest(this._startCost, this._settingsStartCost)
    };
    const ticket = ++this._ticket;
    try {
      const advice = await requestAPI<IAdvice>(
        'advise',
        this.panel.app.serviceManager.serverSettings,
        { method: 'POST', body: JSON.stringify(body) }
      );
      if (ticket === this._ticket) {
        this._advice = advice;
        this._error = null;
      }
    } catch (error) {
      if (ticket === this._ticket) {
        this._advice = null;
        const hint = error instanceof APIError ? error.body?.hint : null;
        this._error = [(error as Error).message, hint]
          .filter(Boolean)
          .join('; ');
      }
    }
    if (ticket === this._ticket) {
      this._changed.emit();
    }
  }

  /**
   * Write `k` where the section's batch count comes from (the parameter's line in the header,
   * or the splitter's `naavre:batch-count:` tag) as one undoable notebook edit; the spec (and so
   * the graph) refreshes from the edit, and the advice is asked again. False when the notebook no
   * longer matches (nothing written).
   */
  useBatchCount(section: IAdviceSection, k: number): boolean {
    const notebook = this.panel.notebook;
    const spec = this.panel.spec;
    const shared = notebook?.model?.sharedModel;
    if (!notebook || !spec || !shared) {
      return false;
    }
    const cells = notebook.content.widgets;
    const edit = batchCountEdit(
      spec,
      section.batch_count,
      section.splitter,
      k,
      index =>
        cells[index] ? cells[index].model.sharedModel.getSource() : null
    );
    if (!edit) {
      return false;
    }
    const cell = cells[edit.cellIndex];
    oneUndoStep(shared, () => {
      if (edit.kind === 'parameter') {
        cell.model.sharedModel.setSource(edit.source);
      } else {
        setCellRole(cell.model, 'splitter', k);
      }
    });
    if (edit.kind === 'parameter') {
      // The run form follows the notebook's (new) default, not a value typed before.
      this.panel.resetParameterText(edit.name);
    }
    // The finished run's "× m" would otherwise stay on the graph instead of the new count.
    this.panel.clearRun();
    void this.panel.specModel.refresh();
    void this.refresh();
    return true;
  }

  private _changed = new Signal<AdvisorModel, void>(this);
  private _advice: IAdvice | null = null;
  private _error: string | null = null;
  private _parallelism = '';
  private _startCost = '';
  private _settingsStartCost: number | null = null;
  private _runId: string | null = null;
  private _ticket = 0;
}
