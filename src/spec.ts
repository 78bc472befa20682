/**
 * TypeScript view of the workflow spec (`apiVersion: naavre-batch/v1`) that the server's
 * `POST /naavre-batch-ext/spec` returns. The schema is `naavre_batch_ext/core/schemas/spec.schema.json`
 * and `docs/spec.md`; the front-end never analyses Python itself.
 */

export type Role = 'splitter' | 'processor' | 'merger';

export type Severity = 'error' | 'warning';

export type EdgeKind = 'data' | 'split' | 'broadcast' | 'merge';

/** A batch count: a number, or a workflow parameter with its default. */
export type BatchCount =
  { value: number } | { parameter: string; default: number | null };

export interface ICellRef {
  /** Position in the notebook's cell list, from 0, markdown included. */
  index: number;
  id: string | null;
  title: string;
  source: string;
}

export interface IParameter {
  name: string;
  default: unknown;
  type: string;
  cell_index: number;
  cell_id: string | null;
  line: number;
}

export interface IStep {
  id: string;
  role: Role;
  title: string;
  cells: ICellRef[];
  section: number | null;
  inputs: string[];
  outputs: string[];
  batch_count: BatchCount | null;
  split_variable: string | null;
  imports: string[];
  /** `naavre:no-reuse` on one of its cells (or the header's): a run with reuse always runs it. */
  no_reuse?: boolean;
}

export interface ISection {
  index: number;
  splitter: string;
  processors: string[];
  merger: string;
  split_variable: string | null;
  batch_count: BatchCount | null;
  broadcast: string[];
  merged: string[];
}

export interface IEdge {
  from: string;
  to: string;
  variables: string[];
  kind: EdgeKind;
}

export interface IDiagnostic {
  severity: Severity;
  code: string;
  message: string;
  hint: string;
  cell_index: number | null;
  cell_id: string | null;
  line: number | null;
  column: number | null;
}

export interface ISpec {
  apiVersion: string;
  notebook: { name: string; path: string; kernel: string; language: string };
  parameters: IParameter[];
  header: { cells: ICellRef[]; names: string[]; imports?: string[] };
  steps: IStep[];
  sections: ISection[];
  edges: IEdge[];
  diagnostics: IDiagnostic[];
  summary: { errors: number; warnings: number };
}
