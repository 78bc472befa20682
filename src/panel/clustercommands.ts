import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import { CommandIDs } from '../tokens';
import { PanelModel } from './model';

/**
 * The cluster commands (docs/cluster.md): run on cluster, test the connection, and stop / retry /
 * resubmit the run the panel follows (each confirmed in a dialog by the model).
 */
export function addClusterCommands(
  app: JupyterFrontEnd,
  model: PanelModel,
  trans: TranslationBundle,
  palette: ICommandPalette | null,
  category: string
): void {
  const cluster = model.cluster;
  const ready = () => {
    const spec = model.spec;
    return (
      !!spec &&
      spec.summary.errors === 0 &&
      spec.steps.length > 0 &&
      !cluster.busy
    );
  };
  const followed = () => cluster.run;
  app.commands.addCommand(CommandIDs.runOnCluster, {
    label: trans.__('Run Batch Workflow on the Cluster'),
    caption: trans.__(
      'Export the notebook and run it on the Argo server, with the panel’s parameters'
    ),
    isEnabled: ready,
    execute: () => cluster.submit()
  });
  app.commands.addCommand(CommandIDs.testClusterConnection, {
    label: trans.__('Test the Connection to the Argo Server'),
    execute: () => cluster.testConnection()
  });
  app.commands.addCommand(CommandIDs.stopClusterRun, {
    label: trans.__('Stop the Cluster Run'),
    isEnabled: () => !!followed() && !followed()!.finished,
    execute: () => cluster.stop()
  });
  app.commands.addCommand(CommandIDs.retryClusterRun, {
    label: trans.__('Retry the Failed Batches of the Cluster Run'),
    isEnabled: () =>
      !!followed() && followed()!.finished && followed()!.phase !== 'Succeeded',
    execute: () => cluster.retry()
  });
  app.commands.addCommand(CommandIDs.resubmitClusterRun, {
    label: trans.__('Resubmit the Cluster Run'),
    isEnabled: () => !!followed() && followed()!.finished,
    execute: () => cluster.resubmit()
  });
  if (palette) {
    for (const command of [
      CommandIDs.runOnCluster,
      CommandIDs.testClusterConnection,
      CommandIDs.stopClusterRun,
      CommandIDs.retryClusterRun,
      CommandIDs.resubmitClusterRun
    ]) {
      palette.addItem({ command, category });
    }
  }
}
