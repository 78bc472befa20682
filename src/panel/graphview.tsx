import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  IGraph,
  IGraphEdge,
  IGraphNode,
  ITextMetrics,
  NodeKind,
  ROUGH_METRICS,
  SLANT,
  STACK_OFFSET,
  TITLE_BASELINE,
  fitViewBox,
  instancesText,
  nodeForCell,
  textInset
} from './graph';
import { roleLabel } from '../roles';

/**
 * The smallest fit scale at which the graph's text is drawn at its own size (the titles at the
 * theme's UI font size; 1 less rounding). Fit-to-view always fits the panel's width (never a
 * sideways scroll); when even the compact layout must be scaled below this, the panel says the
 * graph does not fit at full text size and offers to open it large (the same live view in a
 * main-area tab).
 */
export const MIN_FIT_ZOOM = 0.99;

/** The width of an element, kept current by a `ResizeObserver` (null before the first layout). */
function useWidth(ref: React.RefObject<HTMLElement>): number | null {
  const [width, setWidth] = React.useState<number | null>(null);
  React.useLayoutEffect(() => {
    const node = ref.current;
    if (!node) {
      return;
    }
    setWidth(node.clientWidth);
    if (typeof ResizeObserver === 'undefined') {
      return;
    }
    const observer = new ResizeObserver(() => setWidth(node.clientWidth));
    observer.observe(node);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Text metrics measured in the page: a hidden SVG with the graph's classes inside `host` (so the
 * theme's fonts and sizes apply) and `getComputedTextLength` of each text, cached until the
 * panel's width changes. Null before the first layout; the rough metrics are used until then.
 */
function usePageMetrics(
  host: React.RefObject<HTMLElement>,
  available: number | null
): ITextMetrics | null {
  const [metrics, setMetrics] = React.useState<ITextMetrics | null>(null);
  React.useLayoutEffect(() => {
    const node = host.current;
    if (!node) {
      return;
    }
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', 'jp-NaavreBatch-measure');
    svg.setAttribute('aria-hidden', 'true');
    node.appendChild(svg);
    const measurer = (
      className: string,
      rough: (value: string) => number,
      parent: Element = svg
    ) => {
      const text = document.createElementNS(SVG_NS, 'text');
      text.setAttribute('class', className);
      parent.appendChild(text);
      const cache = new Map<string, number>();
      return (value: string): number => {
        let width = cache.get(value);
        if (width === undefined) {
          text.textContent = value;
          width = text.getComputedTextLength();
          if (width <= 0 && value.trim()) {
            // not rendered (the panel is hidden): guess, and measure again once shown
            return rough(value);
          }
          cache.set(value, width);
        }
        return width;
      };
    };
    const label = document.createElementNS(SVG_NS, 'g');
    label.setAttribute('class', 'jp-NaavreBatch-edgeLabel');
    svg.appendChild(label);
    const title = measurer('jp-NaavreBatch-nodeTitle', ROUGH_METRICS.title);
    const role = measurer('jp-NaavreBatch-nodeRole', ROUGH_METRICS.role);
    const count = measurer('jp-NaavreBatch-nodeCount', ROUGH_METRICS.role);
    setMetrics({
      title,
      // a letter's room between the title and the role word
      role: text =>
        title('n') + (text.startsWith('×') ? count(text) : role(text)),
      line: measurer('jp-NaavreBatch-nodeLine', ROUGH_METRICS.line),
      label: measurer('', ROUGH_METRICS.label, label)
    });
    return () => svg.remove();
  }, [host, available]); // measured afresh on resize: the theme's font size may have changed
  return metrics;
}

/** Zoom steps of the graph toolbar; null is fit-to-view (scaled down to the panel width). */
const ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2];

let markerCount = 0;

/**
 * The laid-out graph for text `metrics`; with `maxWidth`, the compact graph for a narrow panel
 * (`IBuildOptions.maxWidth` in graph.ts).
 */
export type GraphLayout = (metrics: ITextMetrics, maxWidth?: number) => IGraph;

export interface IGraphViewProps {
  layout: GraphLayout;
  trans: TranslationBundle;
  /** The notebook's active cell, to highlight its step. */
  activeCell: number | null;
  /** Called with a node when the user clicks it or presses Enter/Space on it. */
  onActivate: (node: IGraphNode) => void;
  /** Opens the panel large (in the main area); offered when the graph does not fit at full size. */
  onOpenLarge?: () => void;
}

/**
 * The laid-out workflow graph as SVG: role shapes, stacked processors with "× m", labelled edges,
 * zoom and fit-to-view. Nodes are buttons (Tab, Enter/Space) with a spoken label.
 */
export function GraphView(props: IGraphViewProps): JSX.Element {
  const { layout, trans, activeCell, onActivate, onOpenLarge } = props;
  const scroller = React.useRef<HTMLDivElement>(null);
  const outer = React.useRef<HTMLDivElement>(null);
  const available = useWidth(scroller);
  const measured = usePageMetrics(outer, available);
  const [zoom, setZoom] = React.useState<number | null>(null);
  // Fit-to-view keeps the text at its own size: when the graph is wider than the panel, the
  // compact layout (one column, texts cut to the room) is drawn instead of a shrunken one.
  const graph = React.useMemo(() => {
    const metrics = measured ?? ROUGH_METRICS;
    const full = layout(metrics);
    const room = available === null ? null : available - 2;
    if (zoom !== null || room === null || fitViewBox(full).w <= room) {
      return full;
    }
    const compact = layout(
      metrics,
      room - (fitViewBox(full).w - full.width) - 24
    );
    return fitViewBox(compact).w < fitViewBox(full).w ? compact : full;
  }, [layout, measured, available, zoom]);
  const [selected, setSelected] = React.useState<string | null>(null);
  const marker = React.useMemo(
    () => `jp-NaavreBatch-arrow-${++markerCount}`,
    []
  );
  const box = fitViewBox(graph);
  const active = activeCell === null ? null : nodeForCell(graph, activeCell);
  const step = (direction: 1 | -1) => {
    const current = zoom ?? 1;
    const next =
      direction > 0
        ? ZOOMS.find(z => z > current + 1e-6)
        : [...ZOOMS].reverse().find(z => z < current - 1e-6);
    setZoom(next ?? current);
  };
  const size =
    zoom === null
      ? { width: '100%', style: { maxWidth: `${box.w}px` } }
      : { width: box.w * zoom, height: box.h * zoom, style: {} };
  const fitScale =
    available === null ? 1 : Math.min(1, Math.max(available - 2, 0) / box.w);
  const tooWide = zoom === null && fitScale < MIN_FIT_ZOOM;

  return (
    <div className="jp-NaavreBatch-graph" ref={outer}>
      <div
        className="jp-NaavreBatch-graphToolbar"
        role="toolbar"
        aria-label={trans.__('Graph zoom')}
      >
        <button
          className="jp-NaavreBatch-iconButton"
          onClick={() => step(-1)}
          title={trans.__('Zoom out')}
          aria-label={trans.__('Zoom out')}
        >
          −
        </button>
        <button
          className="jp-NaavreBatch-iconButton"
          onClick={() => step(1)}
          title={trans.__('Zoom in')}
          aria-label={trans.__('Zoom in')}
        >
          +
        </button>
        <button
          className="jp-NaavreBatch-iconButton"
          onClick={() => setZoom(null)}
          aria-pressed={zoom === null}
          title={trans.__('Fit the graph to the panel')}
        >
          {trans.__('Fit')}
        </button>
        <span className="jp-NaavreBatch-zoomLevel" aria-live="polite">
          {zoom === null ? trans.__('fit') : `${Math.round(zoom * 100)}%`}
        </span>
      </div>
      {tooWide ? (
        <p className="jp-NaavreBatch-graphTooWide" role="note">
          <span>
            {trans.__(
              'The graph does not fit this width at full text size (shown at %1%).',
              Math.round(fitScale * 100)
            )}
          </span>{' '}
          {onOpenLarge ? (
            <button
              className="jp-Button jp-mod-styled jp-mod-reject"
              data-action="open-large"
              onClick={onOpenLarge}
            >
              {trans.__('Open large')}
            </button>
          ) : null}
        </p>
      ) : null}
      <div
        className={`jp-NaavreBatch-graphScroll${zoom === null ? ' jp-mod-fit' : ''}`}
        ref={scroller}
      >
        <svg
          className="jp-NaavreBatch-graphSvg"
          viewBox={`${box.x} ${box.y} ${box.w} ${box.h}`}
          role="group"
          aria-label={trans.__('Workflow graph')}
          {...size}
        >
          <defs>
            <marker
              id={marker}
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto-start-reverse"
            >
              <path
                d="M 0 0 L 10 5 L 0 10 z"
                className="jp-NaavreBatch-arrowHead"
              />
            </marker>
          </defs>
          {graph.edges.map((e, i) => (
            <Edge key={`${e.from}-${e.to}-${i}`} edge={e} marker={marker} />
          ))}
          {graph.nodes.map(n => (
            <Node
              key={n.id}
              node={n}
              trans={trans}
              active={n.id === active}
              selected={n.id === selected}
              onActivate={() => {
                setSelected(n.id);
                onActivate(n);
              }}
            />
          ))}
        </svg>
      </div>
    </div>
  );
}

function Edge(props: { edge: IGraphEdge; marker: string }): JSX.Element {
  const { edge, marker } = props;
  const d = edge.points
    .map((p, i) => `${i ? 'L' : 'M'} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`)
    .join(' ');
  return (
    <g
      className={`jp-NaavreBatch-edge jp-NaavreBatch-edge-${edge.kind}`}
      data-from={edge.from}
      data-to={edge.to}
      data-kind={edge.kind}
    >
      <path d={d} markerEnd={`url(#${marker})`} />
      {edge.label ? (
        <g
          transform={`translate(${edge.labelX}, ${edge.labelY})`}
          className="jp-NaavreBatch-edgeLabel"
        >
          <rect
            x={-edge.labelWidth / 2}
            y={-8}
            width={edge.labelWidth}
            height={16}
            rx={3}
          />
          <text textAnchor="middle" dominantBaseline="central">
            {edge.label}
          </text>
        </g>
      ) : null}
    </g>
  );
}

/** The outline of a node: each role its own shape, so colour is never the only cue. */
function shape(kind: IGraphNode['kind'], w: number, h: number): JSX.Element {
  const slant = SLANT;
  switch (kind) {
    case 'splitter':
      // Wider at the bottom: one list fans out.
      return <polygon points={`${slant},0 ${w - slant},0 ${w},${h} 0,${h}`} />;
    case 'merger':
      // Wider at the top: the batches come back together.
      return <polygon points={`0,0 ${w},0 ${w - slant},${h} ${slant},${h}`} />;
    case 'parameters':
      return (
        <rect
          width={w}
          height={h}
          rx={h / 4}
          className="jp-NaavreBatch-dashed"
        />
      );
    case 'header':
      return <rect width={w} height={h} rx={2} />;
    default:
      return <rect width={w} height={h} rx={6} />;
  }
}

/** The role word drawn right of each kind of node's title (its room is kept in the layout). */
export function roleWords(
  trans: TranslationBundle
): Partial<Record<NodeKind, string>> {
  const kinds: NodeKind[] = [
    'parameters',
    'header',
    'splitter',
    'processor',
    'merger'
  ];
  return Object.fromEntries(kinds.map(k => [k, roleText(k, trans)]));
}

function roleText(kind: IGraphNode['kind'], trans: TranslationBundle): string {
  switch (kind) {
    case 'header':
      return trans.__('every step');
    case 'parameters':
      return trans.__('inputs');
    default:
      return roleLabel(kind, trans);
  }
}

function Node(props: {
  node: IGraphNode;
  trans: TranslationBundle;
  active: boolean;
  selected: boolean;
  onActivate: () => void;
}): JSX.Element {
  const { node, trans, active, selected, onActivate } = props;
  const stack = node.instances ? STACK_OFFSET : 0;
  const w = node.width - 2 * stack;
  const h = node.height - 2 * stack;
  const inset = textInset(node.kind);
  const role = node.instances
    ? instancesText(node.instances)
    : roleText(node.kind, trans);
  let spoken = `${roleText(node.kind, trans)}: ${node.title}`;
  if (node.instances) {
    spoken +=
      node.instances.count === null
        ? trans.__(', batch count unknown')
        : trans._n(', %1 instance', ', %1 instances', node.instances.count);
  }
  if (node.state) {
    spoken += `, ${node.state.text}`;
  }
  if (node.noReuse) {
    spoken += trans.__(', always runs (naavre:no-reuse)');
  }
  if (node.cells.length) {
    spoken += trans._n(
      ', cell %2',
      ', cells %2',
      node.cells.length,
      node.cells.join(', ')
    );
  }
  const classes = [
    'jp-NaavreBatch-node',
    `jp-NaavreBatch-node-${node.kind}`,
    node.state ? `jp-NaavreBatch-state-${node.state.state}` : '',
    node.noReuse ? 'jp-NaavreBatch-noReuse' : '',
    active ? 'jp-mod-active' : '',
    selected ? 'jp-mod-selected' : ''
  ].join(' ');
  return (
    <g
      className={classes}
      transform={`translate(${node.x - node.width / 2}, ${node.y - node.height / 2})`}
      data-node-id={node.id}
      data-role={node.kind}
      data-instances={node.instances?.count ?? undefined}
      data-state={node.state?.state}
      data-no-reuse={node.noReuse ? 'true' : undefined}
      role="button"
      tabIndex={0}
      aria-label={spoken}
      aria-current={active ? 'step' : undefined}
      onClick={onActivate}
      onKeyDown={event => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          onActivate();
        }
      }}
    >
      <title>{spoken}</title>
      {stack ? (
        <>
          <g
            transform={`translate(${2 * stack}, ${2 * stack})`}
            className="jp-NaavreBatch-stackCard"
          >
            {shape(node.kind, w, h)}
          </g>
          <g
            transform={`translate(${stack}, ${stack})`}
            className="jp-NaavreBatch-stackCard"
          >
            {shape(node.kind, w, h)}
          </g>
        </>
      ) : null}
      <g className="jp-NaavreBatch-nodeShape">{shape(node.kind, w, h)}</g>
      <text
        x={10 + inset}
        y={TITLE_BASELINE}
        className="jp-NaavreBatch-nodeTitle"
      >
        {node.title}
      </text>
      <text
        x={node.roleLine ? 10 + inset : w - 8 - inset}
        y={node.roleLine ? TITLE_BASELINE + 17 : TITLE_BASELINE}
        textAnchor={node.roleLine ? 'start' : 'end'}
        className={
          node.instances
            ? 'jp-NaavreBatch-nodeCount'
            : 'jp-NaavreBatch-nodeRole'
        }
      >
        {role}
      </text>
      {node.lines.map((line, i) => (
        <text
          key={i}
          x={10 + inset}
          y={TITLE_BASELINE + 21 + (node.roleLine ? 16 : 0) + i * 16}
          className={
            node.state && i === node.lines.length - 1
              ? 'jp-NaavreBatch-nodeState'
              : 'jp-NaavreBatch-nodeLine'
          }
        >
          {line}
        </text>
      ))}
    </g>
  );
}
