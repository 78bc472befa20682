/**
 * Pure logic of the panel's cluster runs: the view of `GET /naavre-batch-ext/cluster-runs/<name>`
 * (naavre_batch_ext/engines/cluster.py, `run_status`) and the step states the graph and the cell badges
 * show. No JupyterLab import, so Jest checks it.
 */
import { IStepState } from '../tokens';
import { RunInstances } from './graph';

/** One processor instance (one batch) of a cluster run. */
export interface IClusterInstance {
  index: number;
  state: string;
  phase: string;
  message: string;
  seconds: number | null;
  /** Item range of the batch, half-open, from the one split rule; null when not known yet. */
  start: number | null;
  stop: number | null;
  podName: string;
  /** Kept by an Argo retry (succeeded before it), not run again. */
  reused: boolean;
}

export interface IInstanceCounts {
  total: number;
  done: number;
  running: number;
  failed: number;
  pending: number;
  /** Batches an Argo retry kept (succeeded before the retry); the others ran again. */
  reused: number;
  items: IClusterInstance[];
}

/** One task of the workflow (a step, or a fused processor chain) and the steps it runs. */
export interface IClusterStep {
  task: string;
  kind: string;
  steps: string[];
  cells: number[];
  state: string;
  phase: string;
  message: string;
  seconds: number | null;
  podName: string | null;
  instances: IInstanceCounts | null;
  /** A merger's printed output as the run's status stores it (it outlives the pod), or null. */
  output: IStoredOutput | null;
}

/** What a merger printed, the end of it: `cutBytes` bytes before `text` were cut (0: none). */
export interface IStoredOutput {
  text: string;
  cutBytes: number;
}

/** Something that failed: a batch (with its index and items) or a whole step. */
export interface IClusterFailure {
  task: string;
  steps: string[];
  cells: number[];
  index: number | null;
  start: number | null;
  stop: number | null;
  podName: string;
  message: string;
}

/** A cluster run, as the list (`GET cluster-runs?path=`) or the status shows it. */
export interface IClusterRun {
  name: string;
  namespace: string;
  phase: string;
  state: string;
  finished: boolean;
  message: string;
  progress: string;
  seconds: number | null;
  created: string | null;
  parameters: Record<string, string>;
  steps: IClusterStep[];
  failures: IClusterFailure[];
}

/** The `GET cluster-runs/<name>/log` answer. */
export interface IClusterLog {
  name: string;
  podName: string;
  text: string;
  task: string;
  steps: string[];
  cells: number[];
  index: number | null;
  start: number | null;
  stop: number | null;
  state: string;
  step: string | null;
  cell_index: number | null;
  line: number | null;
  /** Why the log is empty (e.g. the pod was deleted by pod GC), or null. */
  missing: string | null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function str(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : fallback;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function numbers(value: unknown): number[] {
  return Array.isArray(value)
    ? value.filter(v => typeof v === 'number').map(Number)
    : [];
}

/** Parse a run summary or status; missing fields are tolerated (a list has no steps). */
export function parseClusterRun(data: any): IClusterRun {
  const d = data ?? {};
  const steps: IClusterStep[] = (Array.isArray(d.steps) ? d.steps : []).map(
    (s: any) => {
      const inst = s.instances;
      return {
        task: str(s.task),
        kind: str(s.kind),
        steps: strings(s.steps),
        cells: numbers(s.cells),
        state: str(s.state, 'pending'),
        phase: str(s.phase, 'Pending'),
        message: str(s.message),
        seconds: num(s.seconds),
        podName: typeof s.podName === 'string' ? s.podName : null,
        output:
          s.output && typeof s.output.text === 'string'
            ? { text: s.output.text, cutBytes: num(s.output.cutBytes) ?? 0 }
            : null,
        instances: inst
          ? {
              total: num(inst.total) ?? 0,
              done: num(inst.done) ?? 0,
              running: num(inst.running) ?? 0,
              failed: num(inst.failed) ?? 0,
              pending: num(inst.pending) ?? 0,
              reused: num(inst.reused) ?? 0,
              items: (Array.isArray(inst.items) ? inst.items : []).map(
                (i: any) => ({
                  index: num(i.index) ?? 0,
                  state: str(i.state, 'pending'),
                  phase: str(i.phase, 'Pending'),
                  message: str(i.message),
                  seconds: num(i.seconds),
                  start: num(i.start),
                  stop: num(i.stop),
                  podName: str(i.podName),
                  reused: i.reused === true
                })
              )
            }
          : null
      };
    }
  );
  const failures: IClusterFailure[] = (
    Array.isArray(d.failures) ? d.failures : []
  ).map((f: any) => ({
    task: str(f.task),
    steps: strings(f.steps),
    cells: numbers(f.cells),
    index: num(f.index),
    start: num(f.start),
    stop: num(f.stop),
    podName: str(f.podName),
    message: str(f.message)
  }));
  const parameters: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.parameters ?? {})) {
    parameters[k] = String(v);
  }
  return {
    name: str(d.name),
    namespace: str(d.namespace),
    phase: str(d.phase, 'Pending'),
    state: str(d.state, 'pending'),
    finished: d.finished === true,
    message: str(d.message),
    progress: str(d.progress),
    seconds: num(d.seconds),
    created: typeof d.created === 'string' ? d.created : null,
    parameters,
    steps,
    failures
  };
}

