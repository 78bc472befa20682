/**
 * The `naavre:` cell-tag grammar, mirrored from `naavre_batch_ext/core/tags.py` (docs/tags.md).
 *
 * The server's spec is the analyser; this copy exists so that a tag change shows on the cell at
 * once (before the server answers) and so that the toolbar and commands write exactly the tags the
 * Python side reads. Both are checked on the same fixture, `tests/fixtures/tags.json`. No
 * JupyterLab import here: this file is pure and tested with Jest.
 */

import type { Role } from '../spec';

/** The prefix of every tag of the grammar. */
export const PREFIX = 'naavre:';

/** The three roles, in section order. */
export const ROLES: readonly Role[] = ['splitter', 'processor', 'merger'];

const BATCH_COUNT = 'batch-count';
const SPLIT = 'split';
/** `naavre:no-reuse`: the cell's step always runs, a run with reuse never takes it from the store. */
export const NO_REUSE = 'no-reuse';

/** Python's `[+-]?[0-9]+` full match, what `int()` accepts in the grammar. */
const INT_RE = /^[+-]?[0-9]+$/;

/**
 * Python's `str.isidentifier()`: XID_Start (or `_`) then XID_Continue characters. Unicode
 * property escapes approximate the XID sets closely enough for names people write.
 */
const IDENTIFIER_RE = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u;

/** Python's `keyword.kwlist` (3.11), which `isidentifier()` accepts but names cannot be. */
const PYTHON_KEYWORDS = new Set([
  'False',
  'None',
  'True',
  'and',
  'as',
  'assert',
  'async',
  'await',
  'break',
  'class',
  'continue',
  'def',
  'del',
  'elif',
  'else',
  'except',
  'finally',
  'for',
  'from',
  'global',
  'if',
  'import',
  'in',
  'is',
  'lambda',
  'nonlocal',
  'not',
  'or',
  'pass',
  'raise',
  'return',
  'try',
  'while',
  'with',
  'yield'
]);

/** A batch count as tags hold it: an integer, or the name of a workflow parameter. */
export type TagBatchCount = number | string;

/** One thing wrong with a cell's `naavre:` tags (the server reports the same, located). */
export interface ITagProblem {
  code: string;
  severity: 'error' | 'warning';
  message: string;
  hint: string;
}

/** What a cell's tags say; the shape of `tests/fixtures/tags.json` plus the problems' texts. */
export interface IAnnotation {
  role: Role | null;
  /** An integer for `naavre:batch-count:5`, the parameter name for `:param_x`, else null. */
  batchCount: TagBatchCount | null;
  split: string | null;
  /** `naavre:no-reuse`: the step holding the cell always runs (docs/tags.md). */
  noReuse: boolean;
  problems: ITagProblem[];
}

/** Whether `text` is a Python name (identifier and not a keyword). */
export function isPythonName(text: string): boolean {
  return IDENTIFIER_RE.test(text) && !PYTHON_KEYWORDS.has(text);
}

/** Python's `str.strip()` for the whitespace names and numbers can carry. */
function strip(text: string): string {
  return text.trim();
}

/** Whether a value is a tag string of this grammar (`naavre:` in any case). */
function isNaavreTag(tag: unknown): tag is string {
  return typeof tag === 'string' && tag.toLowerCase().startsWith(PREFIX);
}

/** The tags that belong to the grammar, in their order. */
export function naavreTags(tags: readonly unknown[]): string[] {
  return tags.filter(isNaavreTag);
}

function problem(code: string, message: string, hint: string): ITagProblem {
  return { code, severity: 'error', message, hint };
}

function unique<T>(values: T[]): T[] {
  return values.filter((value, index) => values.indexOf(value) === index);
}

/**
 * Read a cell's tag list. Other tags are ignored and nothing throws; problems come back in the
 * order the Python parser reports them.
 */
