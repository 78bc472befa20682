import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';

import {
  CommandIDs,
  EXTENSION_ID,
  IBatchSpecModel,
  PLUGIN_ID,
  TRANSLATION_DOMAIN
} from '../tokens';
import { addClusterCommands } from './clustercommands';
import { PanelModel } from './model';
import { BatchWorkflowPanel } from './widget';

/** The sidebar icon: a splitter fanning out to three batches that merge again. */
export const batchWorkflowIcon = new LabIcon({
  name: `${EXTENSION_ID}:workflow`,
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">
  <g class="jp-icon3" fill="#616161">
    <rect x="5" y="0.5" width="6" height="3" rx="0.5"/>
    <rect x="0.5" y="6.5" width="4" height="3" rx="0.5"/>
    <rect x="6" y="6.5" width="4" height="3" rx="0.5"/>
    <rect x="11.5" y="6.5" width="4" height="3" rx="0.5"/>
    <rect x="5" y="12.5" width="6" height="3" rx="0.5"/>
  </g>
  <g class="jp-icon3" stroke="#616161" fill="none" stroke-width="1">
    <path d="M8 3.5 L2.5 6.5 M8 3.5 L8 6.5 M8 3.5 L13.5 6.5 M2.5 9.5 L8 12.5 M8 9.5 L8 12.5 M13.5 9.5 L8 12.5"/>
  </g>
</svg>`
});

/** The sidebar panel's widget id (also its layout-restorer key). */
export const PANEL_ID = 'jp-NaavreBatch-workflowPanel';

/**
 * The Batch workflow panel: in the right sidebar, and in the main area on request, following the
 * active notebook through `IBatchSpecModel`; commands for export and runs.
 */
export const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: `${EXTENSION_ID}:panel`,
  description:
    'The Batch workflow panel: graph preview, problems, export and runs.',
  autoStart: true,
  requires: [IBatchSpecModel],
  optional: [ILayoutRestorer, ICommandPalette, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    specModel: IBatchSpecModel,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const category = trans.__('Batch Workflow');
    // The tagging plugin's spec model: badges and panel show the same analysis.
    const model = new PanelModel(app, specModel, trans);

    const sidebar = new BatchWorkflowPanel(model, trans);
    sidebar.id = PANEL_ID;
    sidebar.title.icon = batchWorkflowIcon;
    sidebar.title.caption = trans.__('Batch workflow');
    app.shell.add(sidebar, 'right', { rank: 650 });
    restorer?.add(sidebar, PANEL_ID);

    let main: MainAreaWidget<BatchWorkflowPanel> | null = null;

    const ready = () => {
      const spec = model.spec;
      return (
        !!spec &&
        spec.summary.errors === 0 &&
        spec.steps.length > 0 &&
        !model.busy
      );
    };
    const idle = () => ready() && (!model.run || model.run.finished);

    app.commands.addCommand(CommandIDs.showPanel, {
      label: trans.__('Show Batch Workflow Panel'),
      caption: trans.__(
        'Show the batch workflow of the active notebook in the right sidebar'
      ),
      icon: batchWorkflowIcon,
      execute: () => {
        app.shell.activateById(sidebar.id);
      }
    });
    app.commands.addCommand(CommandIDs.openPanel, {
      label: trans.__('Open Batch Workflow in the Main Area'),
      caption: trans.__(
        'Show the batch workflow of the active notebook in a tab'
      ),
      icon: batchWorkflowIcon,
      execute: () => {
        if (!main || main.isDisposed) {
          const content = new BatchWorkflowPanel(model, trans);
          main = new MainAreaWidget({ content });
          // MainAreaWidget labels its content generically; keep the panel's own name.
          content.node.setAttribute('aria-label', trans.__('Batch workflow'));
          main.id = `${PANEL_ID}-main`;
          main.title.label = trans.__('Batch Workflow');
          main.title.icon = batchWorkflowIcon;
          main.title.closable = true;
          app.shell.add(main, 'main', { mode: 'split-right' });
        }
        app.shell.activateById(main.id);
      }
    });
    app.commands.addCommand(CommandIDs.exportArgo, {
      label: trans.__('Export Notebook as Argo Workflow'),
      caption: trans.__(
        'Save <notebook>.argo.yaml beside the notebook and open it'
      ),
      isEnabled: ready,
      execute: () => model.exportAs('argo')
    });
    app.commands.addCommand(CommandIDs.exportCwl, {
      label: trans.__('Export Notebook as CWL Workflow'),
      caption: trans.__(
        'Save <notebook>.cwl and <notebook>.job.yml beside the notebook and open the workflow'
      ),
      isEnabled: ready,
      execute: () => model.exportAs('cwl')
    });
    app.commands.addCommand(CommandIDs.exportSpec, {
      label: trans.__('Export Notebook Workflow Spec (JSON)'),
      caption: trans.__(
        'Save <notebook>.workflow.json beside the notebook and open it'
      ),
      isEnabled: ready,
      execute: () => model.exportAs('json')
    });
    app.commands.addCommand(CommandIDs.runNotebook, {
      label: trans.__('Run Batch Workflow in the Notebook Context'),
      isEnabled: idle,
      execute: () => model.startRun('notebook')
    });
    app.commands.addCommand(CommandIDs.runWorkflow, {
      label: trans.__('Run Batch Workflow in the Workflow Context (Local)'),
      isEnabled: idle,
      execute: () => model.startRun('workflow')
    });
    app.commands.addCommand(CommandIDs.runCompare, {
      label: trans.__('Run Batch Workflow in Both Contexts and Compare'),
      isEnabled: idle,
      execute: () => model.startRun('both')
    });
    app.commands.addCommand(CommandIDs.runReuse, {
      label: trans.__('Run Batch Workflow Reusing Unchanged Steps'),
      isEnabled: idle,
      execute: () => model.startRun('both', { reuse: true })
    });
    app.commands.addCommand(CommandIDs.rerunFailed, {
      label: trans.__('Re-run the Failed Batches of the Batch Workflow Run'),
      isEnabled: () => !!model.run && model.run.canResume,
      execute: () => model.rerunFailed()
    });
    app.commands.addCommand(CommandIDs.debugFailed, {
      label: trans.__('Debug the Failed Batch in the Notebook'),
      isEnabled: () =>
        !!model.run &&
        model.run.finished &&
        model.run.failures.some(f => f.context === 'workflow' && !!f.task),
      execute: () => {
        const failure = model.run?.failures.find(
          f => f.context === 'workflow' && !!f.task
        );
        return failure ? model.debugInNotebook(failure) : undefined;
      }
    });
    app.commands.addCommand(CommandIDs.cancelRun, {
      label: trans.__('Cancel the Batch Workflow Run'),
      isEnabled: () => !!model.run && !model.run.finished,
      execute: () => model.cancelRun()
    });
    addClusterCommands(app, model, trans, palette, category);
    model.changed.connect(() => app.commands.notifyCommandChanged());

    if (palette) {
      for (const command of [
        CommandIDs.showPanel,
        CommandIDs.openPanel,
        CommandIDs.exportArgo,
        CommandIDs.exportCwl,
        CommandIDs.exportSpec,
        CommandIDs.runNotebook,
        CommandIDs.runWorkflow,
        CommandIDs.runCompare,
        CommandIDs.runReuse,
        CommandIDs.rerunFailed,
        CommandIDs.debugFailed,
        CommandIDs.cancelRun
      ]) {
        palette.addItem({ command, category });
      }
    }

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => model.useSettings(settings))
        .catch(reason =>
          console.error(
            `${EXTENSION_ID}:panel: failed to load settings.`,
            reason
          )
        );
    }
  }
};
