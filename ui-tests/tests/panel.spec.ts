import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import * as path from 'path';
import {
  activeCellIndex,
  EXAMPLES,
  IMAGES,
  openWithPanel,
  SEED,
  test
} from './helpers';

/**
 * The Batch workflow panel on the seed notebook: graph, navigation, live updates, export, runs
 * with the equivalence verdict, and a notebook with an error.
 */
test.use({ autoGoto: true });

function openSeed(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  file = 'splitting-batches-tagged.ipynb'
) {
  return openWithPanel(page, tmpPath, path.join(EXAMPLES, file));
}

/** Set a cell's tags through the shared model, as the tag editor or a collaborator would. */
async function setTags(
  page: IJupyterLabPageFixture,
  index: number,
  tags: string[]
) {
  await page.evaluate(
    ([i, t]) => {
      const nb = (window as any).jupyterapp.shell.currentWidget;
      nb.model.cells.get(i).setMetadata('tags', t);
    },
    [index, tags] as [number, string[]]
  );
}

test.describe('Batch workflow panel', () => {
  test('shows splitter -> processor × 5 -> merger with labelled edges', async ({
    page,
    tmpPath
  }) => {
    const panel = await openSeed(page, tmpPath);
    const splitter = panel.locator('[data-node-id="gen-batches"]');
    const processor = panel.locator('[data-node-id="process-batches"]');
    const merger = panel.locator('[data-node-id="retrieve-batches"]');
    await expect(splitter).toHaveAttribute('data-role', 'splitter');
    await expect(processor).toHaveAttribute('data-role', 'processor');
    await expect(processor).toHaveAttribute('data-instances', '5');
    await expect(processor).toContainText('× 5');
    await expect(merger).toHaveAttribute('data-role', 'merger');
    const split = panel.locator(
      '[data-from="gen-batches"][data-to="process-batches"]'
    );
    await expect(split).toHaveAttribute('data-kind', 'split');
    await expect(split).toContainText('batches (split)');
    const merge = panel.locator(
      '[data-from="process-batches"][data-to="retrieve-batches"]'
    );
    await expect(merge).toHaveAttribute('data-kind', 'merge');
    await expect(merge).toContainText('processed_batches (merge)');
    await expect(panel.locator('.jp-NaavreBatch-summary')).toContainText(
      '3 steps'
    );
    // Spoken labels for screen readers.
    await expect(processor).toHaveAttribute(
      'aria-label',
      /processor: split: process batches, 5 instances, cell 6/
    );
  });

  test('clicking the merger node selects its cell; the active cell step is highlighted', async ({
    page,
    tmpPath
  }) => {
    const panel = await openSeed(page, tmpPath);
    await panel.locator('[data-node-id="retrieve-batches"]').click();
    await expect.poll(() => activeCellIndex(page)).toBe(8);
    await expect(
      panel.locator('[data-node-id="retrieve-batches"]')
    ).toHaveClass(/jp-mod-active/);
    // Keyboard: focus the splitter node and press Enter.
    await panel.locator('[data-node-id="gen-batches"]').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => activeCellIndex(page)).toBe(4);
    await expect(panel.locator('[data-node-id="gen-batches"]')).toHaveClass(
      /jp-mod-active/
    );
  });

  test('follows a new batch count in the tag and in the parameter', async ({
    page,
    tmpPath
  }) => {
    const panel = await openSeed(page, tmpPath);
    const processor = panel.locator('[data-node-id="process-batches"]');
    await expect(processor).toHaveAttribute('data-instances', '5');
    const start = Date.now();
    await setTags(page, 4, ['naavre:splitter', 'naavre:batch-count:3']);
    await expect(processor).toHaveAttribute('data-instances', '3', {
      timeout: 5000
    });
    // Figure for the docs: tag change to redrawn graph (debounce 500 ms + POST spec + layout).
    console.log(`panel: tag change shown after ${Date.now() - start} ms`);
    await expect(processor).toContainText('× 3');
    // Back to the parameter, then change its default in the header cell (unsaved edit).
    await setTags(page, 4, [
      'naavre:splitter',
      'naavre:batch-count:param_max_batch_count'
    ]);
    await expect(processor).toHaveAttribute('data-instances', '5', {
      timeout: 5000
    });
    await page.evaluate(() => {
      const nb = (window as any).jupyterapp.shell.currentWidget;
      const cell = nb.model.cells.get(2);
      cell.sharedModel.setSource(
        cell.sharedModel
          .getSource()
          .replace('param_max_batch_count = 5', 'param_max_batch_count = 2')
      );
    });
    await expect(processor).toHaveAttribute('data-instances', '2', {
      timeout: 5000
    });
  });

  test('exports splitting-batches.argo.yaml beside the notebook and opens it', async ({
    page,
    tmpPath
  }) => {
    const panel = await openSeed(page, tmpPath);
    const button = panel.locator('[data-action="export-argo"]');
    await expect(button).toBeEnabled();
    await button.click();
    const target = `${tmpPath}/splitting-batches.argo.yaml`;
    await expect.poll(() => page.contents.fileExists(target)).toBe(true);
    await expect(
      page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', {
        hasText: 'splitting-batches.argo.yaml'
      })
    ).toBeVisible();
    await expect(panel.locator('.jp-NaavreBatch-export')).toContainText(
      `Saved ${target}`
    );
    // A second export asks before replacing the file.
    await page.notebook.activate(SEED);
    await button.click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('Replace the existing file?');
    await dialog.locator('button', { hasText: 'Keep it' }).click();
    await expect(dialog).toHaveCount(0);
  });

  test('"Compare both" ends with "same result"', async ({ page, tmpPath }) => {
    test.setTimeout(120000);
    const panel = await openSeed(page, tmpPath);
    // Runs use the saved file; the panel asks to save unsaved changes first.
    await page.notebook.save();
    await panel.locator('[data-action="run-both"]').click();
    const running = panel.locator('.jp-NaavreBatch-runStatus');
    await expect(running).toBeVisible();
    await expect(panel.locator('[data-action="run-both"]')).toBeDisabled();
    const verdict = panel.locator('[data-verdict]');
    await expect(verdict).toHaveAttribute('data-verdict', 'same', {
      timeout: 90000
    });
    await expect(verdict).toContainText('Same result');
    await expect(panel.locator('.jp-NaavreBatch-runStatus')).toHaveAttribute(
      'data-status',
      'succeeded'
    );
    const processors = panel.locator(
      '[data-context="workflow"] [data-task="process-batches"]'
    );
    await expect(processors).toContainText('5/5');
    await expect(
      panel.locator('[data-node-id="process-batches"]')
    ).toHaveAttribute('data-instances', '5');
    await page.sidebar.setWidth(420, 'right');
    await panel.locator('.jp-NaavreBatch-run').scrollIntoViewIfNeeded();
    await panel
      .locator('.jp-NaavreBatch-run')
      .screenshot({ path: path.join(IMAGES, 'panel-run.png') });
  });

  test('a processor without splitter disables export and lists the error', async ({
    page,
    tmpPath
  }) => {
    const panel = await openSeed(page, tmpPath, 'splitting-batches.ipynb');
    const empty = panel.locator('[data-empty="true"]');
    await expect(empty).toBeVisible();
    // The empty state says in two lines how to tag, shortcuts included.
    await expect(empty.locator('p')).toHaveCount(2);
    await expect(empty).toContainText('W S, W P, W M');
    // Disabled buttons look disabled (JupyterLab's styled buttons do not on their own).
    const argo = panel.locator('[data-action="export-argo"]');
    await expect(argo).toBeDisabled();
    expect(
      Number(await argo.evaluate(b => getComputedStyle(b).opacity))
    ).toBeLessThan(1);
    await setTags(page, 6, ['naavre:processor']);
    const item = panel.locator('[data-code="processor-outside-section"]');
    await expect(item).toBeVisible({ timeout: 5000 });
    await expect(item).toContainText('cell 6');
    await expect(panel.locator('[data-action="export-argo"]')).toBeDisabled();
    await expect(panel.locator('[data-reason="export"]')).toContainText(
      'Fix the 1 error'
    );
    await item.locator('button').click();
    await expect.poll(() => activeCellIndex(page)).toBe(6);
  });

  test('cancels a running workflow run', async ({ page, tmpPath }) => {
    test.setTimeout(90000);
    const panel = await openSeed(page, tmpPath);
    await page.evaluate(() => {
      const nb = (window as any).jupyterapp.shell.currentWidget;
      const cell = nb.model.cells.get(6);
      // After the title comment, so the step keeps its id (process-batches).
      const [title, ...rest] = cell.sharedModel.getSource().split('\n');
      cell.sharedModel.setSource(
        [title, 'import time', 'time.sleep(60)', ...rest].join('\n')
      );
    });
    await page.notebook.save();
    await panel.locator('[data-action="run-workflow"]').click();
    const status = panel.locator('.jp-NaavreBatch-runStatus');
    await expect(
      panel.locator('[data-context="workflow"] [data-task="process-batches"]')
    ).toHaveAttribute('data-status', 'running', { timeout: 30000 });
    await panel.locator('[data-action="cancel-run"]').click();
    await expect(status).toHaveAttribute('data-status', 'cancelled', {
      timeout: 30000
    });
    await expect(panel.locator('[data-action="run-both"]')).toBeEnabled();
  });

  test('opens in the main area too', async ({ page, tmpPath }) => {
    await openSeed(page, tmpPath);
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('naavre-batch:open-panel')
    );
    const main = page.locator('#jp-NaavreBatch-workflowPanel-main');
    await expect(main).toBeVisible();
    await expect(
      main.locator('[data-node-id="process-batches"]')
    ).toHaveAttribute('data-instances', '5');
    await expect(main.locator('.jp-NaavreBatch-panel')).toHaveAttribute(
      'aria-label',
      'Batch workflow'
    );
  });

  test('screenshots in light and dark themes', async ({ page, tmpPath }) => {
    const panel = await openSeed(page, tmpPath);
    await page.locator('[data-node-id="process-batches"]').waitFor();
    await page.sidebar.setWidth(420, 'right');
    await panel.screenshot({ path: path.join(IMAGES, 'panel-light.png') });
    await page.theme.setDarkTheme();
    await panel.locator('[data-node-id="process-batches"]').waitFor();
    await panel.screenshot({ path: path.join(IMAGES, 'panel-dark.png') });
    await page.theme.setLightTheme();
  });
});
