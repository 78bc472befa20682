/**
 * The batch-count advisor's view logic: where the plot puts the server's rows, and the edit that
 * *Use m = k* writes (the parameter's line in the header, or the splitter's tag).
 */
import { ISpec } from '../../spec';
import {
  IAdviceRow,
  PLOT_MARGIN,
  batchCountEdit,
  plotLayout,
  replaceAssignment,
  startCostOrigin,
  startCostRequest,
  xTicks
} from '../advisor';

function rows(...seconds: number[]): IAdviceRow[] {
  return seconds.map((s, i) => ({
    batches: i + 1,
    instances: i + 1,
    waves: 1,
    batch_items: 1,
    seconds: s
  }));
}

describe('plotLayout', () => {
  const layout = plotLayout(rows(10, 5, 8), 300, 150);

  it('puts the first m at the left margin and the last at the right one', () => {
    expect(layout.points[0].x).toBe(PLOT_MARGIN.left);
    expect(layout.points[2].x).toBe(300 - PLOT_MARGIN.right);
  });

  it.each([
    [10, PLOT_MARGIN.top],
    [0, 150 - PLOT_MARGIN.bottom],
    [5, PLOT_MARGIN.top + (150 - PLOT_MARGIN.top - PLOT_MARGIN.bottom) / 2]
  ])('draws %p s at y = %p (time from 0 upwards)', (s, y) => {
    expect(layout.y(s)).toBeCloseTo(y);
  });

  it('centres a single row', () => {
    const one = plotLayout(rows(3), 100, 100);
    expect(one.points[0].x).toBe(
      PLOT_MARGIN.left + (100 - PLOT_MARGIN.left - PLOT_MARGIN.right) / 2
    );
  });
});

describe('xTicks', () => {
  it.each([
    [1, 1, [1]],
    [1, 5, [1, 2, 3, 4, 5]],
    [1, 28, [1, 8, 15, 22, 28]],
    [1, 200, [1, 51, 101, 151, 200]]
  ])('from %p to %p gives %p', (first, last, ticks) => {
    expect(xTicks(first, last)).toEqual(ticks);
  });
});

describe('replaceAssignment', () => {
  it.each([
    ['param_m = 5', 1, 'param_m = 12'],
    ['x = 1\nparam_m=5  # batches', 2, 'x = 1\nparam_m=12  # batches'],
    ['param_m: int = 5', 1, 'param_m: int = 12']
  ])('in %p (line %p) writes %p', (source, line, expected) => {
    expect(replaceAssignment(source, 'param_m', line, 12)).toBe(expected);
  });

  it.each([
    ['param_m = n * 2', 1],
    ['param_mm = 5', 1],
    ['param_m = 5', 2]
  ])(
    'leaves %p (line %p) alone: not a whole number assigned there',
    (source, line) => {
      expect(replaceAssignment(source, 'param_m', line, 12)).toBeNull();
    }
  );
});

describe('batchCountEdit', () => {
  const spec = {
    parameters: [
      {
        name: 'param_m',
        default: 5,
        type: 'int',
        cell_index: 0,
        cell_id: null,
        line: 2
      }
    ],
    steps: [
      {
        id: 'split',
        role: 'splitter',
        cells: [{ index: 3, id: null, title: 'split', source: '' }]
      }
    ]
  } as unknown as ISpec;
  const sources: Record<number, string> = { 0: 'n = 10\nparam_m = 5\n' };

  it('edits the header line of a batch-count parameter', () => {
    expect(
      batchCountEdit(
        spec,
        { parameter: 'param_m', default: 5 },
        'split',
        3,
        i => sources[i]
      )
    ).toEqual({
      kind: 'parameter',
      name: 'param_m',
      cellIndex: 0,
      source: 'n = 10\nparam_m = 3\n'
    });
  });

  it('edits the splitter tag of a literal batch count', () => {
    expect(batchCountEdit(spec, { value: 5 }, 'split', 3, () => null)).toEqual({
      kind: 'tag',
      cellIndex: 3
    });
  });

  it('writes nothing when the line changed since the spec', () => {
    expect(
      batchCountEdit(
        spec,
        { parameter: 'param_m', default: 5 },
        'split',
        3,
        () => 'param_m = f()'
      )
    ).toBeNull();
  });
});

describe('the start cost s', () => {
  it.each([
    ['last cluster run nb-x7k2p', { kind: 'cluster', run: 'nb-x7k2p' }],
    ['your settings', { kind: 'settings' }],
    ['default', { kind: 'default' }],
    ['given', { kind: 'given' }]
  ])('names where %p comes from', (source, origin) => {
    expect(startCostOrigin(source)).toEqual(origin);
  });

  it('sends a typed value as given, so it wins over the cluster run', () => {
    expect(startCostRequest(' 2.5 ', 10)).toEqual({
      startCost: 2.5,
      settingsStartCost: 10
    });
  });

  it('sends the setting apart when the field is empty: a cluster run wins over it', () => {
    expect(startCostRequest('', 10)).toEqual({
      startCost: null,
      settingsStartCost: 10
    });
    expect(startCostRequest('  ', null)).toEqual({
      startCost: null,
      settingsStartCost: null
    });
  });
});
