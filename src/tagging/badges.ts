import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { PanelLayout } from '@lumino/widgets';

import type { IDiagnostic, ISpec, Role } from '../spec';
import { roleLabel } from '../roles';
import { IBatchSpecModel, IStepState } from '../tokens';
import { BatchSpecModel } from './model';
import { cellLayout, IBatchLabel, ICellInfo, ICellLayout } from './layout';

const INFO_CLASS = 'jp-NaavreBatch-cellInfo';
const HEADER_CLASS = 'jp-NaavreBatch-cellHeader';
const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Small role icons drawn with `currentColor`, so the shape (fan-out, stack, fan-in) tells the
 * roles apart without relying on colour.
 */
const ICON_PATHS: Record<Role | 'header' | 'error' | 'warning', string> = {
  splitter: 'M2 8h4M6 8l6-5M6 8h6M6 8l6 5',
  processor: 'M3 3h8v3H3zM4 7h8v3H4zM5 11h8v3H5z',
  merger: 'M2 3l6 5M2 8h6M2 13l6-5M8 8h6',
  header: 'M3 3h10M3 6h10M3 9h10M3 12h6',
  error: 'M8 1.5l6.5 12h-13zM8 6v4M8 11.5v.5',
  warning: 'M8 1.5a6.5 6.5 0 1 0 0 13a6.5 6.5 0 1 0 0-13M8 4.5v5M8 11v.5'
};

