/**
 * The workflow graph drawn by the panel, built from a spec and laid out by dagre.
 *
 * Pure logic (no JupyterLab, no DOM) so that Jest checks it: which nodes and edges a spec gives,
 * how many processor instances a section shows ("× m"), and where dagre puts everything. The
 * React view only draws the result.
 */
import { graphlib, layout as dagreLayout } from '@dagrejs/dagre';
import type { EdgeLabel, GraphLabel, NodeLabel } from '@dagrejs/dagre';

import {
  BatchCount,
  EdgeKind,
  IDiagnostic,
  IParameter,
  ISpec,
  Role
} from '../spec';
import type { IStepState } from '../tokens';

/** What a node stands for: the parameters, the header, or a step of a role. */
export type NodeKind = 'parameters' | 'header' | Role;

/** Edge kinds of the spec, plus the two the preview adds around the header. */
export type GraphEdgeKind = EdgeKind | 'parameter' | 'header';

/** How many processor instances a section runs, and where the number comes from. */
export interface IInstanceCount {
  /** The number, or null when the batch count is unknown (missing tag, bad default). */
  count: number | null;
  /** `value`: a number in the tag; `parameter`: a parameter's value; `run`: counted in a run. */
  source: 'value' | 'parameter' | 'run' | 'unknown';
  /** The parameter the count comes from, when it does. */
  parameter?: string;
}

export interface IGraphNode {
  /** `__parameters__`, `__header__`, or the step id. */
  id: string;
  kind: NodeKind;
  /** The node's title: the step title, or "Parameters" / "Header" (caller translates). */
  title: string;
  /** One line per cell (`cell 4: split: gen batches`) or per parameter (`param_x = 5`). */
  lines: string[];
  /** Cell indices (notebook positions, markdown included) the node stands for, in order. */
  cells: number[];
  /** For processors inside a section: the instance count, drawn as a stack "× m". */
  instances: IInstanceCount | null;
  /** The section index, for steps inside one. */
  section: number | null;
  /** The step's live state in a followed cluster run (its text is the node's last line). */
  state?: IStepState;
  /** `naavre:no-reuse` on the step (or the header): a run with reuse always runs it. */
  noReuse?: boolean;
  /**
   * The compact layout draws the role word (or "× m") on its own line under the title, so the
   * title has the box's whole width.
   */
  roleLine?: boolean;
  width: number;
  height: number;
  /** Centre, after layout. */
  x: number;
  y: number;
}

export interface IGraphEdge {
  from: string;
  to: string;
  kind: GraphEdgeKind;
  variables: string[];
  /** The label drawn on the edge: variables and kind, e.g. `batches (split)`. */
  label: string;
  /** The polyline dagre routed, after layout. */
  points: { x: number; y: number }[];
  /** Label centre, after layout. */
  labelX: number;
  labelY: number;
  labelWidth: number;
}

export interface IGraph {
  nodes: IGraphNode[];
  edges: IGraphEdge[];
  width: number;
  height: number;
}

export const PARAMETERS_NODE = '__parameters__';
export const HEADER_NODE = '__header__';

/** Rough text metrics of the SVG font, used where nothing can measure text (Jest, first paint). */
const CHAR_WIDTH = 7;
const LABEL_CHAR_WIDTH = 6;
/** Room kept right of a title for the role word or the "× m" (in rough metrics: 12 characters). */
const ROLE_ROOM = 12 * CHAR_WIDTH;
const LINE_HEIGHT = 16;
const TITLE_HEIGHT = 24;
/** Where a node's first text line sits below its top (the title's baseline). */
export const TITLE_BASELINE = 17;
const PADDING = 10;
const MAX_LINE_CHARS = 34;
const MAX_LINES = 6;
const MIN_WIDTH = 120;
/** The fewest characters of a title a compact box shows (before "…"). */
const MIN_TITLE_CHARS = 8;
/** Extra room a stacked processor needs for the cards drawn behind it. */
export const STACK_OFFSET = 6;
/**
 * How far the narrow side of a splitter's or merger's trapezoid is inset on each side: text is
 * moved in by this much and the box is this much wider on each side, so the slanted edges never
 * cross the title, the role word or the cell lines.
 */
