/**
 * Pure logic of the panel's Run and Export sections: parameter values typed by the user, and the
 * view of a run's status as the server reports it (`GET /naavre-batch-ext/runs/<id>`).
 * No JupyterLab import, so Jest checks it.
 */
import { IParameter } from '../spec';
import { RunInstances, runInstancesOf } from './graph';

/** A parameter value typed in the Run form: the parsed value or why it is not one. */
export type ParsedValue =
  { ok: true; value: unknown } | { ok: false; error: string };

/** The text a parameter's default shows in its input. */
export function formatParameter(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Parse the text of a parameter input by the parameter's type in the spec (`int`, `float`, `str`,
 * `bool`, `list`, `dict`, `null`), as the runner will receive it. Error texts are English and
 * short; the view shows them next to the input.
 */
export function parseParameter(type: string, text: string): ParsedValue {
  const trimmed = text.trim();
  switch (type) {
    case 'str':
      return { ok: true, value: text };
    case 'int':
      return /^[-+]?\d+$/.test(trimmed)
        ? { ok: true, value: Number.parseInt(trimmed, 10) }
        : { ok: false, error: 'an integer, e.g. 5' };
    case 'float': {
      const value = Number(trimmed);
      return trimmed !== '' && Number.isFinite(value)
        ? { ok: true, value }
        : { ok: false, error: 'a number, e.g. 0.5' };
    }
    case 'bool':
      if (/^(true|false)$/i.test(trimmed)) {
        return { ok: true, value: trimmed.toLowerCase() === 'true' };
      }
      return { ok: false, error: 'true or false' };
    default: {
      try {
        const value = JSON.parse(trimmed);
        const want =
          type === 'list'
            ? Array.isArray(value)
            : type === 'dict'
              ? value !== null &&
                typeof value === 'object' &&
                !Array.isArray(value)
              : true;
        return want
          ? { ok: true, value }
          : {
              ok: false,
              error: `a JSON ${type === 'list' ? 'list' : 'object'}`
            };
      } catch {
        return { ok: false, error: 'a JSON value' };
      }
    }
  }
}

/**
 * The `parameters` of `POST runs`: the edited values that differ from the notebook's defaults
 * (the runner uses the defaults for the rest), or the list of invalid fields.
 */
export function runParameters(
  parameters: IParameter[],
  texts: Record<string, string>
): { values: Record<string, unknown>; invalid: string[] } {
  const values: Record<string, unknown> = {};
  const invalid: string[] = [];
  for (const p of parameters) {
    const text = texts[p.name];
    if (text === undefined || text === formatParameter(p.default)) {
      continue;
    }
    const parsed = parseParameter(p.type, text);
    if (parsed.ok) {
      if (JSON.stringify(parsed.value) !== JSON.stringify(p.default)) {
        values[p.name] = parsed.value;
      }
    } else {
      invalid.push(p.name);
    }
  }
  return { values, invalid };
}

export type RunContext = 'notebook' | 'workflow' | 'both';

/** One task (step, processor chain, header) of one context, as the panel shows it. */
export interface ITaskProgress {
  task: string;
  kind: string;
  steps: string[];
  status: string;
  done: number;
  total: number;
  failed: number;
  /** Instances taken from the reuse store or the resumed run instead of run. */
  reused: number;
  seconds: number | null;
  /** The tqdm bars of its running instances (`instance-progress` events), by instance. */
  bars: { instance: number; n: number; total: number }[];
}

export interface IContextProgress {
  context: 'notebook' | 'workflow';
  status: string;
  seconds: number | null;
  tasks: ITaskProgress[];
}

export interface IRunFailure {
  context: string;
  step: string | null;
  cellIndex: number | null;
  line: number | null;
  message: string;
  where: string;
  /** Traceback and the instance's logs, when the server sent them. */
  logs: string;
  /** The workflow task and batch of a failed instance (for "Debug in notebook"). */
  task: string | null;
  batch: number | null;
}

/** The workflow context's reuse counts (`reuse` of its result; docs/running.md). */
export interface IReuseSummary {
  reused: number;
  ran: number;
  failed: number;
  resumedFrom: string | null;
}

