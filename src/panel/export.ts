/**
 * The panel's export formats and the options each sends to `POST export` (pure, for Jest).
 */

/** What the panel exports: an Argo workflow, a CWL workflow (with its job file), the spec. */
export type ExportFormat = 'argo' | 'cwl' | 'json';

/**
 * The options a format takes: all of them for Argo; the image only for CWL (parallelism and
 * retries belong to the CWL engine's command line, docs/cwl.md); none for the spec.
 */
export function exportOptionsFor(
  format: ExportFormat,
  options: Record<string, unknown>
): Record<string, unknown> {
  if (format === 'argo') {
    return options;
  }
  if (format === 'cwl' && options.image !== undefined) {
    return { image: options.image };
  }
  return {};
}