export const SLANT = 12;

/** The horizontal inset of a node's text: the slant of the trapezoids, 0 for the rectangles. */
export function textInset(kind: IGraphNode['kind']): number {
  return kind === 'splitter' || kind === 'merger' ? SLANT : 0;
}

/**
 * How many processor instances a list of `n` items gives with `batchCount` batches: the same rule
 * as Python's `naavre_batch_ext.core.split.batch_instances(n, m)`: min(n, m) batches, and one (empty)
 * batch for an empty list. With `n` unknown (before a run) it is `m`.
 */
export function batchInstances(n: number | null, batchCount: number): number {
  if (!Number.isInteger(batchCount) || batchCount < 1) {
    throw new RangeError(
      `batch count must be an integer >= 1, got ${batchCount}`
    );
  }
  if (n === null) {
    return batchCount;
  }
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`item count must be an integer >= 0, got ${n}`);
  }
  return n === 0 ? 1 : Math.min(n, batchCount);
}

function isPositiveInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1;
}

/**
 * The batch count m of a splitter/section: the tag's number, or the parameter's value (an edited
 * run parameter first, then the parameter's default in the notebook). Null when unknown.
 */
export function resolveBatchCount(
  batchCount: BatchCount | null,
  parameters: IParameter[],
  values: Record<string, unknown> = {}
): IInstanceCount {
  if (!batchCount) {
    return { count: null, source: 'unknown' };
  }
  if ('value' in batchCount) {
    return isPositiveInt(batchCount.value)
      ? { count: batchCount.value, source: 'value' }
      : { count: null, source: 'unknown' };
  }
  const name = batchCount.parameter;
  const candidates = [
    values[name],
    parameters.find(p => p.name === name)?.default,
    batchCount.default
  ];
  const count = candidates.find(isPositiveInt) ?? null;
  return { count, source: 'parameter', parameter: name };
}

/** The "× m" text of a stack: `× 5`, `× ?` when unknown. */
export function instancesText(instances: IInstanceCount): string {
  return `× ${instances.count ?? '?'}`;
}

/** Instances counted by a run, per processor step id (from the run's task summaries). */
export type RunInstances = Record<string, number>;

function edgeLabel(variables: string[], kind: GraphEdgeKind): string {
  if (kind === 'parameter' || kind === 'header') {
    return variables.join(', ');
  }
  const names =
    variables.length > 3 ? [...variables.slice(0, 3), '…'] : variables;
  return `${names.join(', ')} (${kind})`;
}

/**
 * How wide texts of the graph are drawn, in SVG units (CSS pixels at zoom 1): node titles (the
 * theme's UI font size), the role word or "× m" right of a title, cell lines (code font) and
 * edge labels. The panel measures them in the page (`graphview.tsx`); `ROUGH_METRICS` guesses.
 */
export interface ITextMetrics {
  title(text: string): number;
  role(text: string): number;
  line(text: string): number;
  label(text: string): number;
}

/** Character-count metrics: enough to size boxes where the page cannot measure text. */
export const ROUGH_METRICS: ITextMetrics = {
  title: text => text.length * CHAR_WIDTH,
  role: () => ROLE_ROOM,
  line: text => text.length * CHAR_WIDTH,
  label: text => text.length * LABEL_CHAR_WIDTH
};

function clip(text: string): string {
  return text.length > MAX_LINE_CHARS
    ? text.slice(0, MAX_LINE_CHARS - 1) + '…'
    : text;
}

/** `text` cut (with "…") to at most `room` wide as `measure` draws it. */
export function clipTo(
  text: string,
  room: number,
  measure: (text: string) => number
): string {
  if (measure(text) <= room) {
    return text;
  }
  let keep = text.length - 1;
  while (keep > 1 && measure(text.slice(0, keep) + '…') > room) {
    keep--;
  }
  return text.slice(0, keep) + '…';
}