export function parseTags(
  tags: readonly unknown[] | null | undefined
): IAnnotation {
  const ann: IAnnotation = {
    role: null,
    batchCount: null,
    split: null,
    noReuse: false,
    problems: []
  };
  const roles: Role[] = [];
  const counts: string[] = [];
  const splits: string[] = [];
  for (const tag of naavreTags(Array.isArray(tags) ? tags : [])) {
    const body = tag.slice(PREFIX.length);
    if (!tag.startsWith(PREFIX)) {
      ann.problems.push(
        problem(
          'unknown-tag',
          `unknown tag '${tag}'`,
          `naavre: tags are lower case: write '${PREFIX}${body.toLowerCase()}'`
        )
      );
      continue;
    }
    if ((ROLES as readonly string[]).includes(body)) {
      roles.push(body as Role);
    } else if (body.startsWith(`${BATCH_COUNT}:`)) {
      counts.push(body.slice(BATCH_COUNT.length + 1));
    } else if (body.startsWith(`${SPLIT}:`)) {
      splits.push(body.slice(SPLIT.length + 1));
    } else if (body === NO_REUSE) {
      ann.noReuse = true;
    } else {
      ann.problems.push(
        problem(
          'unknown-tag',
          `unknown tag '${tag}'`,
          'use naavre:splitter, naavre:processor, naavre:merger, ' +
            'naavre:batch-count:<N or param_name>, naavre:split:<variable> ' +
            'or naavre:no-reuse'
        )
      );
    }
  }

  const distinctRoles = unique(roles);
  if (distinctRoles.length > 1) {
    ann.problems.push(
      problem(
        'several-roles',
        'cell has several roles: ' +
          distinctRoles.map(r => `naavre:${r}`).join(', '),
        'keep one role tag per cell; split the cell if it does two jobs'
      )
    );
  } else if (distinctRoles.length === 1) {
    ann.role = distinctRoles[0];
  }

  if (counts.length > 0) {
    if (unique(counts).length > 1) {
      ann.problems.push(
        problem(
          'several-batch-counts',
          'cell has several batch counts: ' + counts.join(', '),
          'keep one naavre:batch-count: tag'
        )
      );
    } else {
      const raw = strip(counts[0]);
      if (INT_RE.test(raw)) {
        const value = parseInt(raw, 10);
        if (value >= 1) {
          ann.batchCount = value;
        } else {
          ann.problems.push(
            problem(
              'bad-batch-count',
              `batch count must be at least 1, got ${value}`,
              'use naavre:batch-count:<N> with N >= 1, or name a param_ parameter'
            )
          );
        }
      } else if (isPythonName(raw)) {
        ann.batchCount = raw;
      } else {
        ann.problems.push(
          problem(
            'bad-batch-count',
            `batch count '${counts[0]}' is neither an integer nor a parameter name`,
            'use naavre:batch-count:<N> with N >= 1, or ' +
              'naavre:batch-count:param_<name> naming a header parameter'
          )
        );
      }
    }
    if (ann.role !== null && ann.role !== 'splitter') {
      ann.problems.push(
        problem(
          'batch-count-not-on-splitter',
          `naavre:batch-count on a ${ann.role}`,
          "only a splitter has a batch count: move the tag to the section's splitter"
        )
      );
      ann.batchCount = null;
    }
  }

  if (splits.length > 0) {
    if (unique(splits).length > 1) {
      ann.problems.push(
        problem(
          'several-split-variables',
          'cell names several split variables: ' + splits.join(', '),
          'keep one naavre:split: tag'
        )
      );
    } else if (isPythonName(strip(splits[0]))) {
      ann.split = strip(splits[0]);
    } else {
      ann.problems.push(
        problem(
          'bad-split-variable',
          `split variable '${splits[0]}' is not a Python name`,
          'write naavre:split:<variable> with the name of the list to split'
        )
      );
    }
    if (ann.role !== null && ann.role !== 'splitter') {
      ann.problems.push(
        problem(
          'split-not-on-splitter',
          `naavre:split on a ${ann.role}`,
          'only a splitter names a split variable: move the tag to the splitter'
        )
      );
      ann.split = null;
    }
  }

  if (ann.role === null) {
    if (
      (counts.length > 0 || splits.length > 0) &&
      distinctRoles.length === 0
    ) {
      ann.problems.push(
        problem(
          'option-without-role',
          'naavre:batch-count or naavre:split on a cell without a role',
          'add naavre:splitter to this cell, or remove the option tags'
        )
      );
    }
    ann.batchCount = null;
    ann.split = null;
  }

  if (ann.role === 'splitter' && counts.length === 0) {
    ann.problems.push(
      problem(
        'missing-batch-count',
        'splitter has no batch count',
        'add naavre:batch-count:<N> or naavre:batch-count:param_<name> to the cell'
      )
    );
  }
  return ann;
}

