import {
  expect,
  galata,
  IJupyterLabPageFixture,
  test as galataTest
} from '@jupyterlab/galata';
import { Browser, Locator, Page } from '@playwright/test';
import * as path from 'path';

/**
 * What the specs share: one JupyterLab page per worker (`test`), the example notebooks, opening
 * one of them in a test's folder under the seed's name, showing the Batch workflow panel, and
 * reading the active cell.
 */

/** Page events a test may listen to; their listeners end with the test. */
const TEST_EVENTS = ['console', 'dialog', 'pageerror', 'request', 'response'];

/** The options Galata's own `page` fixture passes to `galata.newPage`. */
type PageOptions = Omit<Parameters<typeof galata.newPage>[0], 'browser'>;

/**
 * The JupyterLab page of the worker, kept open from test to test and from spec file to spec file.
 *
 * Loading JupyterLab (a new browser context, its JavaScript, Galata's mocks, the launcher) is
 * about three quarters of a short test; Galata's `page` fixture does it for every test. Here it
 * is done once per worker, with the same mocks (`galata.newPage`, as the fixture calls it), and
 * every test ends by putting the page back the way a fresh one starts: see `reset`. A test whose
 * page options (`test.use` in its spec file: the mocks, the app path, `autoGoto`) differ from
 * the open page's gets a fresh page; `autoGoto: false` always does (the test loads it itself).
 */
class SharedLab {
  constructor(private readonly browser: Browser) {}

  /** The page for a test with `options`: the open one, or a fresh one when they differ. */
  async pageFor(options: PageOptions): Promise<IJupyterLabPageFixture> {
    const { tmpPath, waitForApplication, ...rest } = options;
    // Galata's fixture makes a new `waitForApplication` for each test: compare its code
    const key = JSON.stringify({ ...rest, wait: String(waitForApplication) });
    if (this._lab && options.autoGoto !== false && this._lab.key === key) {
      // the file browser shows the test's folder, as in a fresh page
      await this._lab.page.evaluate(
        dir =>
          (window as any).jupyterapp.commands.execute(
            'filebrowser:go-to-path',
            {
              path: dir,
              dontShowBrowser: true
            }
          ),
        tmpPath ?? ''
      );
      return this._lab.page;
    }
    await this.close();
    const { page } = await galata.newPage({
      ...options,
      browser: this.browser
    });
    this._lab = {
      key,
      page,
      // the sidebars' and the main area's shares of the window (Lumino's SplitPanel)
      sizes: await page.evaluate(() => {
        const visit = (w: any): any =>
          w.id === 'jp-main-split-panel'
            ? w
            : Array.from(w.children()).map(visit).find(Boolean);
        return visit((window as any).jupyterapp.shell).relativeSizes();
      }),
      // the left sidebar's open panel (the file browser), or null when collapsed
      left: await page.evaluate(() => {
        const shell = (window as any).jupyterapp.shell;
        const open = Array.from(shell.widgets('left')).find(
          (w: any) => w.isVisible
        ) as any;
        return shell.leftCollapsed ? null : (open?.id ?? null);
      }),
      theme: await page.theme.getTheme()
    };
    return page;
  }

  /**
   * Undo what a test did to the page, so the next test of the file starts as on a fresh one:
   * no dialog or notification, every document closed without a save prompt and its kernel shut
   * down (Galata's fixture deletes the kernels and sessions a test started), the launcher, the
   * left sidebar showing its first panel (or collapsed), the right one collapsed, at their first
   * sizes, the first theme, no listener of the test.
   */
  async reset(): Promise<void> {
    if (!this._lab) {
      return;
    }
    const { page, sizes, left, theme } = this._lab;
    for (const event of TEST_EVENTS) {
      (page as unknown as Page).removeAllListeners(event);
    }
    const dialogs = page.locator('.jp-Dialog');
    for (let i = 0; i < 5 && (await dialogs.count()) > 0; i++) {
      await page.keyboard.press('Escape');
    }
    await expect(dialogs).toHaveCount(0);
    // Closing a changed document asks whether to save it; a test's changes are never kept.
    await page.evaluate(() => {
      for (const widget of (window as any).jupyterapp.shell.widgets('main')) {
        if (widget.context?.model) {
          widget.context.model.dirty = false;
        }
      }
    });
    await page.activity.closeAll();
    await page.kernel.shutdownAll();
    await page.evaluate(
      async ({ sizes, left }) => {
        const app = (window as any).jupyterapp;
        await app.commands.execute('apputils:dismiss-notification');
        app.shell.collapseRight();
        if (left) {
          app.shell.activateById(left);
        } else {
          app.shell.collapseLeft();
        }
        const visit = (w: any): any =>
          w.id === 'jp-main-split-panel'
            ? w
            : Array.from(w.children()).map(visit).find(Boolean);
        visit(app.shell).setRelativeSizes(sizes);
        // the test's folder is deleted next: leave it
        await app.commands.execute('filebrowser:go-to-path', {
          path: '/',
          dontShowBrowser: true
        });
      },
      { sizes, left }
    );
    await expect(page.locator('.Toastify__toast')).toHaveCount(0);
    if ((await page.theme.getTheme()) !== theme) {
      await page.theme.setTheme(theme);
    }
  }

