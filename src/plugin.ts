import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  showErrorMessage,
  showDialog,
  Dialog
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { requestAPI } from './request';
import {
  CommandIDs,
  IServerInfo,
  PLUGIN_ID,
  TRANSLATION_DOMAIN
} from './tokens';

/**
 * The extension's base plugin: owns the settings, the command palette category and the
 * `show-info` command, and tells the console which server extension it is talking to.
 */
export const basePlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Batch workflows for notebooks: the command category and the server connection.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const category = trans.__('Batch Workflow');
    const serverSettings = app.serviceManager.serverSettings;

    app.commands.addCommand(CommandIDs.showInfo, {
      label: trans.__('About Batch Workflow Extension'),
      caption: trans.__('Show the versions of the batch workflow extension'),
      execute: async () => {
        try {
          const info = await requestAPI<IServerInfo>('info', serverSettings);
          await showDialog({
            title: trans.__('Batch Workflow Extension'),
            body: trans.__(
              'Server extension %1, workflow spec %2.',
              info.version,
              info.specVersion
            ),
            buttons: [Dialog.okButton({ label: trans.__('Close') })]
          });
        } catch (error) {
          await showErrorMessage(
            trans.__('Batch workflow server extension unreachable'),
            error as Error
          );
        }
      }
    });
    palette?.addItem({ command: CommandIDs.showInfo, category });

    if (settingRegistry) {
      settingRegistry.load(PLUGIN_ID).catch(reason => {
        console.error(`${PLUGIN_ID}: failed to load settings.`, reason);
      });
    }

    tracker.widgetAdded.connect((_, panel) => {
      panel.node.dataset.naavreBatch = 'ready';
    });
    console.log(`${PLUGIN_ID} is activated`);
  }
};
