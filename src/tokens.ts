import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';
import { NotebookPanel } from '@jupyterlab/notebook';

import { ISpec } from './spec';

/**
 * Identifiers shared by every plugin of the extension: plugin ids, command ids, translation domain.
 */

/** The npm package name, also the prefix of every plugin id. */
export const EXTENSION_ID = 'naavre-batch-ext';

/** The plugin that owns the settings in `schema/plugin.json`. */
export const PLUGIN_ID = `${EXTENSION_ID}:plugin`;

/** Translation domain of the extension's strings. */
export const TRANSLATION_DOMAIN = 'naavre_batch_ext';

/** The server extension's URL namespace, below the server's base URL. */
export const API_NAMESPACE = 'naavre-batch-ext';

/**
 * Every command of the extension, `'naavre-batch:verb-noun'`.
 */
export namespace CommandIDs {
  /** Show which extension and spec versions the server speaks. */
  export const showInfo = 'naavre-batch:show-info';

  // Cell roles (src/tagging): each acts on every selected code cell
  /** Tag as splitter; arg `batchCount` (integer or param_ name), else kept or the default. */
  export const setSplitter = 'naavre-batch:set-splitter';
  /** Tag as processor. */
  export const setProcessor = 'naavre-batch:set-processor';
  /** Tag as merger. */
  export const setMerger = 'naavre-batch:set-merger';
  /** Remove every `naavre:` tag (other tags kept). */
  export const clearRole = 'naavre-batch:clear-role';
  /** Set the batch count of the selected splitters; arg `batchCount`, asked when absent. */
  export const setBatchCount = 'naavre-batch:set-batch-count';

  // Batch workflow panel (src/panel)
  /** Show the Batch workflow panel in the right sidebar. */
  export const showPanel = 'naavre-batch:show-panel';
  /** Open the Batch workflow panel in the main area. */
  export const openPanel = 'naavre-batch:open-panel';
  /** Export the active notebook as an Argo workflow beside it. */
  export const exportArgo = 'naavre-batch:export-argo';
  /** Export the active notebook as a CWL workflow and its job file beside it. */
  export const exportCwl = 'naavre-batch:export-cwl';
  /** Export the active notebook's workflow spec (JSON) beside it. */
  export const exportSpec = 'naavre-batch:export-spec';
  /** Run the active notebook in the notebook context (one kernel). */
  export const runNotebook = 'naavre-batch:run-notebook';
  /** Run the active notebook in the workflow context (local processes). */
  export const runWorkflow = 'naavre-batch:run-workflow';
  /** Run both contexts and compare the values passed between steps. */
  export const runCompare = 'naavre-batch:run-compare';
  /** Compare both contexts, taking unchanged workflow step instances from the reuse store. */
  export const runReuse = 'naavre-batch:run-reuse';
  /** Re-run only the failed or missing instances of the panel's failed run. */
  export const rerunFailed = 'naavre-batch:rerun-failed';
  /** Load the first failed instance's inputs into the notebook's kernel; select its cell. */
  export const debugFailed = 'naavre-batch:debug-failed';
  /** Cancel the panel's current run. */
  export const cancelRun = 'naavre-batch:cancel-run';

  // Cluster runs (src/panel/cluster*.ts, docs/cluster.md)
  /** Export the active notebook and create the workflow on the Argo server. */
  export const runOnCluster = 'naavre-batch:run-on-cluster';
  /** Ask the Argo server for its version (or say why it cannot be reached). */
  export const testClusterConnection = 'naavre-batch:test-cluster-connection';
  /** Stop the followed cluster run (confirmed in a dialog). */
  export const stopClusterRun = 'naavre-batch:stop-cluster-run';
  /** Retry the failed batches of the followed cluster run (confirmed). */
  export const retryClusterRun = 'naavre-batch:retry-cluster-run';
  /** Resubmit the followed cluster run as a new run (confirmed). */
  export const resubmitClusterRun = 'naavre-batch:resubmit-cluster-run';
}

/** The live state of one step in a run the panel follows (badges and graph show it). */
export interface IStepState {
  /** `pending`, `running`, `succeeded`, `failed` or `skipped`. */
  state: string;
  /** Short text, e.g. `running · 3/5 batches done`. */
  text: string;
}

/** Step states of a followed run, for the notebook at `path`. */
export interface IStepStates {
  path: string;
  /** By step id. */
  states: Record<string, IStepState>;
}

/** The `GET /naavre-batch-ext/info` answer. */
export interface IServerInfo {
  /** The Python package version. */
  version: string;
  /** The workflow spec version the server produces, e.g. `naavre-batch/v1`. */
  specVersion: string;
}

/**
 * The spec of the active notebook, kept fresh from the server's spec endpoint (debounced after
 * edits and tag changes, with the unsaved content). The badges and the workflow panel both read
 * it, so they always agree with each other and with the CLI.
 */
export interface IBatchSpecModel {
  /** The notebook the spec belongs to, or null when no notebook is active. */
  readonly notebook: NotebookPanel | null;
  /** The latest spec, or null before the first answer or when the request failed. */
  readonly spec: ISpec | null;
  /** The error of the last request (server unreachable, bad notebook), or null. */
  readonly error: string | null;
  /** Emitted when `notebook`, `spec` or `error` changes. */
  readonly changed: ISignal<IBatchSpecModel, void>;
  /** Ask the server again now (e.g. after a tag command), skipping the debounce. */
  refresh(): Promise<void>;
  /** The live step states of the run the panel follows (a cluster run), or null. */
  readonly stepStates: IStepStates | null;
  /** Set (or clear with null) the step states; emits `changed` when they differ. */
  setStepStates(value: IStepStates | null): void;
}

/** The token of the spec model, provided by the tagging plugin. */
export const IBatchSpecModel = new Token<IBatchSpecModel>(
  `${EXTENSION_ID}:IBatchSpecModel`,
  'The workflow spec of the active notebook, refreshed from the server.'
);