function sized(
  node: Omit<IGraphNode, 'width' | 'height' | 'x' | 'y'>,
  metrics: ITextMetrics,
  roleText: string,
  maxWidth?: number
): IGraphNode {
  // a run state is the last line, kept when the cell lines are cut
  let lines = (node.state ? node.lines.slice(0, -1) : node.lines).map(clip);
  if (lines.length > MAX_LINES) {
    lines = [
      ...lines.slice(0, MAX_LINES - 1),
      `+ ${lines.length - MAX_LINES + 1} …`
    ];
  }
  if (node.state) {
    lines.push(clip(node.state.text));
  }
  let title = clip(node.title);
  const stack = node.instances ? 2 * STACK_OFFSET : 0;
  const frame = 2 * PADDING + 2 * textInset(node.kind) + stack;
  // Room for the role word or the "× m" drawn right of the title (compact: under it).
  const role = metrics.role(roleText);
  const compact = maxWidth !== undefined;
  if (compact) {
    // Narrow panel: the text is cut to the room, never drawn smaller.
    const room = Math.max(maxWidth - frame, MIN_WIDTH - 2 * PADDING);
    // A title keeps its first MIN_TITLE_CHARS characters: a box cut narrower says nothing, so
    // the graph is rather too wide (and the panel says so) than unreadable.
    const least = metrics.title(title.slice(0, MIN_TITLE_CHARS) + '…');
    title = clipTo(title, Math.max(room, least), metrics.title);
    lines = lines.map(l => clipTo(l, room, metrics.line));
  }
  const longest = Math.max(
    compact
      ? Math.max(metrics.title(title), role)
      : metrics.title(title) + role,
    ...lines.map(l => metrics.line(l))
  );
  return {
    ...node,
    title,
    lines,
    ...(compact ? { roleLine: true } : {}),
    width:
      Math.max(MIN_WIDTH, Math.ceil(longest) + 2 * PADDING) +
      2 * textInset(node.kind) +
      stack,
    height:
      TITLE_HEIGHT +
      (lines.length + (compact ? 1 : 0)) * LINE_HEIGHT +
      PADDING +
      stack,
    x: 0,
    y: 0
  };
}

export interface IBuildOptions {
  /** Parameter values the user edited for a run (they change the resolved "× m"). */
  values?: Record<string, unknown>;
  /** Instances a finished or running workflow run counted, by processor step id. */
  runInstances?: RunInstances;
  /** Live step states of a followed cluster run, by step id. */
  runStates?: Record<string, IStepState>;
  /** Titles of the two fixed nodes, translated by the caller. */
  parametersTitle?: string;
  headerTitle?: string;
  /** Label of the header-to-steps edges, translated by the caller. */
  headerEdgeLabel?: string;
  /** How wide texts are drawn (default: `ROUGH_METRICS`). */
  metrics?: ITextMetrics;
  /**
   * The role word drawn right of a node's title, by kind, translated by the caller (its width is
   * kept free); a stack's "× m" takes its place.
   */
  roleWords?: Partial<Record<NodeKind, string>>;
  /**
   * The compact graph for a narrow panel: no box wider than this (texts cut with "…" at their
   * own size, never shrunk), and every splitter names its batch-count parameter on a line of its
   * box instead of an edge from the parameters node (that edge and its label would stand beside
   * the header, a second column). Laid out, the graph is then one column wide.
   */
  maxWidth?: number;
}

/**
 * The nodes and edges of a spec, not yet laid out: a parameters node, the header, one node per
 * step (processors of a section carry their instance count), the spec's edges labelled with their
 * variables and kind, plus dashed edges parameters -> header, parameters -> splitter (batch count)
 * and header -> the steps nothing else feeds.
 */
