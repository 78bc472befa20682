/**
 * The Argo hygiene options of the panel's *Advanced* export section (pure, for Jest): what the
 * user typed, the `POST export` options it becomes, and its copy in the notebook's metadata.
 * The server checks the values (`POST export-options`, the same check as `POST export` and the
 * CLI); nothing here decides whether a value is valid.
 */

/** The options of the section, by their REST names (`docs/rest-api.md#post-export`). */
export const ADVANCED_FIELDS = [
  'parallelism',
  'retries',
  'podGC',
  'ttlAfterSuccess',
  'ttlAfterFailure',
  'activeDeadlineSeconds',
  'retryBackoff'
] as const;

export type AdvancedField = (typeof ADVANCED_FIELDS)[number];

/**
 * Options that are whole numbers; empty means "leave it out of the workflow" (null): no
 * parallelism limit, keep the workflow, no deadline.
 */
const NUMBERS: ReadonlySet<AdvancedField> = new Set<AdvancedField>([
  'parallelism',
  'ttlAfterSuccess',
  'ttlAfterFailure',
  'activeDeadlineSeconds'
]);

/** The texts of the settings `exportParallelism` and `exportRetries` (user values only). */
export function legacyTexts(
  parallelism: unknown,
  retries: unknown
): Partial<Record<'parallelism' | 'retries', string>> {
  const texts: Partial<Record<'parallelism' | 'retries', string>> = {};
  if (typeof parallelism === 'number') {
    texts.parallelism = String(parallelism);
  } else if (parallelism === null) {
    texts.parallelism = '';
  }
  if (typeof retries === 'number') {
    texts.retries = String(retries);
  }
  return texts;
}

/** The texts of the fields the user set; a field not in it takes the default. */
export type AdvancedTexts = Partial<Record<AdvancedField, string>>;

/** The notebook metadata key the extension keeps its own settings under. */
export const METADATA_KEY = 'naavre-batch';

/**
 * The options `POST export` takes for the set fields: numbers as numbers (text that is not a
 * number is sent as it is, so the server names the field), an empty parallelism, seconds or pod
 * GC field as null ("leave it out": no limit, keep pods, keep the workflow, no deadline), an
 * empty retries field left out (the default).
 */
export function advancedRequest(texts: AdvancedTexts): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const field of ADVANCED_FIELDS) {
    const text = texts[field];
    if (text === undefined) {
      continue;
    }
    const trimmed = text.trim();
    if (NUMBERS.has(field)) {
      const n = Number(trimmed);
      options[field] = trimmed === '' ? null : !isNaN(n) ? n : trimmed;
    } else if (field === 'retries') {
      // empty: the default (no retries); text that is not a number goes to the server's check
      if (trimmed !== '') {
        options[field] = !isNaN(Number(trimmed)) ? Number(trimmed) : trimmed;
      }
    } else if (field === 'podGC') {
      options[field] = trimmed === '' ? null : trimmed;
    } else {
      options[field] = trimmed;
    }
  }
  return options;
}

/** The texts of saved options (notebook metadata, settings): numbers as text, null as empty. */
export function advancedTexts(saved: unknown): AdvancedTexts {
  const texts: AdvancedTexts = {};
  if (!saved || typeof saved !== 'object' || Array.isArray(saved)) {
    return texts;
  }
  const record = saved as Record<string, unknown>;
  for (const field of ADVANCED_FIELDS) {
    if (!(field in record)) {
      continue;
    }
    const value = record[field];
    if (value === null) {
      texts[field] = '';
    } else if (typeof value === 'number' || typeof value === 'string') {
      texts[field] = String(value);
    }
  }
  return texts;
}

/**
 * The notebook's metadata entry with the export options replaced, every other key of the entry
 * kept (the metadata round-trips: nothing the user or another tool wrote is lost).
 */
export function withExportOptions(
  entry: unknown,
  options: Record<string, unknown>
): Record<string, unknown> {
  const base =
    entry && typeof entry === 'object' && !Array.isArray(entry)
      ? { ...(entry as Record<string, unknown>) }
      : {};
  if (Object.keys(options).length) {
    base.export = options;
  } else {
    delete base.export;
  }
  return base;
}

/** The export options saved in the notebook's metadata entry, or undefined. */
export function exportOptionsOf(entry: unknown): unknown {
  return entry && typeof entry === 'object' && !Array.isArray(entry)
    ? (entry as Record<string, unknown>).export
    : undefined;
}
