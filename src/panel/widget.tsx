import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IDiagnostic, ISpec } from '../spec';
import { CommandIDs } from '../tokens';
import {
  IGraphNode,
  PARAMETERS_NODE,
  buildGraph,
  layoutGraph,
  panelDiagnostics
} from './graph';
import { clusterInstances, stepStatesOf } from './cluster';
import { AdvancedExportOptions } from './advancedview';
import { BatchCountAdvisor } from './advisorview';
import { ClusterRuns } from './clusterview';
import { Field } from './fields';
import { GraphLayout, GraphView, roleWords } from './graphview';
import { PanelModel } from './model';
import {
  IContextProgress,
  IRunView,
  RunContext,
  parseParameter,
  showValue,
  verdictOf
} from './runs';

/**
 * The Batch workflow panel: graph preview, diagnostics, export and runs of the active notebook.
 * A ReactWidget over `PanelModel`; it re-renders on the model's `changed` signal.
 */
export class BatchWorkflowPanel extends ReactWidget {
  constructor(
    readonly model: PanelModel,
    private readonly trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-NaavreBatch-panel');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', trans.__('Batch workflow'));
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => <PanelView model={this.model} trans={this.trans} />}
      </UseSignal>
    );
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    super.dispose();
  }
}

interface IViewProps {
  model: PanelModel;
  trans: TranslationBundle;
}

function PanelView({ model, trans }: IViewProps): JSX.Element {
  const panel = model.notebook;
  const spec = model.spec;
  if (!panel) {
    return (
      <div className="jp-NaavreBatch-empty">
        <p>{trans.__('Open a notebook to see its batch workflow.')}</p>
      </div>
    );
  }
  const error = model.specModel.error;
  const problems = spec ? panelDiagnostics(spec) : [];
  return (
    <div className="jp-NaavreBatch-content" data-path={panel.context.path}>
      <header className="jp-NaavreBatch-title">
        <h2>{panel.title.label || panel.context.path}</h2>
        <Summary spec={spec} error={error} trans={trans} />
      </header>
      {spec ? (
        <>
          <Section title={trans.__('Workflow')} name="graph">
            <Graph model={model} spec={spec} trans={trans} />
          </Section>
          {problems.length ? (
            <Section title={trans.__('Problems')} name="diagnostics">
              <Diagnostics model={model} diagnostics={problems} trans={trans} />
            </Section>
          ) : null}
          <Section title={trans.__('Export')} name="export">
            <Export model={model} spec={spec} trans={trans} />
          </Section>
          <Section title={trans.__('Run')} name="run">
            <Run model={model} spec={spec} trans={trans} />
          </Section>
          {spec.sections.length ? (
            <Section title={trans.__('Batch count')} name="advisor">
              <BatchCountAdvisor
                advisor={model.advisor}
                exportParallelism={model.exportParallelism}
                trans={trans}
              />
            </Section>
          ) : null}
          <Section title={trans.__('Run on cluster')} name="cluster">
            <ClusterRuns
              cluster={model.cluster}
              spec={spec}
              disabledReason={blocker(spec, trans)}
              trans={trans}
            />
          </Section>
        </>
      ) : !error ? (
        <p className="jp-NaavreBatch-loading">
          {trans.__('Reading the notebook…')}
        </p>
      ) : null}
    </div>
  );
}

function Section(props: {
  title: string;
  name: string;
  children: React.ReactNode;
}): JSX.Element {
  const id = `jp-NaavreBatch-section-${props.name}`;
  return (
    <section
      className={`jp-NaavreBatch-section jp-NaavreBatch-${props.name}`}
      aria-labelledby={id}
    >
      <h3 id={id}>{props.title}</h3>
      {props.children}
    </section>
  );
}

