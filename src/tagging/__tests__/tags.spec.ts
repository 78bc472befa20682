/// <reference types="node" />
/**
 * The front-end copy of the `naavre:` grammar must read tags exactly as Python does: both are
 * driven by the same fixture, tests/fixtures/tags.json (tests/test_tags.py reads it too), so a
 * change on either side without the other breaks a test.
 */
import * as fs from 'fs';
import * as path from 'path';

import {
  batchCountJSON,
  isPythonName,
  normaliseBatchCount,
  parseTags,
  setNoReuse,
  setRole,
  TagValueError
} from '../tags';

interface IFixtureCase {
  name: string;
  tags: unknown[];
  expected: {
    role: string | null;
    batch_count: { value: number } | { parameter: string } | null;
    split: string | null;
    no_reuse: boolean;
    codes: string[];
  };
}

const FIXTURE = path.resolve(__dirname, '../../../tests/fixtures/tags.json');
const cases: IFixtureCase[] = JSON.parse(
  fs.readFileSync(FIXTURE, 'utf-8')
).cases;

describe('parseTags on the shared fixture', () => {
  it('has cases to check', () => {
    expect(cases.length).toBeGreaterThan(10);
  });

  it.each(cases.map(c => [c.name, c] as [string, IFixtureCase]))(
    '%s',
    (_, c) => {
      const ann = parseTags(c.tags);
      expect({
        role: ann.role,
        batch_count: batchCountJSON(ann.batchCount),
        split: ann.split,
        no_reuse: ann.noReuse,
        codes: ann.problems.map(p => p.code)
      }).toEqual(c.expected);
    }
  );

  it.each(
    cases.filter(c => c.expected.codes.length > 0).map(c => [c.name, c.tags])
  )('%s: every problem has a message and a hint', (_, tags) => {
    for (const p of parseTags(tags as unknown[]).problems) {
      expect(p.message.length).toBeGreaterThan(0);
      expect(p.hint.length).toBeGreaterThan(0);
    }
  });
});

describe('setRole writes what parseTags reads back', () => {
  it.each([
    ['splitter', 5, null, { value: 5 }],
    [
      'splitter',
      'param_max_batch_count',
      null,
      { parameter: 'param_max_batch_count' }
    ],
    ['splitter', ' 7 ', 'items', { value: 7 }],
    ['processor', null, null, null],
    ['merger', null, null, null]
  ] as const)(
    '%s with batch count %p and split %p',
    (role, count, split, expected) => {
      const tags = setRole(['keep-me'], role, count, split);
      const ann = parseTags(tags);
      expect(ann.role).toBe(role);
      expect(batchCountJSON(ann.batchCount)).toEqual(expected);
      expect(ann.split).toBe(split);
      expect(ann.problems).toEqual([]);
      expect(tags[0]).toBe('keep-me');
    }
  );

  it('keeps other tags in their order and adds its own at the end', () => {
    expect(setRole(['a', 'naavre:merger', 'b'], 'processor')).toEqual([
      'a',
      'b',
      'naavre:processor'
    ]);
  });

  it('keeps naavre:no-reuse when the role changes', () => {
    expect(setRole(['naavre:merger', 'naavre:no-reuse'], 'processor')).toEqual([
      'naavre:processor',
      'naavre:no-reuse'
    ]);
  });

  it('sets and removes naavre:no-reuse, other tags kept', () => {
    const on = setNoReuse(['a', 'naavre:processor'], true);
    expect(on).toEqual(['a', 'naavre:processor', 'naavre:no-reuse']);
    expect(parseTags(on).noReuse).toBe(true);
    expect(setNoReuse(on, false)).toEqual(['a', 'naavre:processor']);
  });

  it('removes every naavre: tag for none, also misspelt ones', () => {
    expect(
      setRole(
        ['x', 'naavre:splitter', 'NAAVRE:merger', 'naavre:batch-count:3', 'y'],
        'none'
      )
    ).toEqual(['x', 'y']);
    expect(setRole(['naavre:processor'], null)).toEqual([]);
  });

  it('keeps non-string tags untouched', () => {
    expect(setRole([3, 'naavre:merger'], 'processor')).toEqual([
      3,
      'naavre:processor'
    ]);
  });

  it('keeps an existing batch count and split variable when none is given', () => {
    const tags = setRole(
      ['naavre:splitter', 'naavre:batch-count:param_n', 'naavre:split:items'],
      'splitter'
    );
    expect(tags).toEqual([
      'naavre:splitter',
      'naavre:batch-count:param_n',
      'naavre:split:items'
    ]);
  });

  it('replaces the batch count but keeps the split variable', () => {
    const tags = setRole(
      ['naavre:splitter', 'naavre:batch-count:2', 'naavre:split:items'],
      'splitter',
      9
    );
    expect(tags).toEqual([
      'naavre:splitter',
      'naavre:batch-count:9',
      'naavre:split:items'
    ]);
  });

  it('drops the batch count when a splitter becomes a processor', () => {
    expect(
      setRole(['naavre:splitter', 'naavre:batch-count:2'], 'processor')
    ).toEqual(['naavre:processor']);
  });

  it('writes integers the way Python does (int(text))', () => {
    expect(setRole([], 'splitter', '+007')).toEqual([
      'naavre:splitter',
      'naavre:batch-count:7'
    ]);
  });

  it.each([0, -1, 1.5, '0', 'two words', 'for', '', '1e3'])(
    'rejects the batch count %p',
    count => {
      expect(() => setRole([], 'splitter', count as any)).toThrow(
        TagValueError
      );
    }
  );

  it('rejects a batch count on a processor', () => {
    expect(() => setRole([], 'processor', 3)).toThrow(TagValueError);
  });

  it('rejects a split variable that is not a Python name', () => {
    expect(() => setRole([], 'splitter', 3, 'my list')).toThrow(TagValueError);
  });

  it('rejects an unknown role', () => {
    expect(() => setRole([], 'reducer' as any)).toThrow(TagValueError);
  });
});

describe('Python names', () => {
  it.each([
    ['param_x', true],
    ['_private', true],
    ['données', true],
    ['x1', true],
    ['1x', false],
    ['class', false],
    ['None', false],
    ['a-b', false],
    ['', false]
  ])('%p is a name: %p', (text, expected) => {
    expect(isPythonName(text)).toBe(expected);
  });

  it('normalises a typed batch count', () => {
    expect(normaliseBatchCount(' 12 ')).toBe(12);
    expect(normaliseBatchCount('param_n ')).toBe('param_n');
    expect(normaliseBatchCount('0')).toBeNull();
    expect(normaliseBatchCount(2.5)).toBeNull();
  });
});