export function buildGraph(spec: ISpec, options: IBuildOptions = {}): IGraph {
  const metrics = options.metrics ?? ROUGH_METRICS;
  const compact = options.maxWidth !== undefined;
  const size = (node: Omit<IGraphNode, 'width' | 'height' | 'x' | 'y'>) =>
    sized(
      node,
      metrics,
      node.instances
        ? instancesText(node.instances)
        : (options.roleWords?.[node.kind] ?? node.kind),
      options.maxWidth
    );
  const nodes: IGraphNode[] = [];
  const edges: IGraphEdge[] = [];
  const edge = (
    from: string,
    to: string,
    kind: GraphEdgeKind,
    variables: string[],
    label?: string
  ) =>
    edges.push({
      from,
      to,
      kind,
      variables,
      label: label ?? edgeLabel(variables, kind),
      points: [],
      labelX: 0,
      labelY: 0,
      labelWidth: 0
    });

  if (spec.parameters.length > 0) {
    nodes.push(
      size({
        id: PARAMETERS_NODE,
        kind: 'parameters',
        title: options.parametersTitle ?? 'Parameters',
        lines: spec.parameters.map(
          p => `${p.name} = ${JSON.stringify(p.default)}`
        ),
        cells: [...new Set(spec.parameters.map(p => p.cell_index))],
        instances: null,
        section: null
      })
    );
  }
  const hasHeader = spec.header.cells.length > 0;
  if (hasHeader) {
    nodes.push(
      size({
        id: HEADER_NODE,
        kind: 'header',
        title: options.headerTitle ?? 'Header',
        lines: spec.header.cells.map(c => `cell ${c.index}: ${c.title}`),
        cells: spec.header.cells.map(c => c.index),
        instances: null,
        section: null
      })
    );
  }
  const sectionOf = new Map(spec.sections.map(s => [s.index, s]));
  const fed = new Set(spec.edges.map(e => e.to));
  const parameterNames = new Set(spec.parameters.map(p => p.name));
  /**
   * The batch-count parameter of a splitter that another step feeds, or null. Such a splitter gets
   * no edge from the parameters node (in a chain of sections every such edge would be as long as
   * the graph and dagre gives each its own column, so 20 sections were 20 columns wide): its box
   * names the parameter on a line instead.
   */
  const parameterLine = (step: ISpec['steps'][0]): string | null => {
    const bc = step.batch_count;
    return step.role === 'splitter' &&
      (compact || fed.has(step.id)) &&
      bc &&
      'parameter' in bc &&
      parameterNames.has(bc.parameter)
      ? `× ${bc.parameter}`
      : null;
  };
  for (const step of spec.steps) {
    let instances: IInstanceCount | null = null;
    const section =
      step.section === null ? undefined : sectionOf.get(step.section);
    if (step.role === 'processor' && section) {
      // A processor chain runs as one task named after its first processor.
      const counted =
        options.runInstances?.[step.id] ??
        options.runInstances?.[section.processors[0]];
      instances =
        counted !== undefined
          ? { count: counted, source: 'run' }
          : resolveBatchCount(
              section.batch_count,
              spec.parameters,
              options.values
            );
    }
    const state = options.runStates?.[step.id];
    nodes.push(
      size({
        id: step.id,
        kind: step.role,
        title: step.title || step.id,
        lines: [
          ...step.cells.map(c => `cell ${c.index}: ${c.title}`),
          ...(parameterLine(step) ? [parameterLine(step)!] : []),
          ...(state ? [state.text] : [])
        ],
        cells: step.cells.map(c => c.index),
        instances,
        section: step.section,
        ...(state ? { state } : {}),
        ...(step.no_reuse ? { noReuse: true } : {})
      })
    );
  }

  if (spec.parameters.length > 0 && hasHeader) {
    edge(PARAMETERS_NODE, HEADER_NODE, 'parameter', []);
  }
  if (hasHeader) {
    for (const step of spec.steps) {
      if (!fed.has(step.id)) {
        edge(HEADER_NODE, step.id, 'header', [], options.headerEdgeLabel ?? '');
      }
    }
  }
  if (spec.parameters.length > 0) {
    for (const step of spec.steps) {
      const bc = step.batch_count;
      if (step.role === 'splitter' && bc && 'parameter' in bc) {
        if (parameterNames.has(bc.parameter) && !compact && !fed.has(step.id)) {
          edge(PARAMETERS_NODE, step.id, 'parameter', [bc.parameter]);
        }
      }
    }
  }
  const known = new Set(nodes.map(n => n.id));
  for (const e of spec.edges) {
    if (known.has(e.from) && known.has(e.to)) {
      edge(e.from, e.to, e.kind, e.variables);
    }
  }
  return { nodes, edges, width: 0, height: 0 };
}

