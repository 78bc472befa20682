/**
 * The Run section's pure logic: typed parameter values, and the view of `GET runs/<id>`.
 *
 * run-snapshot.json holds real `Run.snapshot()` answers of naavre_batch_ext.runs.RunManager on
 * examples/splitting-batches-tagged.ipynb: `final` (context both, param_max_batch_count = 4,
 * succeeded, same result), `running` (taken while the workflow context's splitter ran), and
 * `failed` (workflow context, the processor raising for item 10); `resumed` (written by
 * make_run_snapshot_resumed.py): a failed run's batch 3 fixed and resumed with `"resume"`.
 */
import { IParameter } from '../../spec';
import {
  failureLogs,
  formatParameter,
  parseParameter,
  parseRunStatus,
  runParameters,
  showValue,
  verdictOf
} from '../runs';
import snapshots from './run-snapshot.json';

const param = (name: string, type: string, value: unknown): IParameter => ({
  name,
  type,
  default: value,
  cell_index: 2,
  cell_id: null,
  line: 2
});

describe('parseParameter', () => {
  it.each([
    ['int', '12', 12],
    ['int', ' -3 ', -3],
    ['float', '0.25', 0.25],
    ['float', '3', 3],
    ['bool', 'True', true],
    ['bool', 'false', false],
    ['str', ' a b ', ' a b '],
    ['list', '[1, 2]', [1, 2]],
    ['dict', '{"a": 1}', { a: 1 }],
    ['null', 'null', null]
  ])('reads a %s from %p', (type, text, value) => {
    expect(parseParameter(type, text)).toEqual({ ok: true, value });
  });

  it.each([
    ['int', '1.5'],
    ['int', ''],
    ['float', 'abc'],
    ['bool', 'yes'],
    ['list', '{"a": 1}'],
    ['dict', '[1]'],
    ['dict', '{oops']
  ])('refuses a %s from %p', (type, text) => {
    expect(parseParameter(type, text).ok).toBe(false);
  });
});

describe('runParameters', () => {
  const params = [
    param('param_item_count', 'int', 28),
    param('param_max_batch_count', 'int', 5)
  ];

  it('sends nothing while the defaults are untouched', () => {
    expect(runParameters(params, {})).toEqual({ values: {}, invalid: [] });
    expect(
      runParameters(params, { param_item_count: formatParameter(28) })
    ).toEqual({ values: {}, invalid: [] });
  });

  it('sends the edited values that differ from the defaults', () => {
    expect(
      runParameters(params, {
        param_max_batch_count: '3',
        param_item_count: '028'
      })
    ).toEqual({
      values: { param_max_batch_count: 3 },
      invalid: []
    });
  });

  it('names the invalid fields', () => {
    expect(runParameters(params, { param_max_batch_count: 'many' })).toEqual({
      values: {},
      invalid: ['param_max_batch_count']
    });
  });
});

