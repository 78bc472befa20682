/**
 * The cluster section's pure logic: the view of `GET cluster-runs/<name>` and the step states
 * the graph and the cell badges show.
 *
 * cluster-status.json holds real `naavre_batch_ext.engines.cluster.run_status` answers for the tagged
 * seed on the fake Argo server, whose nodes come from really running the exported pods
 * (tests/argo_fake.py; make_cluster_status.py regenerates it): `running` (3 of 5 batches done),
 * `failed` (the processor raised for item 13: batch 2 failed, the merger too), `succeeded` (the
 * merger's printed output stored in the status), `retried` (the failed run retried once item 13
 * works: batch 2 ran again, the others were kept).
 */
import {
  clusterDebugEndPoint,
  clusterInstances,
  countsText,
  itemRangeText,
  parseClusterRun,
  stepStatesOf,
  storedOutputText
} from '../cluster';
import statuses from './cluster-status.json';

describe('parseClusterRun', () => {
  it('reads the batches of the processor step', () => {
    const run = parseClusterRun(statuses.running);
    const process = run.steps[1];
    expect(process.steps).toEqual(['process-batches']);
    expect(process.instances).toMatchObject({
      total: 5,
      done: 3,
      running: 2,
      failed: 0
    });
    expect(run.finished).toBe(false);
  });

  it('names the failed batch with its item range and cell', () => {
    const run = parseClusterRun(statuses.failed);
    expect(run.finished).toBe(true);
    const batch = run.failures.find(f => f.index !== null)!;
    // items are elements of the split variable: the seed's 5 lists, one per batch
    expect([batch.index, batch.start, batch.stop]).toEqual([2, 2, 3]);
    expect(batch.cells).toEqual([6]);
    expect(itemRangeText(batch.start, batch.stop)).toBe('item 2');
  });

  it('gives every batch its item range', () => {
    const run = parseClusterRun(statuses.succeeded);
    const items = run.steps[1].instances!.items;
    expect(items.map(i => [i.start, i.stop])).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 5]
    ]);
  });

  it('says which batches a retry kept and which ran again', () => {
    const retried = parseClusterRun(statuses.retried).steps[1].instances!;
    expect(retried.reused).toBe(4);
    expect(retried.items.filter(i => !i.reused).map(i => i.index)).toEqual([2]);
    expect(parseClusterRun(statuses.succeeded).steps[1].instances!.reused).toBe(
      0
    );
  });

  it('tolerates a run summary without steps', () => {
    const run = parseClusterRun({ name: 'x', phase: 'Running' });
    expect(run.steps).toEqual([]);
    expect(stepStatesOf(run)).toEqual({});
  });
});

describe('stepStatesOf', () => {
  it('gives every step its task state and counts the batches', () => {
    const states = stepStatesOf(parseClusterRun(statuses.failed));
    expect(states['gen-batches']).toEqual({
      state: 'succeeded',
      text: 'done'
    });
    expect(states['process-batches']).toEqual({
      state: 'failed',
      text: 'failed · 4/5 done · 1 failed'
    });
    expect(states['retrieve-batches'].state).toBe('failed');
  });

  it('shows all batches done once the run succeeded', () => {
    const run = parseClusterRun(statuses.succeeded);
    expect(countsText(run.steps[1].instances!)).toBe('5/5 done');
    expect(clusterInstances(run)).toEqual({ 'process-batches': 5 });
  });
});

describe('storedOutputText', () => {
  it('shows the merger output the status stores', () => {
    const merger = parseClusterRun(statuses.succeeded).steps[2];
    expect(merger.output!.cutBytes).toBe(0);
    expect(storedOutputText(merger.output!)).toContain(
      'Processed items: [0.0, 0.023809523809523808,'
    );
    expect(parseClusterRun(statuses.failed).steps[2].output).toBeNull();
  });

  it('says when the start of the output was cut', () => {
    expect(storedOutputText({ text: 'end', cutBytes: 1024 })).toBe(
      '[the first 1024 bytes are cut; the whole output is in the pod’s log]\nend'
    );
  });
});

describe('itemRangeText', () => {
  it('says one item, none, or unknown', () => {
    expect(itemRangeText(4, 5)).toBe('item 4');
    expect(itemRangeText(0, 0)).toBe('no items');
    expect(itemRangeText(null, null)).toBe('');
  });
});

describe('clusterDebugEndPoint', () => {
  it("asks for the failed batch of the run's processor chain", () => {
    const run = parseClusterRun(statuses.failed);
    const batch = run.failures.find(f => f.index !== null)!;
    const url = clusterDebugEndPoint(run.name, 'dir/my seed.ipynb', batch)!;
    const [path, query] = url.split('?');
    expect(path).toBe(`cluster-runs/${encodeURIComponent(run.name)}/debug`);
    const params = new URLSearchParams(query);
    expect(params.get('path')).toBe('dir/my seed.ipynb');
    expect(params.get('batch')).toBe(String(batch.index));
    expect(params.get('task')).toBe('process-batches');
  });

  it('offers nothing for a failed step that is not a batch (the merger)', () => {
    const run = parseClusterRun(statuses.failed);
    const step = run.failures.find(f => f.index === null)!;
    expect(step.task).toBe('retrieve-batches');
    expect(clusterDebugEndPoint(run.name, 'seed.ipynb', step)).toBeNull();
  });
});
