import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import * as path from 'path';
import {
  activeCellIndex,
  EXAMPLES,
  openNotebook,
  PANEL,
  runNewCell,
  SEED,
  showPanel,
  test
} from './helpers';

/**
 * A failed batch in the panel: "Debug in notebook" loads that batch into the notebook's own
 * kernel and selects the failing cell; once fixed, "Re-run failed" runs only what failed (and the
 * merger) and says how many instances it reused (docs/panel.md, docs/running.md).
 */
test.use({ autoGoto: true });

async function openFailingSeed(page: IJupyterLabPageFixture, tmpPath: string) {
  await openNotebook(
    page,
    tmpPath,
    path.join(EXAMPLES, 'splitting-batches-tagged.ipynb')
  );
  // The batch holding item 6 fails while the file `broken` exists beside the notebook.
  await page.contents.uploadContent('broken', 'text', `${tmpPath}/broken`);
  await page.evaluate(() => {
    const nb = (window as any).jupyterapp.shell.currentWidget;
    const cell = nb.model.cells.get(6);
    const [title, ...rest] = cell.sharedModel.getSource().split('\n');
    cell.sharedModel.setSource(
      [
        title,
        'import os',
        "if os.path.exists('broken') and any(6 in b for b in batches):",
        "    raise ValueError('item 6 is broken')",
        ...rest
      ].join('\n')
    );
  });
  await page.notebook.save();
  return showPanel(page);
}

test.describe('A failed batch', () => {
  test('is debugged in the notebook, then re-run alone', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(180000);
    const panel = await openFailingSeed(page, tmpPath);
    await panel.locator('[data-action="run-workflow"]').click();
    const status = panel.locator('.jp-NaavreBatch-runStatus');
    await expect(status).toHaveAttribute('data-status', 'failed', {
      timeout: 60000
    });

    // Debug in notebook: the batch is loaded into the kernel, the failing cell selected.
    await page.notebook.activate(SEED);
    await page
      .locator(PANEL)
      .locator('[data-action="debug-in-notebook"]')
      .click();
    await expect(page.locator('.Toastify')).toContainText('is selected', {
      timeout: 60000
    });
    await expect.poll(() => activeCellIndex(page)).toBe(6);
    // The kernel now holds the failed batch as the splitter's variable.
    expect(await runNewCell(page, 'print("batch:", batches)')).toBe(9);
    await expect(page.locator('.jp-OutputArea-output').last()).toContainText(
      'batch: [[6'
    );

    // The scratch cell goes again; runs use the saved notebook, so the panel asks to save first.
    await page.evaluate(() =>
      (
        window as any
      ).jupyterapp.shell.currentWidget.model.sharedModel.deleteCell(9)
    );
    // Fix the cause, then re-run only what failed.
    await page.contents.deleteFile(`${tmpPath}/broken`);
    await panel.locator('[data-action="rerun-failed"]').click();
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Save and run' })
      .click();
    await expect(status).toHaveAttribute('data-status', 'succeeded', {
      timeout: 60000
    });
    await expect(panel.locator('[data-reuse]')).toContainText(
      '5 instances reused, 2 re-run, 0 failed again'
    );
    await expect(
      panel.locator('[data-context="workflow"] [data-task="process-batches"]')
    ).toContainText('4 reused');
  });
});