/**
 * Lay the graph out top to bottom with dagre (ranks follow the data flow, crossings minimised,
 * edge labels placed as nodes of their own so they never overlap boxes). Returns a new graph.
 */
export function layoutGraph(
  graph: IGraph,
  metrics: ITextMetrics = ROUGH_METRICS
): IGraph {
  const g = new graphlib.Graph<GraphLabel, NodeLabel, EdgeLabel>({
    multigraph: true
  });
  g.setGraph({
    rankdir: 'TB',
    nodesep: 30,
    ranksep: 36,
    edgesep: 12,
    marginx: 12,
    marginy: 12
  });
  for (const node of graph.nodes) {
    g.setNode(node.id, { width: node.width, height: node.height });
  }
  graph.edges.forEach((e, i) => {
    const width = e.label ? Math.ceil(metrics.label(e.label)) + 8 : 0;
    g.setEdge(
      e.from,
      e.to,
      {
        width,
        height: e.label ? 16 : 0,
        labelpos: 'c',
        // The data flow sets the ranks; the dashed context edges only hint.
        weight: e.kind === 'parameter' || e.kind === 'header' ? 1 : 4,
        minlen: 1
      },
      `e${i}`
    );
  });
  dagreLayout(g);
  const nodes = graph.nodes.map(n => {
    const placed = g.node(n.id);
    return { ...n, x: placed.x ?? 0, y: placed.y ?? 0 };
  });
  const edges = graph.edges.map((e, i) => {
    const placed = g.edge({ v: e.from, w: e.to, name: `e${i}` });
    return {
      ...e,
      points: (placed.points ?? []).map((p: { x: number; y: number }) => ({
        x: p.x,
        y: p.y
      })),
      labelX: placed.x ?? 0,
      labelY: placed.y ?? 0,
      labelWidth: placed.width ?? 0
    };
  });
  const label = g.graph();
  return {
    nodes,
    edges,
    width: Math.max(label.width ?? 0, 1),
    height: Math.max(label.height ?? 0, 1)
  };
}

/** The node a notebook cell belongs to (for highlighting the active cell's step), or null. */
export function nodeForCell(graph: IGraph, cellIndex: number): string | null {
  const steps = graph.nodes.filter(n => n.kind !== 'parameters');
  return steps.find(n => n.cells.includes(cellIndex))?.id ?? null;
}

/** The instances a workflow run counted, per processor step, from its task summaries. */
export function runInstancesOf(
  steps: { kind?: string; steps?: string[]; instances?: number }[] | undefined
): RunInstances {
  const counted: RunInstances = {};
  for (const task of steps ?? []) {
    if (task.kind === 'processors' && typeof task.instances === 'number') {
      for (const id of task.steps ?? []) {
        counted[id] = task.instances;
      }
    }
  }
  return counted;
}

/** The view box that fits the whole graph, with a margin. */
export function fitViewBox(
  graph: IGraph,
  margin = 8
): { x: number; y: number; w: number; h: number } {
  return {
    x: -margin,
    y: -margin,
    w: graph.width + 2 * margin,
    h: graph.height + 2 * margin
  };
}

/**
 * The diagnostics the panel lists and counts. "No cell is tagged" (`no-steps`) is left out: the
 * panel's empty state already says it, with how to tag; the CLI's `check` still prints it.
 */
export function panelDiagnostics(spec: ISpec): IDiagnostic[] {
  return spec.diagnostics.filter(d => d.code !== 'no-steps');
}