describe('parseRunStatus', () => {
  it('shows a just-started run as queued, not finished', () => {
    const view = parseRunStatus({
      id: 'r1',
      context: 'both',
      status: 'queued'
    });
    expect(view).toMatchObject({
      id: 'r1',
      status: 'queued',
      finished: false,
      contexts: [],
      failures: []
    });
    expect(verdictOf(view)).toBeNull();
  });

  it('shows live progress with pending tasks at 0 of 0', () => {
    const view = parseRunStatus(snapshots.running);
    expect(view.finished).toBe(false);
    const workflow = view.contexts.find(c => c.context === 'workflow')!;
    expect(workflow.status).toBe('running');
    expect(
      workflow.tasks.map(t => [t.task, t.status, t.done, t.total])
    ).toEqual([
      ['gen-batches', 'running', 0, 1],
      ['process-batches', 'pending', 0, 0],
      ['retrieve-batches', 'pending', 0, 0]
    ]);
  });

  it('ends a compared run with the same result and the real instance count', () => {
    const view = parseRunStatus(snapshots.final);
    expect(view.finished).toBe(true);
    expect(view.status).toBe('succeeded');
    expect(verdictOf(view)).toBe('same');
    expect(view.verdict!.compared).toBe(2);
    expect(view.instances).toEqual({ 'process-batches': 4 });
    const processors = view.contexts[1].tasks.find(
      t => t.task === 'process-batches'
    )!;
    expect([processors.done, processors.total, processors.kind]).toEqual([
      4,
      4,
      'processors'
    ]);
    expect(processors.seconds).toBeGreaterThan(0);
    expect(view.contexts.map(c => c.context)).toEqual(['notebook', 'workflow']);
  });

  it('reports a failed instance at its notebook cell and line, with the traceback', () => {
    const view = parseRunStatus(snapshots.failed);
    expect(view.status).toBe('failed');
    expect(view.failures).toHaveLength(1);
    const failure = view.failures[0];
    expect([
      failure.context,
      failure.step,
      failure.cellIndex,
      failure.line
    ]).toEqual(['workflow', 'process-batches', 6, 6]);
    expect(failure.message).toContain('ValueError: bad item 10');
    expect(failure.where).toContain('instance 2/5');
    expect(failure.logs).toContain('Traceback');
    expect(verdictOf(view)).toBeNull();
  });

  it('offers to resume a failed workflow run and to debug its failed batch', () => {
    const view = parseRunStatus(snapshots.failed);
    expect(view.canResume).toBe(true);
    expect(view.reuse).toBeNull();
    expect([view.failures[0].task, view.failures[0].batch]).toEqual([
      'process-batches',
      1
    ]);
    expect(parseRunStatus(snapshots.final).canResume).toBe(false);
  });

  it('shows the tqdm bars of running instances, not of finished ones', () => {
    const running = JSON.parse(JSON.stringify(snapshots.running));
    const task = running.progress.workflow.tasks[0];
    task.instance_progress = { '0': { n: 3, total: 8 } };
    expect(parseRunStatus(running).contexts[1].tasks[0].bars).toEqual([
      { instance: 0, n: 3, total: 8 }
    ]);
    task.instance_status = [{ instance: 0, status: 'ok', seconds: 1 }];
    expect(parseRunStatus(running).contexts[1].tasks[0].bars).toEqual([]);
  });

  it('counts what a resumed run reused, ran and failed again', () => {
    const view = parseRunStatus(snapshots.resumed);
    expect(view.status).toBe('succeeded');
    expect(view.canResume).toBe(false);
    expect(view.reuse).toEqual({
      reused: 4,
      ran: 2,
      failed: 0,
      resumedFrom: snapshots.resumed.result.workflow_run.reuse.resumed_from
    });
    const chain = view.contexts[0].tasks.find(t => t.kind === 'processors')!;
    expect([chain.reused, chain.total]).toEqual([3, 4]);
  });

  it('shows the stdout and stderr tails of a failed instance once, the traceback not twice', () => {
    const error = snapshots.failed.errors[0];
    const logs = failureLogs({
      ...error,
      stdout: 'about to fail [[6, 7]]\n',
      stderr: `err side\n${error.traceback}naavre-batch: ${error.message}\n`
    });
    expect(logs.split('Traceback (most recent call last)')).toHaveLength(2);
    expect(logs).toContain('--- stdout ---\nabout to fail [[6, 7]]');
    expect(logs).toContain(
      `--- stderr ---\nerr side\n\nnaavre-batch: ${error.message}`
    );
    expect(logs.indexOf('Traceback')).toBeLessThan(logs.indexOf('stdout'));
  });

  it('lists the differing variables of a different result', () => {
    const view = parseRunStatus({
      ...snapshots.final,
      status: 'failed',
      outcome: 'different',
      comparison: {
        same: false,
        compared: 2,
        differences: [
          {
            step: 'process-batches',
            variable: 'processed_batches',
            path: 'processed_batches[0][1]',
            notebook: 1,
            workflow: 2
          }
        ],
        not_compared: []
      }
    });
    expect(verdictOf(view)).toBe('different');
    expect(view.outcome).toBe('different');
    expect(view.verdict!.differences.map(d => d.path)).toEqual([
      'processed_batches[0][1]'
    ]);
  });

  it('names a printed-output difference by its cell', () => {
    const view = parseRunStatus({
      ...snapshots.final,
      status: 'failed',
      outcome: 'different',
      comparison: {
        same: false,
        compared: 1,
        differences: [
          {
            kind: 'printed',
            step: 'merge',
            cell_index: 8,
            notebook: 'pid parity 0\n',
            workflow: 'pid parity 1\n'
          }
        ],
        not_compared: []
      }
    });
    const [difference] = view.verdict!.differences;
    expect(difference.kind).toBe('printed');
    expect(difference.path).toBe('cell 8');
    expect(difference.workflow).toBe('pid parity 1\n');
  });
});

describe('showValue', () => {
  it.each([
    [[0.0, 1.5], '[0,1.5]'],
    ['text', '"text"'],
    [
      {
        'naavre-preview': {
          type: 'numpy.ndarray',
          summary: 'float64 array, shape (3,)',
          preview: 'array([0., 1., 2.])'
        }
      },
      'float64 array, shape (3,) array([0., 1., 2.])'
    ]
  ])('shows %j as %s', (value, text) => {
    expect(showValue(value)).toBe(text);
  });

  it('cuts long values', () => {
    expect(showValue('x'.repeat(200), 20)).toHaveLength(20);
  });
});
