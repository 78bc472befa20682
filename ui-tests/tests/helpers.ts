import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as path from 'path';

/**
 * What the panel specs share: the example notebooks, opening one of them in a test's folder under
 * the seed's name, showing the Batch workflow panel, and reading the active cell.
 */

/** The name a spec's notebook gets in the test folder (its exports are named after it). */
export const SEED = 'splitting-batches.ipynb';
/** The repository's example notebooks (the seed in Python and in R, tagged or not). */
export const EXAMPLES = path.resolve(__dirname, '../../examples');
/** Notebooks only the UI tests use (ui-tests/notebooks). */
export const NOTEBOOKS = path.resolve(__dirname, '../notebooks');
/** The panel in the right sidebar. */
export const PANEL = '#jp-NaavreBatch-workflowPanel';
/** Screenshots are test artifacts; `UPDATE_DOCS_IMAGES=1` refreshes the ones the docs show. */
export const IMAGES = process.env.UPDATE_DOCS_IMAGES
  ? path.resolve(__dirname, '../../docs/images')
  : path.resolve(__dirname, '../test-results/screenshots');

/**
 * Upload `source` (a notebook file on disk) to `tmpPath/name`, open it and make it the current
 * widget. Returns the path of the uploaded notebook.
 */
export async function openNotebook(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  source: string,
  name: string = SEED
): Promise<string> {
  const target = `${tmpPath}/${name}`;
  await page.contents.uploadFile(source, target);
  await page.notebook.openByPath(target);
  await page.notebook.activate(name);
  return target;
}

/** Show the Batch workflow panel of the current notebook; it is visible when this returns. */
export async function showPanel(
  page: IJupyterLabPageFixture
): Promise<Locator> {
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('naavre-batch:show-panel')
  );
  const panel = page.locator(PANEL);
  await expect(panel).toBeVisible();
  return panel;
}

/** `openNotebook` then `showPanel`: the start of most panel tests. */
export async function openWithPanel(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  source: string,
  name: string = SEED
): Promise<Locator> {
  await openNotebook(page, tmpPath, source, name);
  return showPanel(page);
}

/** The index of the current notebook's active cell (-1 without a notebook). */
export async function activeCellIndex(
  page: IJupyterLabPageFixture
): Promise<number> {
  return page.evaluate(
    () =>
      (window as any).jupyterapp.shell.currentWidget?.content
        ?.activeCellIndex ?? -1
  );
}

/** Run one of JupyterLab's commands (the extension's or the notebook's) with `args`. */
export async function execute(
  page: IJupyterLabPageFixture,
  id: string,
  args: Record<string, unknown> = {}
): Promise<void> {
  await page.evaluate(
    ({ id, args }) => (window as any).jupyterapp.commands.execute(id, args),
    { id, args }
  );
}

/**
 * Tag the seed's splitter (cell 4, batch count `param_max_batch_count`), processor (6) and merger
 * (8) with the extension's commands, as a user selecting each cell would; the same cells in the
 * Python and the R seed.
 */
export async function tagSeed(page: IJupyterLabPageFixture): Promise<void> {
  await page.notebook.selectCells(4);
  await execute(page, 'naavre-batch:set-splitter', {
    batchCount: 'param_max_batch_count'
  });
  await page.notebook.selectCells(6);
  await execute(page, 'naavre-batch:set-processor');
  await page.notebook.selectCells(8);
  await execute(page, 'naavre-batch:set-merger');
}
