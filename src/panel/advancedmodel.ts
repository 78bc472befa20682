import { NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from '../request';
import {
  AdvancedField,
  AdvancedTexts,
  METADATA_KEY,
  advancedRequest,
  advancedTexts,
  exportOptionsOf,
  legacyTexts,
  withExportOptions
} from './advanced';
import type { PanelModel } from './model';

/** The `GET export-options` answer. */
interface IExportOptionsInfo {
  defaults: Record<string, unknown>;
  podGCStrategies: string[];
}

/** How long after the last keystroke the server checks the options, in milliseconds. */
const CHECK_MS = 300;

/**
 * The Advanced export options of the panel: the notebook's own (its metadata, under
 * `naavre-batch.export`), else the user's settings (`exportAdvanced`, then `exportParallelism`
 * and `exportRetries`), else the CLI's defaults (`GET export-options`). Every change is saved in the notebook's metadata and checked by the
 * server, so a bad value shows at its field before anything is exported or submitted.
 */
export class AdvancedOptionsModel {
  constructor(private readonly panel: PanelModel) {
    void requestAPI<IExportOptionsInfo>(
      'export-options',
      panel.app.serviceManager.serverSettings
    )
      .then(info => {
        this._info = info;
        this._changed.emit();
      })
      .catch(() => undefined);
  }

  get changed(): ISignal<AdvancedOptionsModel, void> {
    return this._changed;
  }

  /** The CLI's default of an option (shown as the field's placeholder), or null. */
  defaultOf(field: AdvancedField): unknown {
    return this._info?.defaults[field] ?? null;
  }

  /** Argo's pod GC strategies, for the select. */
  get podGCStrategies(): string[] {
    return this._info?.podGCStrategies ?? [];
  }

  /** The text of a field: the notebook's, else the settings', else undefined (the default). */
  text(field: AdvancedField): string | undefined {
    return this._texts[field] ?? this._settings[field];
  }

  /** The server's message for a field's value, or null. */
  error(field: AdvancedField): string | null {
    return this._errors[field] ?? null;
  }

  /** The first bad value as a sentence, or null: exports and submissions wait for it. */
  firstError(): string | null {
    const [field, message] = Object.entries(this._errors)[0] ?? [];
    return field ? `${field}: ${message}` : null;
  }

  /** The options `POST export` takes (only the set ones: the others keep the server's). */
  requestOptions(): Record<string, unknown> {
    return advancedRequest({ ...this._settings, ...this._texts });
  }

  useSettings(settings: ISettingRegistry.ISettings): void {
    const read = () => {
      this._settings = {
        ...legacyTexts(
          settings.get('exportParallelism').user,
          settings.get('exportRetries').user
        ),
        ...advancedTexts(settings.get('exportAdvanced').composite)
      };
      this._check();
    };
    settings.changed.connect(read);
    read();
  }

  /** Follow the active notebook: read its saved options. */
  setNotebook(notebook: NotebookPanel | null): void {
    const entry = notebook?.model?.getMetadata(METADATA_KEY);
    this._texts = advancedTexts(exportOptionsOf(entry));
    this._check();
  }

  /** A field was edited: keep it in the notebook's metadata and have the server check it. */
  set(field: AdvancedField, text: string | undefined): void {
    const texts = { ...this._texts };
    if (text === undefined) {
      delete texts[field];
    } else {
      texts[field] = text;
    }
    this._texts = texts;
    const model = this.panel.notebook?.model;
    if (model) {
      const entry = withExportOptions(
        model.getMetadata(METADATA_KEY),
        advancedRequest(texts)
      );
      if (Object.keys(entry).length) {
        model.setMetadata(METADATA_KEY, entry);
      } else {
        model.deleteMetadata(METADATA_KEY);
      }
    }
    this._changed.emit();
    this._check();
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    Signal.clearData(this);
  }

  private _check(): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(async () => {
      const options = this.requestOptions();
      const ticket = ++this._ticket;
      try {
        const answer = await requestAPI<{ errors: Record<string, string> }>(
          'export-options',
          this.panel.app.serviceManager.serverSettings,
          { method: 'POST', body: JSON.stringify({ options }) }
        );
        if (ticket === this._ticket) {
          this._errors = answer.errors;
        }
      } catch {
        if (ticket === this._ticket) {
          this._errors = {};
        }
      }
      if (ticket === this._ticket) {
        this._changed.emit();
      }
    }, CHECK_MS);
  }

  private _changed = new Signal<AdvancedOptionsModel, void>(this);
  private _info: IExportOptionsInfo | null = null;
  private _texts: AdvancedTexts = {};
  private _settings: AdvancedTexts = {};
  private _errors: Record<string, string> = {};
  private _timer = 0;
  private _ticket = 0;
}