function icon(kind: keyof typeof ICON_PATHS): SVGSVGElement {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('width', '14');
  svg.setAttribute('height', '14');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.classList.add('jp-NaavreBatch-icon');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', ICON_PATHS[kind]);
  svg.appendChild(path);
  return svg;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/**
 * Shows every cell's part in the workflow on one notebook: a coloured left edge per role (lighter
 * on the cells that join a step), a badge with the role, the splitter's batch count and the step,
 * a "header" mark, and the diagnostics of the spec on the cells they concern.
 *
 * Driven by the server's spec while it describes the current content, else by the tags alone
 * (docs/tags.md), so a tag written anywhere (toolbar, command, JupyterLab's tag editor, another
 * user) shows at once.
 */
export class CellDecorator implements IDisposable {
  constructor(options: CellDecorator.IOptions) {
    this._panel = options.panel;
    this._specModel = options.specModel;
    this._trans = options.trans;
    this._showBadges = options.showBadges;
    this._specModel.changed.connect(this._onSpecChanged, this);
    void this._panel.context.ready.then(() => {
      if (this._isDisposed || !this._panel.model) {
        return;
      }
      this._panel.model.cells.changed.connect(this._onCellsChanged, this);
      this._onCellsChanged();
      this._onSpecChanged();
    });
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    if (this._frame !== null) {
      cancelAnimationFrame(this._frame);
    }
    this._specModel.changed.disconnect(this._onSpecChanged, this);
    if (!this._panel.isDisposed) {
      this._panel.model?.cells.changed.disconnect(this._onCellsChanged, this);
      for (const cell of this._panel.content.widgets) {
        this._clear(cell);
      }
    }
    for (const model of this._followed) {
      if (!model.isDisposed) {
        model.metadataChanged.disconnect(this.update, this);
      }
    }
    this._followed.clear();
  }

  /** Whether role badges and edges are shown (diagnostics always are). */
  get showBadges(): boolean {
    return this._showBadges;
  }
  set showBadges(value: boolean) {
    if (value !== this._showBadges) {
      this._showBadges = value;
      this.update();
    }
  }

  /** Redraw at the next animation frame (several changes in one frame draw once). */
  update(): void {
    if (this._isDisposed || this._frame !== null) {
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = null;
      this._render();
    });
  }

  private _onSpecChanged(): void {
    if (this._specModel.notebook === this._panel && this._specModel.spec) {
      this._lastSpec = this._specModel.spec;
    }
    this.update();
  }

  private _onCellsChanged(): void {
    const model = this._panel.model;
    if (!model) {
      return;
    }
    const current = new Set<Cell['model']>();
    for (let i = 0; i < model.cells.length; i++) {
      current.add(model.cells.get(i));
    }
    for (const cell of this._followed) {
      if (!current.has(cell)) {
        if (!cell.isDisposed) {
          cell.metadataChanged.disconnect(this.update, this);
        }
        this._followed.delete(cell);
      }
    }
    for (const cell of current) {
      if (!this._followed.has(cell)) {
        cell.metadataChanged.connect(this.update, this);
        this._followed.add(cell);
      }
    }
    this.update();
  }

  private _render(): void {
    const panel = this._panel;
    if (panel.isDisposed || !panel.model) {
      return;
    }
    const widgets = panel.content.widgets;
    const infos: ICellInfo[] = widgets.map(cell => ({
      id: cell.model.id ?? null,
      type: cell.model.type,
      tags: cell.model.getMetadata('tags')
    }));
    const active = this._specModel.notebook === panel;
    const spec: ISpec | null = active
      ? (this._specModel.spec ?? this._lastSpec)
      : this._lastSpec;
    const isCurrent =
      active &&
      this._specModel.spec !== null &&
      this._specModel instanceof BatchSpecModel
        ? this._specModel.isCurrent
        : false;
    const layouts = cellLayout(infos, spec, isCurrent);
    const followed = this._specModel.stepStates;
    const states =
      followed && followed.path === panel.context.path ? followed.states : {};
    widgets.forEach((cell, i) =>
      this._decorate(
        cell,
        layouts[i],
        layouts[i].stepId ? states[layouts[i].stepId!] : undefined
      )
    );
  }

  private _clear(cell: Cell): void {
    const node = cell.node;
    delete node.dataset.naavreRole;
    delete node.dataset.naavrePlace;
    node.querySelector(`:scope > .jp-CellHeader > .${INFO_CLASS}`)?.remove();
    node
      .querySelector(`:scope > .${HEADER_CLASS}`)
      ?.classList.remove(HEADER_CLASS);
    this._drawn.delete(cell);
  }

  private _decorate(cell: Cell, layout: ICellLayout, state?: IStepState): void {
    const showRole = this._showBadges && layout.place !== 'none';
    const key = JSON.stringify([showRole, layout, state ?? null]);
    if (this._drawn.get(cell) === key) {
      return;
    }
    const node = cell.node;
    if (showRole) {
      node.dataset.naavrePlace = layout.place;
      if (layout.role) {
        node.dataset.naavreRole = layout.role;
      } else {
        delete node.dataset.naavreRole;
      }
    } else {
      delete node.dataset.naavreRole;
      delete node.dataset.naavrePlace;
    }
    const header = (cell.layout as PanelLayout | null)?.widgets.find(w =>
      w.hasClass('jp-CellHeader')
    );
    if (!header) {
      // not rendered yet (windowed notebook): draw when it is
      void cell.ready.then(() => this.update());
      return;
    }
    this._drawn.set(cell, key);
    header.node.querySelector(`:scope > .${INFO_CLASS}`)?.remove();
    header.removeClass(HEADER_CLASS);
    if (!showRole && layout.diagnostics.length === 0) {
      return;
    }
    header.addClass(HEADER_CLASS);
    const info = element('div', INFO_CLASS);
    if (showRole) {
      info.appendChild(this._badge(layout, state));
    }
    for (const diagnostic of layout.diagnostics) {
      info.appendChild(this._diagnostic(diagnostic));
    }
    header.node.appendChild(info);
  }

  private _batchText(batch: IBatchLabel): string {
    if (batch.parameter === null) {
      return `× ${batch.value}`;
    }
    return batch.value === null
      ? `× ${batch.parameter}`
      : `× ${batch.parameter} (${batch.value})`;
  }

  private _badge(layout: ICellLayout, state?: IStepState): HTMLElement {
    const trans = this._trans;
    const badge = element('span', 'jp-NaavreBatch-badge');
    badge.dataset.place = layout.place;
    if (layout.place === 'header') {
      badge.classList.add('jp-NaavreBatch-badge-header');
      badge.append(
        icon('header'),
        element('span', '', trans.__('header: runs in every step'))
      );
      badge.title = trans.__(
        'Code before the first role cell runs at the start of every step (and of every processor instance): keep it to imports, definitions and parameters.'
      );
      return badge;
    }
    const role = layout.role as Role;
    const name = roleLabel(role, this._trans);
    badge.classList.add(`jp-NaavreBatch-badge-${role}`);
    badge.appendChild(icon(role));
    if (layout.place === 'start') {
      badge.appendChild(element('span', 'jp-NaavreBatch-badge-role', name));
      let label = trans.__('%1 step', name);
      if (layout.batch) {
        const text = this._batchText(layout.batch);
        badge.appendChild(element('span', 'jp-NaavreBatch-badge-batch', text));
        label = trans.__(
          '%1 step, batch count %2',
          name,
          text.replace('×', '').trim()
        );
      }
      if (layout.stepId) {
        badge.appendChild(
          element('span', 'jp-NaavreBatch-badge-step', layout.stepId)
        );
        label += ` (${layout.stepId})`;
      }
      if (state) {
        // the live state of the step in the run the panel follows (a cluster run)
        const chip = element('span', 'jp-NaavreBatch-badge-state', state.text);
        chip.dataset.state = state.state;
        badge.appendChild(chip);
        badge.dataset.state = state.state;
        label += `: ${state.text}`;
      }
      badge.setAttribute('aria-label', label);
      badge.setAttribute('role', 'note');
    } else {
      const text = layout.stepId
        ? trans.__('joins %1 step %2', name, layout.stepId)
        : trans.__('joins the %1 step above', name);
      badge.appendChild(element('span', 'jp-NaavreBatch-badge-role', text));
      badge.classList.add('jp-mod-member');
    }
    return badge;
  }

  private _diagnostic(d: IDiagnostic): HTMLElement {
    const trans = this._trans;
    const severity =
      d.severity === 'error' ? trans.__('Error') : trans.__('Warning');
    const where = d.line !== null ? trans.__('line %1', d.line) : '';
    const node = element(
      'div',
      `jp-NaavreBatch-diagnostic jp-mod-${d.severity}`
    );
    node.tabIndex = 0;
    node.setAttribute('role', 'note');
    node.dataset.code = d.code;
    node.title = d.hint;
    node.setAttribute(
      'aria-label',
      `${severity}${where ? ` (${where})` : ''}: ${d.message}. ${trans.__('Hint: %1', d.hint)}`
    );
    const message = element(
      'span',
      'jp-NaavreBatch-diagnostic-message',
      d.message
    );
    const hint = element('span', 'jp-NaavreBatch-diagnostic-hint', d.hint);
    node.append(icon(d.severity === 'error' ? 'error' : 'warning'));
    if (where) {
      node.appendChild(
        element('span', 'jp-NaavreBatch-diagnostic-line', where)
      );
    }
    node.append(message, hint);
    return node;
  }

  private _drawn = new WeakMap<Cell, string>();
  private _followed = new Set<Cell['model']>();
  private _frame: number | null = null;
  private _isDisposed = false;
  private _lastSpec: ISpec | null = null;
  private _panel: NotebookPanel;
  private _showBadges: boolean;
  private _specModel: IBatchSpecModel;
  private _trans: TranslationBundle;
}

export namespace CellDecorator {
  export interface IOptions {
    panel: NotebookPanel;
    specModel: IBatchSpecModel;
    trans: TranslationBundle;
    showBadges: boolean;
  }
}
