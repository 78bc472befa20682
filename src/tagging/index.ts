import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, IToolbarWidgetRegistry } from '@jupyterlab/apputils';
import { Cell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  EXTENSION_ID,
  IBatchSpecModel,
  PLUGIN_ID,
  TRANSLATION_DOMAIN
} from '../tokens';
import { CellDecorator } from './badges';
import { addTaggingCommands } from './commands';
import { BatchSpecModel, DEFAULT_DEBOUNCE } from './model';
import { ROLE_TOOLBAR_ITEM, RoleControl } from './rolecontrol';

/** Settings of `schema/plugin.json` read by the tagging plugins. */
const DEFAULT_BATCH_COUNT = 4;

/**
 * Provides the spec of the active notebook (`IBatchSpecModel`), refreshed from the server after
 * edits (debounced, setting `debounce`). The badges and the workflow panel both read it.
 */
export const specModelPlugin: JupyterFrontEndPlugin<IBatchSpecModel> = {
  id: `${EXTENSION_ID}:spec-model`,
  description:
    "The workflow spec of the active notebook, from the server's spec endpoint.",
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry],
  provides: IBatchSpecModel,
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    settingRegistry: ISettingRegistry | null
  ): IBatchSpecModel => {
    const model = new BatchSpecModel({
      tracker,
      serverSettings: app.serviceManager.serverSettings
    });
    if (settingRegistry) {
      void settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const follow = () => {
            const value = settings.get('debounce').composite;
            model.debounce =
              typeof value === 'number' ? value : DEFAULT_DEBOUNCE;
          };
          follow();
          settings.changed.connect(follow);
        })
        .catch(reason =>
          console.error(`${PLUGIN_ID}: settings not loaded.`, reason)
        );
    }
    return model;
  }
};

/**
 * Cell roles in the notebook: the role control in each code cell's toolbar, the tagging commands
 * (palette, context menu, shortcuts; `schema/plugin.json`) and the badges on every cell.
 */
export const taggingPlugin: JupyterFrontEndPlugin<void> = {
  id: `${EXTENSION_ID}:tagging`,
  description:
    "Tag cells as splitter, processor or merger and see every cell's role and step.",
  autoStart: true,
  requires: [INotebookTracker, IBatchSpecModel],
  optional: [
    ICommandPalette,
    ISettingRegistry,
    ITranslator,
    IToolbarWidgetRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    specModel: IBatchSpecModel,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    toolbarRegistry: IToolbarWidgetRegistry | null
  ) => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    let defaultBatchCount = DEFAULT_BATCH_COUNT;
    let showBadges = true;
    const decorators = new Map<NotebookPanel, CellDecorator>();
    const getDefault = () => defaultBatchCount;

    addTaggingCommands({
      app,
      tracker,
      specModel,
      trans,
      palette,
      defaultBatchCount: getDefault
    });

    if (toolbarRegistry) {
      toolbarRegistry.addFactory<Cell>(
        'Cell',
        ROLE_TOOLBAR_ITEM,
        (cell: Cell) => {
          const panel =
            tracker.find(p => p.content.widgets.includes(cell)) ??
            tracker.currentWidget;
          if (cell.model.type !== 'code' || !panel) {
            const empty = new Widget();
            empty.hide();
            return empty;
          }
          return new RoleControl({
            cell,
            panel,
            specModel,
            trans,
            defaultBatchCount: getDefault
          });
        }
      );
    }

    tracker.widgetAdded.connect((_, panel) => {
      const decorator = new CellDecorator({
        panel,
        specModel,
        trans,
        showBadges
      });
      decorators.set(panel, decorator);
      panel.disposed.connect(() => {
        decorator.dispose();
        decorators.delete(panel);
      });
    });

    if (settingRegistry) {
      void settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const follow = () => {
            const count = settings.get('defaultBatchCount').composite;
            defaultBatchCount =
              typeof count === 'number' && count >= 1
                ? Math.floor(count)
                : DEFAULT_BATCH_COUNT;
            showBadges = settings.get('showBadges').composite !== false;
            for (const decorator of decorators.values()) {
              decorator.showBadges = showBadges;
            }
          };
          follow();
          settings.changed.connect(follow);
        })
        .catch(reason =>
          console.error(`${PLUGIN_ID}: settings not loaded.`, reason)
        );
    }
  }
};

export default [specModelPlugin, taggingPlugin];
