/// <reference types="node" />
/**
 * Where the badges put each cell (header, step start, step member) and which diagnostics they
 * show, from real specs of the seed notebook (seed-specs.json, written by make_seed_specs.py with
 * the server's own core) and from the tags alone before the server answers.
 */
import * as fs from 'fs';
import * as path from 'path';

import type { ISpec } from '../../spec';
import {
  batchLabel,
  cellLayout,
  cellPosition,
  ICellInfo,
  layoutFromSpec,
  layoutFromTags,
  parameterNames
} from '../layout';

interface ICase {
  cells: ICellInfo[];
  spec: ISpec;
}

const seeds: Record<'tagged' | 'untagged' | 'processorOnly', ICase> =
  JSON.parse(fs.readFileSync(path.join(__dirname, 'seed-specs.json'), 'utf-8'));

function places(layout: ReturnType<typeof layoutFromTags>): string[] {
  return layout.map(l => (l.role ? `${l.place}:${l.role}` : l.place));
}

describe('layout of the tagged seed notebook', () => {
  const { cells, spec } = seeds.tagged;
  // cells: 0-1 markdown, 2 parameters, 3 md, 4 splitter, 5 md, 6 processor, 7 joins it, 8 md, 9 merger
  const expected = [
    'none',
    'none',
    'header',
    'none',
    'start:splitter',
    'none',
    'start:processor',
    'member:processor',
    'none',
    'start:merger'
  ];

  it('from the spec: header, step starts and the cell that joins the processor', () => {
    expect(places(layoutFromSpec(cells, spec))).toEqual(expected);
  });

  it('from the tags alone gives the same places as the spec', () => {
    expect(places(layoutFromTags(cells))).toEqual(expected);
  });

  it('names the steps from the spec', () => {
    const layout = layoutFromSpec(cells, spec);
    expect(layout[6].stepId).toBe('process-batches');
    expect(layout[7].stepId).toBe('process-batches');
    expect(layoutFromTags(cells)[7].stepId).toBeNull();
  });

  it("shows the splitter's parameter batch count with its default", () => {
    expect(layoutFromSpec(cells, spec)[4].batch).toEqual({
      value: 5,
      parameter: 'param_max_batch_count'
    });
  });

  it('without the server, the parameter default is unknown', () => {
    expect(layoutFromTags(cells)[4].batch).toEqual({
      value: null,
      parameter: 'param_max_batch_count'
    });
  });

  it('with a stale spec, tags decide the places and the spec still gives the default', () => {
    const edited = cells.map((c, i) => (i === 9 ? { ...c, tags: [] } : c));
    const layout = cellLayout(edited, spec, false);
    expect(layout[9].place).toBe('member');
    expect(layout[9].role).toBe('processor');
    expect(layout[4].batch).toEqual({
      value: 5,
      parameter: 'param_max_batch_count'
    });
  });

  it('lists the parameters for the batch count choices', () => {
    expect(parameterNames(spec)).toEqual([
      'param_item_count',
      'param_max_batch_count'
    ]);
    expect(parameterNames(null)).toEqual([]);
  });
});

describe('an untagged notebook', () => {
  const { cells, spec } = seeds.untagged;

  it('marks no cell, not even as header, from the spec', () => {
    expect(places(layoutFromSpec(cells, spec)).every(p => p === 'none')).toBe(
      true
    );
  });

  it('marks no cell from the tags', () => {
    expect(places(layoutFromTags(cells)).every(p => p === 'none')).toBe(true);
  });

  it('leaves the notebook-wide "no steps" diagnostic to the panel', () => {
    expect(spec.diagnostics.map(d => d.code)).toContain('no-steps');
    expect(layoutFromSpec(cells, spec).flatMap(l => l.diagnostics)).toEqual([]);
  });
});

describe('a processor without a splitter', () => {
  const { cells, spec } = seeds.processorOnly;

  it('shows the server diagnostic on the processor cell', () => {
    const layout = layoutFromSpec(cells, spec);
    expect(layout[6].diagnostics.map(d => d.code)).toEqual([
      'processor-outside-section'
    ]);
    expect(layout[6].diagnostics[0].hint).toMatch(/splitter/);
  });

  it('finds a diagnostic by cell id when cells were inserted above since the spec', () => {
    const shifted = [{ id: 'new', type: 'code', tags: [] }, ...cells];
    const layout = cellLayout(shifted, spec, false);
    expect(layout[7].diagnostics.map(d => d.code)).toEqual([
      'processor-outside-section'
    ]);
  });
});

describe('tag problems before the server answers', () => {
  it('become diagnostics on their cell at line 1', () => {
    const cells: ICellInfo[] = [
      { id: 'a', type: 'code', tags: ['naavre:splitter'] },
      { id: 'b', type: 'code', tags: ['naavre:Merger'] }
    ];
    const layout = cellLayout(cells, null, false);
    expect(layout[0].diagnostics.map(d => d.code)).toEqual([
      'missing-batch-count'
    ]);
    expect(layout[1].diagnostics.map(d => d.code)).toEqual(['unknown-tag']);
    expect(layout[1].diagnostics[0]).toMatchObject({
      cell_index: 1,
      cell_id: 'b',
      line: 1
    });
  });

  it('a role tag on a markdown cell starts no step', () => {
    const cells: ICellInfo[] = [
      { id: 'a', type: 'markdown', tags: ['naavre:processor'] },
      { id: 'b', type: 'code', tags: [] }
    ];
    expect(places(layoutFromTags(cells))).toEqual(['none', 'none']);
  });
});

describe('helpers', () => {
  it('finds a cell by id first, then by index', () => {
    const cells: ICellInfo[] = [
      { id: 'x', type: 'code', tags: [] },
      { id: 'y', type: 'code', tags: [] }
    ];
    expect(cellPosition(cells, 'y', 0)).toBe(1);
    expect(cellPosition(cells, 'gone', 0)).toBe(0);
    expect(cellPosition(cells, null, 5)).toBeNull();
  });

  it.each([
    [5, [], { value: 5, parameter: null }],
    [{ value: 3 }, [], { value: 3, parameter: null }],
    [
      { parameter: 'param_n', default: 8 },
      [],
      { value: 8, parameter: 'param_n' }
    ],
    [
      'param_n',
      [{ name: 'param_n', default: 4 }],
      { value: 4, parameter: 'param_n' }
    ],
    ['param_n', [], { value: null, parameter: 'param_n' }],
    [null, [], null]
  ])('batchLabel(%p)', (count, parameters, expected) => {
    expect(batchLabel(count as any, parameters as any)).toEqual(expected);
  });
});
