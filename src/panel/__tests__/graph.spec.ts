/**
 * The panel's graph model: nodes and edges from a spec, the "× m" instance count (the same rule as
 * Python's split.batch_instances) and dagre's layout.
 *
 * batch-instances.json was written by Python's own rule:
 *   python -c "from naavre_batch_ext.core.split import batch_instances; ..." (n in 0..100, m in 1..50)
 * so a change of either side breaks this test.
 */
import {
  HEADER_NODE,
  PARAMETERS_NODE,
  ROUGH_METRICS,
  SLANT,
  batchInstances,
  clipTo,
  buildGraph,
  fitViewBox,
  instancesText,
  layoutGraph,
  nodeForCell,
  panelDiagnostics,
  resolveBatchCount,
  runInstancesOf,
  textInset
} from '../graph';
import { ISpec } from '../../spec';
import { clusterInstances, parseClusterRun, stepStatesOf } from '../cluster';
import clusterStatuses from './cluster-status.json';

import python from './batch-instances.json';
import serverSpecs from '../../tagging/__tests__/seed-specs.json';

/** The spec the server gives for examples/splitting-batches-tagged.ipynb (cells trimmed). */
function seedSpec(
  batchCount: ISpec['steps'][0]['batch_count'] = {
    parameter: 'param_max_batch_count',
    default: 5
  }
): ISpec {
  const ref = (index: number, title: string) => ({
    index,
    id: null,
    title,
    source: ''
  });
  return {
    apiVersion: 'naavre-batch/v1',
    notebook: {
      name: 'splitting-batches',
      path: 'splitting-batches.ipynb',
      kernel: 'python3',
      language: 'python'
    },
    parameters: [
      {
        name: 'param_item_count',
        default: 28,
        type: 'int',
        cell_index: 2,
        cell_id: null,
        line: 2
      },
      {
        name: 'param_max_batch_count',
        default: 5,
        type: 'int',
        cell_index: 2,
        cell_id: null,
        line: 3
      }
    ],
    header: {
      cells: [ref(2, '(do not containerize!)')],
      names: ['param_item_count', 'param_max_batch_count'],
      imports: []
    },
    steps: [
      {
        id: 'gen-batches',
        role: 'splitter',
        title: 'split: gen batches',
        cells: [ref(4, 'split: gen batches')],
        section: 0,
        inputs: [],
        outputs: ['batches'],
        batch_count: batchCount,
        split_variable: 'batches',
        imports: []
      },
      {
        id: 'process-batches',
        role: 'processor',
        title: 'split: process batches',
        cells: [ref(6, 'split: process batches')],
        section: 0,
        inputs: ['batches'],
        outputs: ['processed_batches'],
        batch_count: null,
        split_variable: null,
        imports: []
      },
      {
        id: 'retrieve-batches',
        role: 'merger',
        title: 'split: retrieve batches',
        cells: [ref(8, 'split: retrieve batches')],
        section: 0,
        inputs: ['processed_batches'],
        outputs: [],
        batch_count: null,
        split_variable: null,
        imports: []
      }
    ],
    sections: [
      {
        index: 0,
        splitter: 'gen-batches',
        processors: ['process-batches'],
        merger: 'retrieve-batches',
        split_variable: 'batches',
        batch_count: batchCount,
        broadcast: [],
        merged: ['processed_batches']
      }
    ],
    edges: [
      {
        from: 'gen-batches',
        to: 'process-batches',
        variables: ['batches'],
        kind: 'split'
      },
      {
        from: 'process-batches',
        to: 'retrieve-batches',
        variables: ['processed_batches'],
        kind: 'merge'
      }
    ],
    diagnostics: [],
    summary: { errors: 0, warnings: 0 }
  };
}

describe('batchInstances', () => {
  it.each(python.rows as [number, number, number][])(
    'n=%i items, m=%i batches gives %i instances, as in Python',
    (n, m, expected) => {
      expect(batchInstances(n, m)).toBe(expected);
    }
  );

  it('is m while the item count is unknown', () => {
    expect(batchInstances(null, 7)).toBe(7);
  });

  it.each([0, -1, 2.5])('rejects batch count %p', m => {
    expect(() => batchInstances(3, m)).toThrow(RangeError);
  });
});