/**
 * Normalise a batch count typed by a user (`" 5 "`, `"param_n"`) to what a tag holds, or null
 * when the grammar rejects it (below 1, not an integer nor a name).
 */
export function normaliseBatchCount(
  value: TagBatchCount
): TagBatchCount | null {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 1 ? value : null;
  }
  const text = strip(value);
  if (INT_RE.test(text)) {
    const n = parseInt(text, 10);
    return n >= 1 ? n : null;
  }
  return isPythonName(text) ? text : null;
}

/** The error `setRole` throws for values the grammar rejects. */
export class TagValueError extends Error {}

function optionTags(tags: readonly string[], option: string): string[] {
  return tags.filter(t => t.startsWith(`${PREFIX}${option}:`));
}

/**
 * Return `tags` with the cell's role set, every other tag kept in order (Python's `set_role`).
 *
 * `role` null or `'none'` removes every `naavre:` tag. For a splitter, an undefined/null
 * `batchCount` keeps the existing `naavre:batch-count:` tag and an undefined/null `split` keeps the
 * existing `naavre:split:` tag, so changing one option does not lose the other; a
 * `naavre:no-reuse` tag stays when the role changes. Throws
 * `TagValueError` for a value the grammar rejects.
 */
export function setRole(
  tags: readonly unknown[] | null | undefined,
  role: Role | 'none' | null,
  batchCount?: TagBatchCount | null,
  split?: string | null
): unknown[] {
  const target = role === 'none' ? null : role;
  if (target !== null && !ROLES.includes(target)) {
    throw new TagValueError(
      `unknown role '${String(role)}': use one of ${ROLES.join(', ')} or none`
    );
  }
  const hasCount = batchCount !== undefined && batchCount !== null;
  const hasSplit = split !== undefined && split !== null;
  if (target !== 'splitter' && (hasCount || hasSplit)) {
    throw new TagValueError(
      'a batch count and a split variable only apply to a splitter'
    );
  }
  const existing = Array.isArray(tags) ? [...tags] : [];
  const ours = naavreTags(existing);
  const kept = existing.filter(
    t => !(typeof t === 'string' && ours.includes(t))
  );
  if (target === null) {
    return kept;
  }
  const added: string[] = [`${PREFIX}${target}`];
  if (target === 'splitter') {
    if (hasCount) {
      const normal = normaliseBatchCount(batchCount as TagBatchCount);
      if (normal === null || typeof batchCount === 'boolean') {
        throw new TagValueError(
          `batch count '${String(batchCount)}' must be an integer >= 1 or a parameter name`
        );
      }
      added.push(`${PREFIX}${BATCH_COUNT}:${normal}`);
    } else {
      added.push(...optionTags(ours, BATCH_COUNT).slice(0, 1));
    }
    if (hasSplit) {
      if (!isPythonName(split as string)) {
        throw new TagValueError(
          `split variable '${split}' is not a Python name`
        );
      }
      added.push(`${PREFIX}${SPLIT}:${split}`);
    } else {
      added.push(...optionTags(ours, SPLIT).slice(0, 1));
    }
  }
  if (ours.includes(`${PREFIX}${NO_REUSE}`)) {
    added.push(`${PREFIX}${NO_REUSE}`);
  }
  return [...kept, ...added];
}

/**
 * Return `tags` with `naavre:no-reuse` set or removed, every other tag kept in order: the
 * panel's "Always run" toggle.
 */
export function setNoReuse(
  tags: readonly unknown[] | null | undefined,
  on: boolean
): unknown[] {
  const tag = `${PREFIX}${NO_REUSE}`;
  const kept = (Array.isArray(tags) ? [...tags] : []).filter(t => t !== tag);
  return on ? [...kept, tag] : kept;
}

/** The batch count in the spec's JSON shape (without a parameter default), as the fixture has it. */
export function batchCountJSON(
  count: TagBatchCount | null
): { value: number } | { parameter: string } | null {
  if (typeof count === 'number') {
    return { value: count };
  }
  if (typeof count === 'string') {
    return { parameter: count };
  }
  return null;
}
