import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  IAdvice,
  IAdviceSection,
  PLOT_MARGIN,
  plotLayout,
  startCostOrigin
} from './advisor';
import { AdvisorModel } from './advisormodel';
import { Field } from './fields';

/** The plot's view box; the SVG scales to the panel's width (never wider). */
const PLOT_W = 320;
const PLOT_H = 170;

function seconds(value: number, trans: TranslationBundle): string {
  return value < 600
    ? trans.__('%1 s', value.toFixed(value < 10 ? 2 : 1))
    : trans.__('%1 min', (value / 60).toFixed(1));
}

/**
 * The batch-count advisor: P and s fields, per section a plot of the expected processor time
 * against m with the best and the current m marked, the model in one sentence, and *Use m = k*.
 */
export function BatchCountAdvisor(props: {
  advisor: AdvisorModel;
  exportParallelism: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { advisor, exportParallelism, trans } = props;
  const advice = advisor.advice;
  if (!advisor.runId) {
    return (
      <p className="jp-NaavreBatch-note" data-advisor="waiting">
        {trans.__(
          'Run the notebook (Compare both, or the notebook context) to measure the time per item; the expected cluster time for each batch count appears here.'
        )}
      </p>
    );
  }
  const pError = advisor.fieldError('parallelism');
  const sError = advisor.fieldError('startCost');
  return (
    <div className="jp-NaavreBatch-advisorBody">
      <div className="jp-NaavreBatch-fields">
        <Field
          id="jp-NaavreBatch-advisor-parallelism"
          name="advisor-parallelism"
          label={trans.__('Parallelism P (instances at once)')}
          value={advisor.parallelism}
          placeholder={exportParallelism || trans.__('no limit')}
          error={pError}
          onChange={v => advisor.setParallelism(v)}
        />
        <Field
          id="jp-NaavreBatch-advisor-start-cost"
          name="advisor-start-cost"
          label={trans.__('Start cost s per instance (seconds)')}
          value={advisor.startCost}
          placeholder={String(
            advice && !advisor.startCost.trim()
              ? advice.startCost
              : (advisor.defaultStartCost ?? advice?.defaultStartCost ?? '')
          )}
          error={sError}
          onChange={v => advisor.setStartCost(v)}
        />
      </div>
      {advice && !advisor.startCost.trim() ? (
        <p className="jp-NaavreBatch-note" data-advisor="start-cost">
          {startCostNote(advice, trans)}
        </p>
      ) : null}
      {advisor.error ? (
        <p className="jp-NaavreBatch-reason" data-advisor="error">
          {advisor.error}
        </p>
      ) : null}
      {advice?.sections.map(section => (
        <SectionAdvice
          key={section.section}
          advisor={advisor}
          section={section}
          trans={trans}
        />
      ))}
    </div>
  );
}

/** Where the start cost s of an empty field comes from, in one sentence. */
function startCostNote(advice: IAdvice, trans: TranslationBundle): string {
  const origin = startCostOrigin(advice.startCostSource);
  const s = seconds(advice.startCost, trans);
  switch (origin.kind) {
    case 'cluster':
      return trans.__(
        's = %1: measured by the last cluster run %2 (its pods’ time beyond their items).',
        s,
        origin.run
      );
    case 'settings':
      return trans.__(
        's = %1: the setting advisorStartCost (no cluster run of this notebook measured it yet).',
        s
      );
    default:
      return trans.__(
        's = %1: the default (no cluster run of this notebook measured it yet).',
        s
      );
  }
}

function SectionAdvice(props: {
  advisor: AdvisorModel;
  section: IAdviceSection;
  trans: TranslationBundle;
}): JSX.Element {
  const { advisor, section, trans } = props;
  const [failed, setFailed] = React.useState(false);
  const layout = plotLayout(section.rows, PLOT_W, PLOT_H);
  const best = layout.points.find(p => p.m === section.best);
  const current = layout.points.find(p => p.m === section.current);
  const bottom = PLOT_H - PLOT_MARGIN.bottom;
  const P =
    section.parallelism === null
      ? trans.__('no limit')
      : String(section.parallelism);
  const measuredIn =
    section.measured_in === 'notebook'
      ? trans.__('the notebook context')
      : trans.__('the workflow context (includes the local start cost)');
  const title = trans.__(
    'Expected processor time of section %1 against the batch count m',
    section.section
  );
  return (
    <figure
      className="jp-NaavreBatch-advice"
      data-section={section.section}
      data-best={section.best}
      data-current={section.current ?? undefined}
    >
      <svg
        className="jp-NaavreBatch-advicePlot"
        viewBox={`0 0 ${PLOT_W} ${PLOT_H}`}
        width="100%"
        role="img"
        aria-label={title}
      >
        <title>{title}</title>
        <line
          className="jp-NaavreBatch-axis"
          x1={PLOT_MARGIN.left}
          y1={bottom}
          x2={PLOT_W - PLOT_MARGIN.right}
          y2={bottom}
        />
        <line
          className="jp-NaavreBatch-axis"
          x1={PLOT_MARGIN.left}
          y1={PLOT_MARGIN.top}
          x2={PLOT_MARGIN.left}
          y2={bottom}
        />
        {layout.xTicks.map(m => (
          <text
            key={m}
            className="jp-NaavreBatch-tick"
            x={layout.x(m)}
            y={bottom + 13}
            textAnchor="middle"
          >
            {m}
          </text>
        ))}
        <text
          className="jp-NaavreBatch-tick"
          x={PLOT_W - PLOT_MARGIN.right}
          y={PLOT_H - 3}
          textAnchor="end"
        >
          {trans.__('batches m')}
        </text>
        <text
          className="jp-NaavreBatch-tick"
          x={PLOT_MARGIN.left - 4}
          y={PLOT_MARGIN.top + 4}
          textAnchor="end"
        >
          {seconds(layout.maxSeconds, trans)}
        </text>
        <text
          className="jp-NaavreBatch-tick"
          x={PLOT_MARGIN.left - 4}
          y={bottom}
          textAnchor="end"
        >
          0
        </text>
        {current ? (
          <line
            className="jp-NaavreBatch-currentLine"
            data-m={current.m}
            x1={current.x}
            y1={PLOT_MARGIN.top}
            x2={current.x}
            y2={bottom}
          />
        ) : null}
        <polyline className="jp-NaavreBatch-adviceCurve" points={layout.line} />
        {best ? (
          <circle
            className="jp-NaavreBatch-bestPoint"
            data-m={best.m}
            cx={best.x}
            cy={best.y}
            r={4}
          />
        ) : null}
      </svg>
      <figcaption>
        <p className="jp-NaavreBatch-adviceResult" role="status">
          <strong>
            {trans.__(
              'Best: m = %1 (%2)',
              section.best,
              seconds(section.best_seconds, trans)
            )}
          </strong>
          {section.current !== null && section.current_seconds !== null
            ? ' · ' +
              trans.__(
                'now: m = %1 (%2)',
                section.current,
                seconds(section.current_seconds, trans)
              )
            : null}
        </p>
        <p className="jp-NaavreBatch-note" data-advisor="model">
          {trans.__(
            'Expected time of the processor stage: ceil(m / P) waves, each s + ceil(n / m) × t, for n = %1 items, t = %2 per item measured in %3, P = %4 and s = %5; it assumes every item takes the same time and the cluster really runs P instances at once.',
            section.items,
            seconds(section.item_seconds, trans),
            measuredIn,
            P,
            seconds(section.start_cost, trans)
          )}
        </p>
        {section.current !== section.best ? (
          <button
            className="jp-Button jp-mod-styled jp-mod-accept"
            data-action="use-batch-count"
            onClick={() =>
              setFailed(!advisor.useBatchCount(section, section.best))
            }
          >
            {trans.__('Use m = %1', section.best)}
          </button>
        ) : null}
        {failed ? (
          <p className="jp-NaavreBatch-reason">
            {trans.__(
              'The batch count could not be written: the line that sets it changed. Save, run again, and retry.'
            )}
          </p>
        ) : null}
      </figcaption>
    </figure>
  );
}