/** The translation function the texts below use (a JupyterLab `TranslationBundle` fits). */
export interface IWords {
  __(msgid: string, ...args: any[]): string;
}

/** A stored output as the panel shows it: a first line says when its start was cut. */
export function storedOutputText(
  output: IStoredOutput,
  words: IWords = ENGLISH
): string {
  if (output.cutBytes <= 0) {
    return output.text;
  }
  return (
    words.__(
      '[the first %1 bytes are cut; the whole output is in the pod’s log]',
      output.cutBytes
    ) +
    '\n' +
    output.text
  );
}

/** English, for tests and callers without a translator: `%1`... replaced by the arguments. */
export const ENGLISH: IWords = {
  __: (msgid: string, ...args: any[]) =>
    msgid.replace(/%(\d+)/g, (_, i) => String(args[Number(i) - 1]))
};

/** A state as the panel words it (the local runs' words: `waiting`, `done`...). */
export function stateWord(state: string, words: IWords = ENGLISH): string {
  switch (state) {
    case 'pending':
      return words.__('waiting');
    case 'running':
      return words.__('running');
    case 'succeeded':
      return words.__('done');
    case 'failed':
      return words.__('failed');
    case 'skipped':
      return words.__('skipped');
    default:
      return state;
  }
}

/** `3/5 done · 2 running · 1 failed`. */
export function countsText(
  inst: IInstanceCounts,
  words: IWords = ENGLISH
): string {
  const parts = [words.__('%1/%2 done', inst.done, inst.total)];
  if (inst.running) {
    parts.push(words.__('%1 running', inst.running));
  }
  if (inst.failed) {
    parts.push(words.__('%1 failed', inst.failed));
  }
  return parts.join(' · ');
}

/** The items of a batch as the user counts them: `items 18–22`, or `no items`. */
export function itemRangeText(
  start: number | null,
  stop: number | null
): string {
  if (start === null || stop === null) {
    return '';
  }
  if (stop <= start) {
    return 'no items';
  }
  return stop - start === 1 ? `item ${start}` : `items ${start}–${stop - 1}`;
}

/**
 * The state of every step of the notebook in a cluster run, by step id: every step of a task
 * gets the task's state; a processor chain's text counts its batches.
 */
export function stepStatesOf(
  run: IClusterRun,
  words: IWords = ENGLISH
): Record<string, IStepState> {
  const states: Record<string, IStepState> = {};
  for (const step of run.steps) {
    const word = stateWord(step.state, words);
    const text = step.instances
      ? `${word} · ${countsText(step.instances, words)}`
      : word;
    for (const id of step.steps) {
      states[id] = { state: step.state, text };
    }
  }
  return states;
}

/** Processor instances by step id (the graph's "× m"), once the run fanned out. */
export function clusterInstances(run: IClusterRun): RunInstances {
  const counted: RunInstances = {};
  for (const step of run.steps) {
    if (step.instances && step.instances.total > 0) {
      for (const id of step.steps) {
        counted[id] = step.instances.total;
      }
    }
  }
  return counted;
}

/** Seconds as `42 s`, `3 min 5 s`. */
export function durationText(seconds: number | null): string {
  if (seconds === null) {
    return '';
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - m * 60);
  return m < 60 ? `${m} min ${s} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * The endpoint of "Debug in notebook" for a failed batch of a cluster run
 * (`GET cluster-runs/<name>/debug?path=&batch=&task=`), or null for a failed step that is not a
 * batch (only processor instances are loaded into the kernel).
 */
export function clusterDebugEndPoint(
  runName: string,
  path: string,
  failure: IClusterFailure
): string | null {
  if (failure.index === null) {
    return null;
  }
  const query = new URLSearchParams({
    path,
    batch: String(failure.index),
    task: failure.task
  });
  return `cluster-runs/${encodeURIComponent(runName)}/debug?${query.toString()}`;
}
