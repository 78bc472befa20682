import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ISpec } from '../spec';
import {
  IClusterRun,
  IClusterStep,
  durationText,
  itemRangeText,
  stateWord
} from './cluster';
import { ClusterModel } from './clustermodel';

function stateText(state: string, trans: TranslationBundle): string {
  return stateWord(state, trans);
}

/**
 * The panel's "Run on cluster" section, beside the local runs: the button (with the run
 * parameters and export options of the panel), the followed run step by step with its batches,
 * the failed batches' logs, stop / retry / resubmit, and the notebook's earlier cluster runs.
 */
export function ClusterRuns(props: {
  cluster: ClusterModel;
  spec: ISpec;
  disabledReason: string | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { cluster, spec, disabledReason, trans } = props;
  const run = cluster.run;
  const busy = cluster.busy;
  const disabled =
    disabledReason !== null ||
    busy !== null ||
    spec.steps.length === 0 ||
    cluster.notConfigured !== null;
  return (
    <div className="jp-NaavreBatch-cluster">
      <div className="jp-NaavreBatch-buttons">
        <button
          className="jp-Button jp-mod-styled jp-mod-accept"
          disabled={disabled}
          data-action="run-on-cluster"
          title={trans.__(
            'Export with the options above and run it on the Argo server, with the run parameters above'
          )}
          onClick={() => void cluster.submit()}
        >
          {trans.__('Run on cluster')}
        </button>
        <button
          className="jp-Button jp-mod-styled jp-mod-reject"
          data-action="test-cluster-connection"
          onClick={() => void cluster.testConnection()}
        >
          {trans.__('Test connection')}
        </button>
      </div>
      {busy ? <p className="jp-NaavreBatch-note">{busy}</p> : null}
      {cluster.notConfigured ? (
        <p className="jp-NaavreBatch-reason" data-reason="not-configured">
          {cluster.notConfigured}
        </p>
      ) : null}
      {cluster.error ? (
        <p className="jp-NaavreBatch-reason jp-mod-error" role="status">
          {cluster.error}
        </p>
      ) : null}
      {run ? (
        <ClusterRunStatus cluster={cluster} run={run} trans={trans} />
      ) : null}
      <ClusterRunList cluster={cluster} trans={trans} />
    </div>
  );
}

function ClusterRunStatus(props: {
  cluster: ClusterModel;
  run: IClusterRun;
  trans: TranslationBundle;
}): JSX.Element {
  const { cluster, run, trans } = props;
  const busy = cluster.busy !== null;
  return (
    <div
      className="jp-NaavreBatch-runStatus jp-NaavreBatch-clusterRun"
      data-status={run.state}
      data-phase={run.phase}
      data-run-name={run.name}
      aria-live="polite"
    >
      <p className="jp-NaavreBatch-clusterRunTitle">
        <strong>{run.name}</strong>{' '}
        {trans.__('(%1): %2', run.namespace, stateText(run.state, trans))}{' '}
        {durationText(run.seconds)}
      </p>
      <div className="jp-NaavreBatch-buttons">
        {!run.finished ? (
          <button
            className="jp-Button jp-mod-styled jp-mod-warn"
            data-action="stop-cluster-run"
            disabled={busy}
            onClick={() => void cluster.stop()}
          >
            {trans.__('Stop')}
          </button>
        ) : null}
        {run.finished && run.phase !== 'Succeeded' ? (
          <button
            className="jp-Button jp-mod-styled jp-mod-accept"
            data-action="retry-cluster-run"
            disabled={busy}
            onClick={() => void cluster.retry()}
          >
            {trans.__('Retry')}
          </button>
        ) : null}
        {run.finished ? (
          <button
            className="jp-Button jp-mod-styled jp-mod-reject"
            data-action="resubmit-cluster-run"
            disabled={busy}
            onClick={() => void cluster.resubmit()}
          >
            {trans.__('Resubmit')}
          </button>
        ) : null}
        <button
          className="jp-Button jp-mod-styled jp-mod-reject"
          onClick={() => cluster.unfollow()}
        >
          {trans.__('Close')}
        </button>
      </div>
      {run.message ? (
        <p className="jp-NaavreBatch-note">{run.message}</p>
      ) : null}
      <table className="jp-NaavreBatch-progress" data-context="cluster">
        <thead>
          <tr>
            <th scope="col">{trans.__('Step')}</th>
            <th scope="col">{trans.__('Batches')}</th>
            <th scope="col">{trans.__('Status')}</th>
            <th scope="col">{trans.__('Time')}</th>
          </tr>
        </thead>
        <tbody>
          {run.steps.map(s => (
            <StepRow key={s.task} step={s} cluster={cluster} trans={trans} />
          ))}
        </tbody>
      </table>
      {cluster.output ? (
        <details className="jp-NaavreBatch-clusterOutput" open>
          <summary>{trans.__('Output of %1', cluster.output.task)}</summary>
          <pre>{cluster.output.text || trans.__('(nothing printed)')}</pre>
        </details>
      ) : null}
      {run.failures.map(f => (
        <div
          key={f.podName}
          className="jp-NaavreBatch-failure"
          data-task={f.task}
          data-batch={f.index ?? undefined}
        >
          <p>
            {f.index !== null
              ? trans.__(
                  '%1: batch %2 (%3) failed: %4',
                  f.task,
                  f.index,
                  itemRangeText(f.start, f.stop),
                  f.message
                )
              : trans.__('%1 failed: %2', f.task, f.message)}
          </p>
          <button
            className="jp-NaavreBatch-failureLink"
            data-action="cluster-log"
            onClick={() => void cluster.openLog(f.podName)}
          >
            {trans.__('Log at the cell')}
          </button>
          {f.index !== null ? (
            <button
              className="jp-Button jp-mod-styled jp-mod-accept"
              data-action="cluster-debug"
              title={trans.__(
                "Read this batch's inputs through the Argo server, load them and the header values into the notebook's kernel and select the failing cell"
              )}
              disabled={cluster.busy !== null}
              onClick={() => void cluster.debugBatch(f)}
            >
              {trans.__('Debug in notebook')}
            </button>
          ) : null}
        </div>
      ))}
    </div>
  );
}

function StepRow(props: {
  step: IClusterStep;
  cluster: ClusterModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { step, cluster, trans } = props;
  const inst = step.instances;
  return (
    <tr data-task={step.task} data-status={step.state}>
      <th scope="row">{step.steps.join(', ') || step.task}</th>
      <td>
        {inst ? (
          <>
            <progress
              max={Math.max(inst.total, 1)}
              value={inst.done}
              aria-label={trans.__(
                '%1: %2 of %3 batches done',
                step.task,
                inst.done,
                inst.total
              )}
            />{' '}
            <span className="jp-NaavreBatch-count">
              {inst.done}/{inst.total}
            </span>
            {inst.running ? (
              <span> {trans.__('%1 running', inst.running)}</span>
            ) : null}
            {inst.failed ? (
              <span className="jp-NaavreBatch-failedCount">
                {' '}
                {trans.__('%1 failed', inst.failed)}
              </span>
            ) : null}
            {inst.reused ? (
              <span
                className="jp-NaavreBatch-reusedCount"
                title={trans.__(
                  'Batches %1 succeeded before the retry and were kept; batches %2 ran again',
                  inst.items
                    .filter(i => i.reused)
                    .map(i => i.index)
                    .join(', '),
                  inst.items
                    .filter(i => !i.reused)
                    .map(i => i.index)
                    .join(', ')
                )}
              >
                {' '}
                {trans.__('%1 kept by the retry', inst.reused)}
              </span>
            ) : null}
          </>
        ) : null}
      </td>
      <td>
        {step.podName && step.state !== 'pending' ? (
          <button
            className="jp-NaavreBatch-failureLink"
            title={trans.__('Show the log of this step')}
            onClick={() => void cluster.openLog(step.podName!)}
          >
            {stateText(step.state, trans)}
          </button>
        ) : (
          stateText(step.state, trans)
        )}
      </td>
      <td>{durationText(step.seconds)}</td>
    </tr>
  );
}

function ClusterRunList(props: {
  cluster: ClusterModel;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { cluster, trans } = props;
  const runs = cluster.runs;
  if (!runs || runs.length === 0) {
    return null;
  }
  return (
    <details className="jp-NaavreBatch-clusterList" open={!cluster.run}>
      <summary>
        {trans._n(
          '%1 run of this notebook on the cluster',
          '%1 runs of this notebook on the cluster',
          runs.length
        )}
      </summary>
      <ul>
        {runs.map(r => (
          <li key={r.name} data-run-name={r.name} data-status={r.state}>
            <button
              className="jp-NaavreBatch-failureLink"
              onClick={() => void cluster.follow(r.name)}
            >
              {r.name}
            </button>{' '}
            {stateText(r.state, trans)} {r.progress}{' '}
            {r.created ? new Date(r.created).toLocaleString() : ''}
          </li>
        ))}
      </ul>
    </details>
  );
}