  /** Close the page (at the end of the worker, after a failed test, or for other options). */
  async close(): Promise<void> {
    if (this._lab) {
      const context = this._lab.page.context();
      this._lab = null;
      await context.close();
    }
  }

  private _lab: {
    key: string;
    page: IJupyterLabPageFixture;
    sizes: number[];
    left: string | null;
    theme: string;
  } | null = null;
}

/**
 * Galata's `test` whose `page` is the worker's shared JupyterLab page (`SharedLab`), at the
 * test's viewport, with the file browser in the test's own folder (`tmpPath`, made and deleted
 * per test by Galata's fixture). A failed test ends its worker, so the next test gets a fresh
 * page.
 */
export const test = galataTest.extend<
  Record<string, never>,
  { sharedLab: SharedLab }
>({
  sharedLab: [
    async ({ browser }, use) => {
      const lab = new SharedLab(browser);
      await use(lab);
      await lab.close();
    },
    { scope: 'worker' }
  ],
  page: async (
    {
      appPath,
      autoGoto,
      baseURL,
      mockConfig,
      mockSettings,
      mockState,
      mockUser,
      resetWorkspace,
      sharedLab,
      tmpPath,
      viewport,
      waitForApplication
    },
    use,
    testInfo
  ) => {
    const page = await sharedLab.pageFor({
      appPath,
      autoGoto,
      baseURL,
      mockConfig,
      mockSettings,
      mockState,
      mockUser,
      resetWorkspace,
      tmpPath,
      waitForApplication
    });
    if (viewport) {
      await page.setViewportSize(viewport);
    }
    await use(page);
    if (testInfo.status === testInfo.expectedStatus) {
      await sharedLab.reset();
    } else {
      // Playwright ends the worker after a failure; the next test gets a new page anyway
      await sharedLab.close();
    }
  }
});

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
 * Upload `source` (a notebook file on disk) to `tmpPath/name`, open it with JupyterLab's
 * `docmanager:open` (tests/extension.spec.ts opens one from the file browser) and make it the
 * current widget once its kernel has answered. Returns the path of the uploaded notebook.
 */
export async function openNotebook(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  source: string,
  name: string = SEED
): Promise<string> {
  const target = `${tmpPath}/${name}`;
  await page.contents.uploadFile(source, target);
  await page.evaluate(async path => {
    const app = (window as any).jupyterapp;
    const widget = await app.commands.execute('docmanager:open', { path });
    await widget.context.ready;
    await widget.sessionContext.ready;
    // Once its kernel answers, the notebook writes the kernel's language_info and kernelspec into
    // its metadata: a test that saves before that gets a changed notebook again.
    const kernel = widget.sessionContext.session?.kernel;
    if (kernel) {
      await kernel.info;
      await kernel.spec;
    }
    app.shell.activateById(widget.id);
  }, target);
  await expect(page.activity.getTabLocator(name)).toHaveAttribute(
    'aria-selected',
    'true'
  );
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

/**
 * Add a code cell holding `source` at the end of the current notebook and run it in the
 * notebook's kernel with JupyterLab's `notebook:run-cell`, which resolves once the kernel has
 * answered; returns the new cell's index. (Galata's `addCell` and `runCell` type the source key
 * by key through the toolbar's cell type menu and wait for the highlighting to settle: seconds
 * per cell.)
 */
export async function runNewCell(
  page: IJupyterLabPageFixture,
  source: string
): Promise<number> {
  return page.evaluate(async source => {
    const app = (window as any).jupyterapp;
    const panel = app.shell.currentWidget;
    const cells = panel.model.sharedModel;
    const index = cells.cells.length;
    cells.insertCell(index, { cell_type: 'code', source });
    panel.content.deselectAll();
    panel.content.activeCellIndex = index;
    await app.commands.execute('notebook:run-cell');
    return index;
  }, source);
}