describe('resolveBatchCount', () => {
  const params = seedSpec().parameters;

  it('takes a number from the tag', () => {
    expect(resolveBatchCount({ value: 3 }, params)).toEqual({
      count: 3,
      source: 'value'
    });
  });

  it("takes the parameter's default in the notebook", () => {
    const bc = { parameter: 'param_max_batch_count', default: 2 };
    expect(resolveBatchCount(bc, [{ ...params[1], default: 9 }]).count).toBe(9);
  });

  it('prefers a value the user edited for the run', () => {
    const bc = { parameter: 'param_max_batch_count', default: 5 };
    expect(
      resolveBatchCount(bc, params, { param_max_batch_count: 12 }).count
    ).toBe(12);
  });

  it('ignores an edited value that is not a positive integer', () => {
    const bc = { parameter: 'param_max_batch_count', default: 5 };
    expect(
      resolveBatchCount(bc, params, { param_max_batch_count: 'x' }).count
    ).toBe(5);
  });

  it('is unknown without a batch count', () => {
    const r = resolveBatchCount(null, params);
    expect(r.count).toBeNull();
    expect(instancesText(r)).toBe('× ?');
  });
});

describe('buildGraph', () => {
  it('has parameters, header and one node per step with its role', () => {
    const g = buildGraph(seedSpec());
    expect(g.nodes.map(n => [n.id, n.kind])).toEqual([
      [PARAMETERS_NODE, 'parameters'],
      [HEADER_NODE, 'header'],
      ['gen-batches', 'splitter'],
      ['process-batches', 'processor'],
      ['retrieve-batches', 'merger']
    ]);
  });

  it('draws the section processor as a stack of "× 5" from the parameter default', () => {
    const g = buildGraph(seedSpec());
    const processor = g.nodes.find(n => n.id === 'process-batches')!;
    expect(instancesText(processor.instances!)).toBe('× 5');
    expect(processor.instances!.parameter).toBe('param_max_batch_count');
    expect(g.nodes.filter(n => n.instances !== null)).toHaveLength(1);
  });

  it('marks a step tagged naavre:no-reuse, and only that one', () => {
    const spec = seedSpec();
    spec.steps[1] = { ...spec.steps[1], no_reuse: true };
    const g = buildGraph(spec);
    expect(g.nodes.filter(n => n.noReuse).map(n => n.id)).toEqual([
      spec.steps[1].id
    ]);
  });

  it('follows a batch count written in the tag', () => {
    const g = buildGraph(seedSpec({ value: 3 }));
    expect(
      instancesText(g.nodes.find(n => n.id === 'process-batches')!.instances!)
    ).toBe('× 3');
  });

  it('shows the instances a run counted instead of the batch count', () => {
    const runInstances = runInstancesOf([
      { kind: 'splitter', steps: ['gen-batches'], instances: 1 },
      { kind: 'processors', steps: ['process-batches'], instances: 4 }
    ]);
    const g = buildGraph(seedSpec(), { runInstances });
    const processor = g.nodes.find(n => n.id === 'process-batches')!;
    expect(processor.instances).toEqual({ count: 4, source: 'run' });
  });

  it('labels the edges with their variables and kind', () => {
    const g = buildGraph(seedSpec());
    const labels = g.edges
      .filter(e => !['parameter', 'header'].includes(e.kind))
      .map(e => [e.from, e.to, e.label]);
    expect(labels).toEqual([
      ['gen-batches', 'process-batches', 'batches (split)'],
      ['process-batches', 'retrieve-batches', 'processed_batches (merge)']
    ]);
  });

  it('links the batch-count parameter to the splitter and the header to unfed steps', () => {
    const g = buildGraph(seedSpec(), { headerEdgeLabel: 'runs in every step' });
    const context = g.edges
      .filter(e => ['parameter', 'header'].includes(e.kind))
      .map(e => [e.from, e.to, e.label]);
    expect(context).toEqual([
      [PARAMETERS_NODE, HEADER_NODE, ''],
      [HEADER_NODE, 'gen-batches', 'runs in every step'],
      [PARAMETERS_NODE, 'gen-batches', 'param_max_batch_count']
    ]);
  });

  it('names the parameter inside a chained splitter instead of drawing a graph-long edge', () => {
    const spec = seedSpec();
    const second = seedSpec().steps.map(step => ({
      ...step,
      id: `${step.id}-2`,
      section: 1,
      cells: step.cells.map(c => ({ ...c, index: c.index + 10 }))
    }));
    spec.steps.push(...second);
    spec.sections.push({
      ...spec.sections[0],
      index: 1,
      splitter: 'gen-batches-2',
      processors: ['process-batches-2'],
      merger: 'retrieve-batches-2'
    });
    spec.edges.push({
      from: 'retrieve-batches',
      to: 'gen-batches-2',
      variables: ['items'],
      kind: 'data'
    });
    const g = buildGraph(spec);
    const fromParameters = g.edges
      .filter(e => e.from === PARAMETERS_NODE)
      .map(e => e.to);
    expect(fromParameters).toEqual([HEADER_NODE, 'gen-batches']);
    const chained = g.nodes.find(n => n.id === 'gen-batches-2')!;
    expect(chained.lines).toEqual([
      'cell 14: split: gen batches',
      '× param_max_batch_count'
    ]);
    expect(g.nodes.find(n => n.id === 'gen-batches')!.lines).toEqual([
      'cell 4: split: gen batches'
    ]);
  });

  it('keeps a chain of 20 sections about one column wide', () => {
    const spec = seedSpec();
    spec.steps = [];
    spec.sections = [];
    spec.edges = [];
    for (let i = 0; i < 20; i++) {
      for (const step of seedSpec().steps) {
        spec.steps.push({ ...step, id: `${step.id}-${i}`, section: i });
      }
      spec.sections.push({
        ...seedSpec().sections[0],
        index: i,
        splitter: `gen-batches-${i}`,
        processors: [`process-batches-${i}`],
        merger: `retrieve-batches-${i}`
      });
      spec.edges.push(
        ...seedSpec().edges.map(e => ({
          ...e,
          from: `${e.from}-${i}`,
          to: `${e.to}-${i}`
        }))
      );
      if (i > 0) {
        spec.edges.push({
          from: `retrieve-batches-${i - 1}`,
          to: `gen-batches-${i}`,
          variables: ['items'],
          kind: 'data'
        });
      }
    }
    const g = layoutGraph(buildGraph(spec));
    const widest = Math.max(...g.nodes.map(n => n.width));
    expect(g.width).toBeLessThan(2 * widest);
  });

  it('has no nodes for a notebook without tags', () => {
    const spec = {
      ...seedSpec(),
      parameters: [],
      header: { cells: [], names: [] },
      steps: [],
      sections: [],
      edges: []
    };
    expect(buildGraph(spec).nodes).toEqual([]);
  });

  it('shortens long titles and many cells so boxes stay readable', () => {
    const spec = seedSpec();
    const many = Array.from({ length: 10 }, (_, i) => ({
      index: 10 + i,
      id: null,
      title: 'x'.repeat(80),
      source: ''
    }));
    spec.steps[2] = { ...spec.steps[2], cells: many };
    const merger = buildGraph(spec).nodes.find(
      n => n.id === 'retrieve-batches'
    )!;
    expect(merger.lines).toHaveLength(6);
    expect(merger.lines[5]).toBe('+ 5 …');
    expect(Math.max(...merger.lines.map(l => l.length))).toBeLessThanOrEqual(
      34
    );
    expect(merger.cells).toHaveLength(10);
  });
});