export interface IDifference {
  /** `value` (a variable passed between steps) or `printed` (a cell's printed output). */
  kind: 'value' | 'printed';
  step: string;
  variable: string;
  /** Where the values first differ (`processed_batches[2][1]`), or `cell 8` for printed output. */
  path: string;
  notebook: unknown;
  workflow: unknown;
}

/**
 * A compared value as the panel shows it: JSON values as JSON, values JSON cannot show as the
 * server's summary (`{"naavre-preview": {type, summary, preview}}`), e.g.
 * `float64 array, shape (1000, 3)`. Cut at `limit` characters.
 */
export function showValue(value: unknown, limit = 80): string {
  let text: string | undefined;
  const preview =
    value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, any>)['naavre-preview']
      : undefined;
  if (preview && typeof preview === 'object') {
    const summary = String(preview.summary ?? preview.type ?? '');
    const shown = preview.preview ? ` ${String(preview.preview)}` : '';
    text = summary + shown;
  } else if (typeof value === 'string') {
    text = JSON.stringify(value);
  } else {
    text = JSON.stringify(value);
  }
  if (text === undefined) {
    text = String(value);
  }
  return text.length > limit ? text.slice(0, limit - 1) + '…' : text;
}

export interface IVerdict {
  same: boolean;
  compared: number;
  differences: IDifference[];
  notCompared: { step: string; variable: string; reason: string }[];
}

export interface IRunView {
  id: string;
  context: string;
  /** `queued`, `running`, then `succeeded`, `failed` or `cancelled` (or `error`: unreachable). */
  status: string;
  /** The runner's own verdict once over: `ok`, `failed`, `cancelled` or `different`. */
  outcome: string | null;
  finished: boolean;
  message: string | null;
  seconds: number | null;
  contexts: IContextProgress[];
  verdict: IVerdict | null;
  failures: IRunFailure[];
  /** Instances the workflow context counted per processor step (for the graph's "× m"). */
  instances: RunInstances;
  /** Reuse counts once the workflow context ended with reuse or resume, else null. */
  reuse: IReuseSummary | null;
  /** A finished run whose workflow context failed: "Re-run failed" resumes it. */
  canResume: boolean;
}

const FINISHED = new Set(['succeeded', 'failed', 'cancelled', 'error']);

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/**
 * The "Logs" text of a failed instance: the hint, the traceback, then the tails of the instance's
 * stdout and stderr under their names. A step script prints its traceback to stderr too, so that
 * copy is taken out of the stderr tail rather than shown twice.
 */
export function failureLogs(e: any): string {
  const traceback = str(e.traceback);
  let stderr = str(e.stderr);
  if (stderr && traceback) {
    stderr = stderr.replace(traceback.trim(), '').trim() || null;
  }
  const stdout = str(e.stdout)?.trim() || null;
  return [
    str(e.hint),
    traceback?.trimEnd(),
    stdout ? `--- stdout ---\n${stdout}` : null,
    stderr ? `--- stderr ---\n${stderr}` : null
  ]
    .filter(Boolean)
    .join('\n\n');
}

/**
 * The panel's view of `GET runs/<id>` (see `naavre_batch_ext/runs.py`, `Run.snapshot`): the
 * live progress per context and task, then the verdict, the failures with their cells, and the
 * instance counts the workflow context really ran. Missing fields are tolerated: a run that has
 * just been queued has almost none.
 */
