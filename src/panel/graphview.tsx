import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  IGraph,
  IGraphEdge,
  IGraphNode,
  SLANT,
  STACK_OFFSET,
  fitViewBox,
  instancesText,
  nodeForCell,
  textInset
} from './graph';
import { roleLabel } from '../roles';

/**
 * The smallest scale fit-to-view uses: below it the 12px labels are no longer readable, so a graph
 * wider than the panel scrolls sideways instead of shrinking further.
 */
export const MIN_FIT_ZOOM = 0.7;

/** Zoom steps of the graph toolbar; null is fit-to-view (scaled down to the panel width). */
const ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2];

let markerCount = 0;

export interface IGraphViewProps {
  graph: IGraph;
  trans: TranslationBundle;
  /** The notebook's active cell, to highlight its step. */
  activeCell: number | null;
  /** Called with a node when the user clicks it or presses Enter/Space on it. */
  onActivate: (node: IGraphNode) => void;
}

/**
 * The laid-out workflow graph as SVG: role shapes, stacked processors with "× m", labelled edges,
 * zoom and fit-to-view. Nodes are buttons (Tab, Enter/Space) with a spoken label.
 */
export function GraphView(props: IGraphViewProps): JSX.Element {
  const { graph, trans, activeCell, onActivate } = props;
  const [zoom, setZoom] = React.useState<number | null>(null);
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
      ? {
          width: '100%',
          style: {
            maxWidth: `${box.w}px`,
            minWidth: `${Math.round(box.w * MIN_FIT_ZOOM)}px`
          }
        }
      : { width: box.w * zoom, height: box.h * zoom, style: {} };

  return (
    <div className="jp-NaavreBatch-graph">
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
      <div className="jp-NaavreBatch-graphScroll">
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
      <text x={10 + inset} y={16} className="jp-NaavreBatch-nodeTitle">
        {node.title}
      </text>
      <text
        x={w - 8 - inset}
        y={16}
        textAnchor="end"
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
          y={36 + i * 16}
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