describe('trapezoids', () => {
  it('widen splitter and merger boxes by the slant on both sides so text stays inside', () => {
    const g = buildGraph(seedSpec(null));
    const width = (id: string) => g.nodes.find(n => n.id === id)!.width;
    expect(textInset('splitter')).toBe(SLANT);
    expect(textInset('merger')).toBe(SLANT);
    expect(textInset('processor')).toBe(0);
    // Compared with the width the text alone needs (the rule of graph.ts's sized()).
    const needed = (id: string) => {
      const n = g.nodes.find(x => x.id === id)!;
      const longest = Math.max(
        n.title.length + 12,
        ...n.lines.map(l => l.length)
      );
      return Math.max(120, longest * 7 + 20);
    };
    expect(width('gen-batches')).toBe(needed('gen-batches') + 2 * SLANT);
    expect(width('retrieve-batches')).toBe(
      needed('retrieve-batches') + 2 * SLANT
    );
  });
});

describe('layoutGraph', () => {
  const g = layoutGraph(buildGraph(seedSpec()));
  const at = (id: string) => g.nodes.find(n => n.id === id)!;

  it('puts splitter above processor above merger', () => {
    expect(at('gen-batches').y).toBeLessThan(at('process-batches').y);
    expect(at('process-batches').y).toBeLessThan(at('retrieve-batches').y);
    expect(at(PARAMETERS_NODE).y).toBeLessThan(at('gen-batches').y);
  });

  it('keeps every node inside the graph size without overlaps', () => {
    for (const n of g.nodes) {
      expect(n.x - n.width / 2).toBeGreaterThanOrEqual(0);
      expect(n.y + n.height / 2).toBeLessThanOrEqual(g.height);
    }
    for (const a of g.nodes) {
      for (const b of g.nodes) {
        if (a !== b) {
          const apart =
            Math.abs(a.x - b.x) >= (a.width + b.width) / 2 ||
            Math.abs(a.y - b.y) >= (a.height + b.height) / 2;
          expect(apart).toBe(true);
        }
      }
    }
  });

  it('routes every edge from its source to its target', () => {
    for (const e of g.edges) {
      expect(e.points.length).toBeGreaterThanOrEqual(2);
      const first = e.points[0];
      const last = e.points[e.points.length - 1];
      expect(Math.abs(first.y - at(e.from).y)).toBeLessThanOrEqual(
        at(e.from).height / 2 + 1
      );
      expect(Math.abs(last.y - at(e.to).y)).toBeLessThanOrEqual(
        at(e.to).height / 2 + 1
      );
    }
  });

  it('fits the view box around the whole graph', () => {
    const box = fitViewBox(g, 8);
    expect(box).toEqual({ x: -8, y: -8, w: g.width + 16, h: g.height + 16 });
  });
});