function Summary(props: {
  spec: ISpec | null;
  error: string | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { spec, error, trans } = props;
  if (error) {
    return (
      <p className="jp-NaavreBatch-summary jp-mod-error" role="status">
        {trans.__('The server could not read the notebook: %1', error)}
      </p>
    );
  }
  if (!spec) {
    return <p className="jp-NaavreBatch-summary" role="status" />;
  }
  const shown = panelDiagnostics(spec);
  const errors = shown.filter(d => d.severity === 'error').length;
  const warnings = shown.length - errors;
  const parts = [
    trans._n('%1 step', '%1 steps', spec.steps.length),
    trans._n('%1 error', '%1 errors', errors),
    trans._n('%1 warning', '%1 warnings', warnings)
  ];
  return (
    <p
      className={`jp-NaavreBatch-summary${errors ? ' jp-mod-error' : ''}`}
      role="status"
    >
      {parts.join(' · ')}
    </p>
  );
}

function Graph(props: {
  model: PanelModel;
  spec: ISpec;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, spec, trans } = props;
  const values = model.parameterValues;
  const followed = model.cluster.run;
  const instances =
    model.run?.instances ?? (followed ? clusterInstances(followed) : undefined);
  const states = followed ? stepStatesOf(followed, trans) : undefined;
  const key = JSON.stringify([values, instances, states]);
  const layout = React.useCallback<GraphLayout>(
    (metrics, maxWidth) =>
      layoutGraph(
        buildGraph(spec, {
          values,
          runInstances: instances,
          runStates: states,
          parametersTitle: trans.__('Parameters'),
          headerTitle: trans.__('Header'),
          headerEdgeLabel: trans.__('runs in every step'),
          roleWords: roleWords(trans),
          metrics,
          maxWidth
        }),
        metrics
      ),
    [spec, key]
  );
  if (spec.steps.length === 0) {
    return (
      <div className="jp-NaavreBatch-emptyGraph" data-empty="true">
        <p>
          {trans.__(
            'No batch workflow yet. Give cells a role with the role menu in the cell toolbar or the W S, W P, W M keys (command mode).'
          )}
        </p>
        <p>
          {trans.__(
            'Splitter: the cell that makes the list; processor: the per-batch cells; merger: the cell that uses their results.'
          )}
        </p>
      </div>
    );
  }
  const activate = (node: IGraphNode) => {
    if (node.id === PARAMETERS_NODE) {
      const first = spec.parameters[0];
      void model.goToCell(first.cell_index, first.line, 1);
    } else if (node.cells.length) {
      void model.goToCell(node.cells[0]);
    }
  };
  return (
    <GraphView
      layout={layout}
      trans={trans}
      activeCell={model.activeCell}
      onActivate={activate}
      onOpenLarge={() => void model.app.commands.execute(CommandIDs.openPanel)}
      key={spec.notebook.path}
    />
  );
}

function Diagnostics(props: {
  model: PanelModel;
  diagnostics: IDiagnostic[];
  trans: TranslationBundle;
}): JSX.Element {
  const { model, diagnostics, trans } = props;
  return (
    <ul className="jp-NaavreBatch-diagnostics">
      {diagnostics.map((d, i) => {
        const where =
          d.cell_index === null
            ? trans.__('notebook')
            : d.line
              ? trans.__('cell %1, line %2', d.cell_index, d.line)
              : trans.__('cell %1', d.cell_index);
        const severity =
          d.severity === 'error' ? trans.__('Error') : trans.__('Warning');
        const body = (
          <>
            <span className={`jp-NaavreBatch-severity jp-mod-${d.severity}`}>
              {severity}
            </span>
            <span className="jp-NaavreBatch-where">{where}</span>
            <span className="jp-NaavreBatch-message">{d.message}</span>
            {d.hint ? (
              <span className="jp-NaavreBatch-hint">{d.hint}</span>
            ) : null}
          </>
        );
        return (
          <li
            key={i}
            className={`jp-NaavreBatch-diagnostic jp-mod-${d.severity}`}
            data-code={d.code}
          >
            {d.cell_index === null ? (
              <div className="jp-NaavreBatch-diagnosticBody">{body}</div>
            ) : (
              <button
                className="jp-NaavreBatch-diagnosticBody"
                onClick={() =>
                  void model.goToCell(d.cell_index!, d.line, d.column)
                }
                title={trans.__('Go to %1', where)}
              >
                {body}
              </button>
            )}
          </li>
        );
      })}
    </ul>
  );
}

/** Why a spec cannot be exported or run, or null. */
function blocker(spec: ISpec, trans: TranslationBundle): string | null {
  if (spec.summary.errors) {
    return trans._n(
      'Fix the %1 error listed under Problems first.',
      'Fix the %1 errors listed under Problems first.',
      spec.summary.errors
    );
  }
  if (spec.steps.length === 0) {
    return trans.__('Tag cells first: there is no workflow to export or run.');
  }
  return null;
}

function Export(props: {
  model: PanelModel;
  spec: ISpec;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, spec, trans } = props;
  const reason = blocker(spec, trans);
  const options = model.exportOptions;
  const disabled = reason !== null || model.busy !== null;
  const result = model.exportResult;
  return (
    <div>
      <div className="jp-NaavreBatch-fields">
        <Field
          name="image"
          label={trans.__('Image')}
          value={options.image}
          placeholder={trans.__('server default')}
          onChange={v => model.setExportOption('image', v)}
        />
        <div className="jp-NaavreBatch-field">
          <label htmlFor="jp-NaavreBatch-exportValues">
            {trans.__('Values between steps')}
          </label>
          <select
            id="jp-NaavreBatch-exportValues"
            className="jp-mod-styled"
            name="values"
            value={options.values}
            onChange={event =>
              model.setExportOption('values', event.target.value)
            }
          >
            <option value="parameters">
              {trans.__('Parameters (small values)')}
            </option>
            <option value="artifacts">
              {trans.__('Artifacts (any size; needs an artifact repository)')}
            </option>
          </select>
        </div>
      </div>
      <AdvancedExportOptions advanced={model.advanced} trans={trans} />
      <div className="jp-NaavreBatch-buttons">
        <button
          className="jp-Button jp-mod-styled jp-mod-accept"
          disabled={disabled}
          data-action="export-argo"
          onClick={() => void model.exportAs('argo')}
          aria-describedby={reason ? 'jp-NaavreBatch-exportReason' : undefined}
        >
          {trans.__('Argo workflow')}
        </button>
        <button
          className="jp-Button jp-mod-styled jp-mod-reject"
          disabled={disabled}
          data-action="export-cwl"
          onClick={() => void model.exportAs('cwl')}
          aria-describedby={reason ? 'jp-NaavreBatch-exportReason' : undefined}
          title={trans.__(
            'A CWL v1.2 workflow for cwltool or Toil (Slurm, Kubernetes), with its job file'
          )}
        >
          {trans.__('CWL workflow')}
        </button>
        <button
          className="jp-Button jp-mod-styled jp-mod-reject"
          disabled={disabled}
          data-action="export-json"
          onClick={() => void model.exportAs('json')}
          aria-describedby={reason ? 'jp-NaavreBatch-exportReason' : undefined}
        >
          {trans.__('Spec (JSON)')}
        </button>
      </div>
      {reason ? (
        <p
          id="jp-NaavreBatch-exportReason"
          className="jp-NaavreBatch-reason"
          data-reason="export"
        >
          {reason}
        </p>
      ) : null}
      {result?.path ? (
        <p className="jp-NaavreBatch-note" role="status">
          {trans.__('Saved %1', result.path)}
        </p>
      ) : null}
      {result?.warnings.length ? (
        <ul className="jp-NaavreBatch-warnings">
          {result.warnings.map((w, i) => (
            <li key={i}>{w}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

function Run(props: {
  model: PanelModel;
  spec: ISpec;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, spec, trans } = props;
  const run = model.run;
  const running = run !== null && !run.finished;
  const reason = blocker(spec, trans);
  const disabled = reason !== null || running || model.busy !== null;
  const contexts: [RunContext, string, string][] = [
    [
      'notebook',
      trans.__('Notebook context'),
      trans.__('Run every cell in order in a fresh kernel')
    ],
    [
      'workflow',
      trans.__('Workflow context (local)'),
      trans.__(
        'Run the steps as the workflow would, each instance in its own process'
      )
    ],
    [
      'both',
      trans.__('Compare both'),
      trans.__('Run both and compare every value passed between steps')
    ]
  ];
  return (
    <div>
      {spec.parameters.length ? (
        <div
          className="jp-NaavreBatch-fields"
          role="group"
          aria-label={trans.__('Run parameters')}
        >
          {spec.parameters.map(p => {
            const text = model.parameterText(p.name);
            const parsed = parseParameter(p.type, text);
            return (
              <Field
                key={p.name}
                name={p.name}
                label={`${p.name} (${p.type})`}
                value={text}
                error={parsed.ok ? null : trans.__('Expected %1', parsed.error)}
                onChange={v => model.setParameterText(p.name, v)}
              />
            );
          })}
        </div>
      ) : null}
      <div className="jp-NaavreBatch-buttons">
        {contexts.map(([context, label, caption]) => (
          <button
            key={context}
            className={`jp-Button jp-mod-styled ${context === 'both' ? 'jp-mod-accept' : 'jp-mod-reject'}`}
            disabled={disabled}
            title={caption}
            data-action={`run-${context}`}
            onClick={() => void model.startRun(context)}
          >
            {label}
          </button>
        ))}
        <button
          className="jp-Button jp-mod-styled jp-mod-reject"
          disabled={disabled}
          title={trans.__(
            'Compare both, taking every workflow step instance whose code, parameters and inputs are unchanged from the store instead of running it (steps tagged naavre:no-reuse always run)'
          )}
          data-action="run-reuse"
          onClick={() => void model.startRun('both', { reuse: true })}
        >
          {trans.__('Run (reuse unchanged)')}
        </button>
      </div>
      {reason && !running ? (
        <p className="jp-NaavreBatch-reason">{reason}</p>
      ) : null}
      {run ? <RunStatus model={model} run={run} trans={trans} /> : null}
    </div>
  );
}

function statusText(status: string, trans: TranslationBundle): string {
  switch (status) {
    case 'queued':
      return trans.__('queued');
    case 'pending':
      return trans.__('waiting');
    case 'running':
      return trans.__('running');
    case 'ok':
    case 'succeeded':
      return trans.__('done');
    case 'failed':
      return trans.__('failed');
    case 'cancelled':
      return trans.__('cancelled');
    case 'not-run':
      return trans.__('not run');
    default:
      return status;
  }
}

function seconds(value: number | null, trans: TranslationBundle): string {
  return value === null ? '' : trans.__('%1 s', value.toFixed(2));
}

/** A progress bar of `value` out of `total` (at least 1), named for screen readers. */
function Meter(props: {
  value: number;
  total: number;
  label: string;
}): JSX.Element {
  return (
    <progress
      max={Math.max(props.total, 1)}
      value={props.value}
      aria-label={props.label}
    />
  );
}

function ContextProgress(props: {
  context: IContextProgress;
  trans: TranslationBundle;
}): JSX.Element {
  const { context, trans } = props;
  const title =
    context.context === 'notebook'
      ? trans.__('Notebook context')
      : trans.__('Workflow context');
  return (
    <table className="jp-NaavreBatch-progress" data-context={context.context}>
      <caption>
        {title}: {statusText(context.status, trans)}{' '}
        {seconds(context.seconds, trans)}
      </caption>
      <thead>
        <tr>
          <th scope="col">{trans.__('Step')}</th>
          <th scope="col">{trans.__('Instances')}</th>
          <th scope="col">{trans.__('Status')}</th>
          <th scope="col">{trans.__('Time')}</th>
        </tr>
      </thead>
      <tbody>
        {context.tasks.map(t => (
          <tr key={t.task} data-task={t.task} data-status={t.status}>
            <th scope="row">{t.task}</th>
            <td>
              <Meter
                value={t.done}
                total={t.total}
                label={trans.__(
                  '%1: %2 of %3 instances done',
                  t.task,
                  t.done,
                  t.total
                )}
              />{' '}
              <span className="jp-NaavreBatch-count">
                {t.done}/{t.total}
              </span>
              {t.failed ? (
                <span className="jp-NaavreBatch-failedCount">
                  {' '}
                  {trans.__('%1 failed', t.failed)}
                </span>
              ) : null}
              {t.reused ? (
                <span className="jp-NaavreBatch-reusedCount">
                  {' '}
                  {trans.__('%1 reused', t.reused)}
                </span>
              ) : null}
              {t.bars.map(bar => (
                <div
                  key={bar.instance}
                  className="jp-NaavreBatch-bar"
                  data-instance={bar.instance}
                >
                  <Meter
                    value={bar.n}
                    total={bar.total}
                    label={trans.__(
                      'batch %1: %2 of %3',
                      bar.instance,
                      bar.n,
                      bar.total
                    )}
                  />{' '}
                  {trans.__('batch %1: %2/%3', bar.instance, bar.n, bar.total)}
                </div>
              ))}
            </td>
            <td>{statusText(t.status, trans)}</td>
            <td>{seconds(t.seconds, trans)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function show(value: unknown): string {
  return showValue(value);
}

function RunStatus(props: {
  model: PanelModel;
  run: IRunView;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, run, trans } = props;
  const verdict = verdictOf(run);
  return (
    <div
      className="jp-NaavreBatch-runStatus"
      data-status={run.status}
      data-run-id={run.id}
      aria-live="polite"
    >
      <div className="jp-NaavreBatch-runHeader">
        <span>
          {trans.__('Run %1: %2', run.id, statusText(run.status, trans))}{' '}
          {seconds(run.seconds, trans)}
        </span>
        {run.finished ? (
          <span>
            {run.canResume ? (
              <button
                className="jp-Button jp-mod-styled jp-mod-accept"
                data-action="rerun-failed"
                title={trans.__(
                  'Run again only the failed or missing instances of this run, then the merger'
                )}
                onClick={() => void model.rerunFailed()}
              >
                {trans.__('Re-run failed')}
              </button>
            ) : null}
            <button
              className="jp-Button jp-mod-styled jp-mod-reject"
              onClick={() => model.clearRun()}
            >
              {trans.__('Clear')}
            </button>
          </span>
        ) : (
          <button
            className="jp-Button jp-mod-styled jp-mod-warn"
            data-action="cancel-run"
            onClick={() => void model.cancelRun()}
          >
            {trans.__('Cancel')}
          </button>
        )}
      </div>
      {run.message ? (
        <p className="jp-NaavreBatch-note">{run.message}</p>
      ) : null}
      {run.contexts.map(c => (
        <ContextProgress key={c.context} context={c} trans={trans} />
      ))}
      {run.reuse ? (
        <p className="jp-NaavreBatch-note" data-reuse={run.reuse.reused}>
          {run.reuse.resumedFrom
            ? trans.__(
                'Resumed from %1: %2 instances reused, %3 re-run, %4 failed again.',
                run.reuse.resumedFrom,
                run.reuse.reused,
                run.reuse.ran,
                run.reuse.failed
              )
            : trans.__(
                'Reuse: %1 instances reused, %2 ran, %3 failed.',
                run.reuse.reused,
                run.reuse.ran,
                run.reuse.failed
              )}
        </p>
      ) : null}
      {verdict ? (
        <div
          className={`jp-NaavreBatch-verdict jp-mod-${verdict}`}
          data-verdict={verdict}
          role="status"
        >
          <strong>
            {verdict === 'same'
              ? trans.__('Same result')
              : trans.__('Different result')}
          </strong>
          <span>
            {verdict === 'same'
              ? trans._n(
                  'The workflow gives the notebook’s value for the %1 variable passed between steps.',
                  'The workflow gives the notebook’s values for all %1 variables passed between steps.',
                  run.verdict!.compared
                )
              : trans.__(
                  'These variables differ between the notebook and the workflow:'
                )}
          </span>
          {run.verdict!.differences.length ? (
            <ul>
              {run.verdict!.differences.map((d, i) => (
                <li key={i} data-variable={d.variable || undefined}>
                  {d.kind === 'printed' ? (
                    <>
                      {trans.__(
                        'Printed output of %1 (step %2) differs:',
                        d.path,
                        d.step
                      )}
                      <pre className="jp-NaavreBatch-printed">
                        {trans.__('notebook:') + '\n' + String(d.notebook)}
                      </pre>
                      <pre className="jp-NaavreBatch-printed">
                        {trans.__('workflow:') + '\n' + String(d.workflow)}
                      </pre>
                    </>
                  ) : (
                    <>
                      <code>{d.path}</code>{' '}
                      {trans.__(
                        '(step %1): notebook %2, workflow %3',
                        d.step,
                        show(d.notebook),
                        show(d.workflow)
                      )}
                    </>
                  )}
                </li>
              ))}
            </ul>
          ) : null}
          {verdict === 'different' && run.verdict!.differences.length === 0
            ? run.verdict!.notCompared.map((n, i) => (
                <p key={i}>
                  {trans.__(
                    '%1 (step %2) not compared: %3',
                    n.variable,
                    n.step,
                    n.reason
                  )}
                </p>
              ))
            : null}
        </div>
      ) : null}
      {run.failures.map((f, i) => (
        <div
          key={i}
          className="jp-NaavreBatch-failure"
          data-cell={f.cellIndex ?? undefined}
        >
          {f.cellIndex !== null ? (
            <button
              className="jp-NaavreBatch-failureLink"
              onClick={() => void model.goToCell(f.cellIndex!, f.line)}
            >
              {f.line
                ? trans.__(
                    '%1 context: cell %2, line %3',
                    f.context || '-',
                    f.cellIndex,
                    f.line
                  )
                : trans.__(
                    '%1 context: cell %2',
                    f.context || '-',
                    f.cellIndex
                  )}
            </button>
          ) : null}
          <p>{f.message}</p>
          {f.where ? <p className="jp-NaavreBatch-note">{f.where}</p> : null}
          {f.context === 'workflow' && f.task ? (
            <button
              className="jp-Button jp-mod-styled jp-mod-accept"
              data-action="debug-in-notebook"
              title={trans.__(
                "Load the header values and this instance's inputs into the notebook's kernel and select the failing cell"
              )}
              onClick={() => void model.debugInNotebook(f)}
            >
              {trans.__('Debug in notebook')}
            </button>
          ) : null}
          {f.logs ? (
            <details>
              <summary>{trans.__('Logs')}</summary>
              <pre>{f.logs}</pre>
            </details>
          ) : null}
        </div>
      ))}
    </div>
  );
}