export function parseRunStatus(status: any): IRunView {
  const s = status ?? {};
  const progress = (s.progress ?? {}) as Record<string, any>;
  const contexts: IContextProgress[] = [];
  for (const name of ['notebook', 'workflow'] as const) {
    const c = progress[name];
    if (!c) {
      continue;
    }
    const resultSteps: any[] = s.result?.[`${name}_run`]?.steps ?? [];
    const tasks: ITaskProgress[] = (c.tasks ?? []).map((t: any) => {
      const summary = resultSteps.find(r => r.task === t.task) ?? {};
      const total =
        num(t.instances) ??
        num(summary.instances) ??
        (t.status === 'pending' ? 0 : 1);
      return {
        task: String(t.task),
        kind: str(t.kind) ?? str(summary.kind) ?? '',
        steps: Array.isArray(summary.steps)
          ? summary.steps.map(String)
          : [String(t.task)],
        status: str(t.status) ?? 'pending',
        done: num(t.done) ?? 0,
        total,
        failed: num(t.failed) ?? 0,
        reused:
          num(t.reused) ??
          (Array.isArray(summary.reused) ? summary.reused.length : 0),
        seconds: num(t.seconds) ?? num(summary.wall_seconds),
        bars:
          t.status === 'running'
            ? Object.entries((t.instance_progress ?? {}) as Record<string, any>)
                .map(([instance, bar]) => ({
                  instance: Number(instance),
                  n: num(bar?.n) ?? 0,
                  total: num(bar?.total) ?? 0
                }))
                .filter(
                  bar =>
                    !(t.instance_status ?? []).some(
                      (i: any) => i.instance === bar.instance
                    )
                )
            : []
      };
    });
    contexts.push({
      context: name,
      status: str(c.status) ?? 'pending',
      seconds: num(c.seconds),
      tasks
    });
  }
  const cmp = s.comparison;
  const verdict: IVerdict | null = cmp
    ? {
        same: cmp.same === true,
        compared: num(cmp.compared) ?? 0,
        differences: (cmp.differences ?? []).map((d: any) =>
          d.kind === 'printed'
            ? {
                kind: 'printed' as const,
                step: String(d.step),
                variable: '',
                path: `cell ${d.cell_index}`,
                notebook: d.notebook,
                workflow: d.workflow
              }
            : {
                kind: 'value' as const,
                step: String(d.step),
                variable: String(d.variable),
                path: String(d.path ?? d.variable),
                notebook: d.notebook,
                workflow: d.workflow
              }
        ),
        notCompared: (cmp.not_compared ?? []).map((n: any) => ({
          step: String(n.step),
          variable: String(n.variable),
          reason: String(n.reason ?? '')
        }))
      }
    : null;
  const failures: IRunFailure[] = (s.errors ?? []).map((e: any) => ({
    context: str(e.context) ?? '',
    step: str(e.step),
    cellIndex: num(e.cell_index),
    line: num(e.line),
    message: str(e.message) ?? str(e.exception) ?? 'failed',
    where: str(e.where) ?? '',
    logs: failureLogs(e),
    task: str(e.task),
    batch: num(e.batch?.index)
  }));
  const workflowRun = s.result?.workflow_run;
  const reuse = workflowRun?.reuse;
  const reuseSummary: IReuseSummary | null =
    reuse && reuse.enabled
      ? {
          reused: num(reuse.reused) ?? 0,
          ran: num(reuse.ran) ?? 0,
          failed: num(reuse.failed) ?? 0,
          resumedFrom: str(reuse.resumed_from)
        }
      : null;
  // The workflow context's task summaries (once over), else its live task counts.
  const workflowSteps = s.result?.workflow_run?.steps;
  const instances = workflowSteps
    ? runInstancesOf(workflowSteps)
    : runInstancesOf(
        (progress.workflow?.tasks ?? [])
          .filter(
            (t: any) =>
              t.kind === 'processors' && typeof t.instances === 'number'
          )
          .map((t: any) => ({
            kind: 'processors',
            steps: taskSteps(s, t.task),
            instances: t.instances
          }))
      );
  const statusText = str(s.status) ?? 'queued';
  const finished = FINISHED.has(statusText);
  return {
    id: String(s.id ?? ''),
    context: str(s.context) ?? '',
    status: statusText,
    outcome: str(s.outcome),
    finished,
    message: str(s.cancel_reason) ?? null,
    seconds: num(s.seconds),
    contexts,
    verdict,
    failures,
    instances,
    reuse: reuseSummary,
    canResume:
      finished &&
      str(workflowRun?.status) === 'failed' &&
      typeof workflowRun?.run_id === 'string'
  };
}

/** The steps of a live workflow task: the processors of its section (task ids are step ids). */
function taskSteps(status: any, task: string): string[] {
  const planned: any[] = status.result?.workflow_run?.tasks ?? [];
  const found = planned.find(t => t.id === task);
  return found && Array.isArray(found.steps) ? found.steps.map(String) : [task];
}

/**
 * The verdict line of a finished run: `same`, `different`, or null when there is nothing to
 * compare (one context only, or a run that failed before the comparison).
 */
export function verdictOf(run: IRunView): 'same' | 'different' | null {
  if (!run.verdict) {
    return null;
  }
  return run.verdict.same ? 'same' : 'different';
}