describe('nodeForCell', () => {
  const g = buildGraph(seedSpec());

  it.each([
    [4, 'gen-batches'],
    [6, 'process-batches'],
    [8, 'retrieve-batches'],
    [2, HEADER_NODE],
    [3, null]
  ])('cell %i belongs to %p', (cell, id) => {
    expect(nodeForCell(g, cell)).toBe(id);
  });
});

describe('panelDiagnostics', () => {
  it('leaves out "no cell is tagged", which the empty state already says', () => {
    const untagged = serverSpecs.untagged.spec as unknown as ISpec;
    expect(untagged.diagnostics.map(d => d.code)).toContain('no-steps');
    expect(panelDiagnostics(untagged).map(d => d.code)).not.toContain(
      'no-steps'
    );
  });

  it('keeps every other diagnostic', () => {
    const broken = serverSpecs.processorOnly.spec as unknown as ISpec;
    expect(panelDiagnostics(broken)).toEqual(broken.diagnostics);
  });
});

describe('buildGraph with a followed cluster run', () => {
  it('writes each step state as the node’s last line and marks the node', () => {
    const failed = parseClusterRun(clusterStatuses.failed);
    const graph = buildGraph(seedSpec(), {
      runStates: stepStatesOf(failed),
      runInstances: clusterInstances(failed)
    });
    const processor = graph.nodes.find(n => n.id === 'process-batches')!;
    expect(processor.state?.state).toBe('failed');
    expect(processor.lines[processor.lines.length - 1]).toBe(
      'failed · 4/5 done · 1 failed'
    );
    expect(processor.instances).toEqual({ count: 5, source: 'run' });
    const plain = buildGraph(seedSpec()).nodes.find(
      n => n.id === 'process-batches'
    )!;
    expect(processor.height).toBeGreaterThan(plain.height);
    expect(plain.state).toBeUndefined();
  });
});

describe('the compact graph of a narrow panel', () => {
  const full = layoutGraph(buildGraph(seedSpec()));
  const maxWidth = 220;
  const g = layoutGraph(buildGraph(seedSpec(), { maxWidth }));

  it('keeps every box within the width, cutting text rather than shrinking it', () => {
    expect(full.width).toBeGreaterThan(maxWidth + 24);
    for (const n of g.nodes) {
      expect(n.width).toBeLessThanOrEqual(maxWidth);
    }
    const line = g.nodes.find(n => n.id === 'gen-batches')!.lines[0];
    expect(line.endsWith('…')).toBe(true);
  });

  it('draws the role word under the title, so the title has the whole width', () => {
    const splitter = g.nodes.find(n => n.id === 'gen-batches')!;
    expect(splitter.roleLine).toBe(true);
    expect(splitter.title).toBe('split: gen batches');
    expect(full.nodes.every(n => !n.roleLine)).toBe(true);
  });

  it('names the batch-count parameter in the splitter instead of a long edge', () => {
    const splitter = g.nodes.find(n => n.id === 'gen-batches')!;
    expect(splitter.lines).toContain('× param_max_batch_count');
    expect(g.edges.filter(e => e.kind === 'parameter').map(e => e.to)).toEqual([
      HEADER_NODE
    ]);
  });

  it('lays the seed out in one column: no wider than its widest box and margins', () => {
    const widest = Math.max(...g.nodes.map(n => n.width));
    expect(g.width).toBeLessThanOrEqual(widest + 24 + 1);
  });
});

describe('clipTo', () => {
  it.each([
    ['short', 100, 'short'],
    ['cell 4: split: gen batches', 70, 'cell 4: s…'],
    ['abc', 0, 'a…']
  ])('%p in %p px is %p', (text, room, clipped) => {
    expect(clipTo(text, room, ROUGH_METRICS.line)).toBe(clipped);
  });
});
