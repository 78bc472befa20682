import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import * as path from 'path';
import {
  activeCellIndex,
  IMAGES,
  NOTEBOOKS,
  openWithPanel,
  PANEL,
  runNewCell,
  SEED,
  test
} from './helpers';

/**
 * Run on cluster: the panel submits the tagged seed to the fake Argo server that
 * ui-tests/jupyter_server_test_config.py starts (tests/argo_fake.py, which runs the exported pods
 * for real: the seed's processor raises for item 13, batch 2, until the run is retried), follows
 * it on the graph and the cell badges, shows the failed batch's log at its cell, retries, and
 * stops another run.
 */
test.use({ autoGoto: true });
test.setTimeout(120000);

/** The tagged seed whose processor fails on the item the pods' environment names
 * (tests/helpers.py seed_with_a_broken_item; tests/test_ui_tests_config.py checks the copy). */
async function openSeed(page: IJupyterLabPageFixture, tmpPath: string) {
  const panel = await openWithPanel(
    page,
    tmpPath,
    path.join(NOTEBOOKS, 'splitting-batches-broken.ipynb')
  );
  await expect(panel.locator('[data-node-id="process-batches"]')).toBeVisible();
  return panel;
}

async function confirm(page: IJupyterLabPageFixture, label: string) {
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: label }).click();
  await expect(dialog).toHaveCount(0);
}

test.describe('Run on cluster', () => {
  test('follows the run on the graph and badges, opens the failed batch log at its cell, retries', async ({
    page,
    tmpPath
  }) => {
    // Every answer of the extension's API that reaches the browser, for the token check.
    const answers: Promise<string>[] = [];
    page.on('response', response => {
      if (response.url().includes('/naavre-batch-ext/cluster')) {
        answers.push(response.text().catch(() => ''));
      }
    });
    // When the panel fetched the status of the run it follows (GET cluster-runs/<name>).
    const fetched: number[] = [];
    page.on('request', request => {
      const { pathname } = new URL(request.url());
      if (
        request.method() === 'GET' &&
        /\/naavre-batch-ext\/cluster-runs\/[^/]+$/.test(pathname)
      ) {
        fetched.push(Date.now());
      }
    });
    const panel = await openSeed(page, tmpPath);
    await panel.locator('[data-action="run-on-cluster"]').click();
    const run = panel.locator('.jp-NaavreBatch-clusterRun');
    await expect(run).toBeVisible();
    const processor = panel.locator('[data-node-id="process-batches"]');
    // Batches run for two fetches of the run (playwright.config.js: 500 ms apart): read the
    // node's state and text together, every 100 ms.
    await expect
      .poll(
        () =>
          processor.evaluate(
            node => `${node.getAttribute('data-state')}: ${node.textContent}`
          ),
        { intervals: [100], timeout: 30000 }
      )
      .toMatch(/^running: .*running · \d\/5 done/);
    // A page reload keeps following the run (it lives in the cluster).
    // JupyterLab restores the notebook tab (no launcher, so do not wait for one)
    await page.reload({ waitForIsReady: false });
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('naavre-batch:show-panel')
    );
    await expect(
      page.locator(PANEL).locator('.jp-NaavreBatch-clusterRun')
    ).toBeVisible({ timeout: 30000 });
    // Batch 2 fails (item 13): the graph, the table and the cell badge say so.
    await expect(run).toHaveAttribute('data-phase', 'Failed', {
      timeout: 30000
    });
    await expect(processor).toHaveAttribute('data-state', 'failed');
    await expect(processor).toContainText('4/5 done · 1 failed');
    const badge = page.locator(
      '.jp-NaavreBatch-badge-state[data-state="failed"]'
    );
    await expect(badge.first()).toContainText('1 failed');
    const failure = run.locator(
      '.jp-NaavreBatch-failure[data-task="process-batches"]'
    );
    await expect(failure).toContainText('batch 2 (item 2)');
    await page.setViewportSize({ width: 1400, height: 1100 });
    await panel.screenshot({ path: path.join(IMAGES, 'panel-cluster.png') });
    await page.locator('.jp-Notebook').screenshot({
      path: path.join(IMAGES, 'cells-cluster.png')
    });

    // Its log opens at the failing cell with the batch's item range.
    await failure.locator('[data-action="cluster-log"]').click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('Log of batch 2 of process-batches');
    await expect(dialog).toContainText('item 2');
    await expect(dialog).toContainText('failed in cell 6, line 8');
    await expect(dialog.locator('pre')).toContainText(
      'ValueError: cannot process item 13'
    );
    await expect.poll(() => activeCellIndex(page)).toBe(6);
    await dialog.getByRole('button', { name: 'Close' }).click();

    // Retry, confirmed in a dialog: the run goes on and succeeds.
    await run.locator('[data-action="retry-cluster-run"]').click();
    await confirm(page, 'Retry');
    await expect(run).toHaveAttribute('data-phase', 'Succeeded', {
      timeout: 30000
    });
    await expect(processor).toContainText('5/5 done');
    // The merger's printed output is shown once the run succeeded, from the run's status (pod
    // GC deleted the merger's pod, and its log, as soon as it succeeded).
    await expect(run.locator('.jp-NaavreBatch-clusterOutput')).toContainText(
      'Processed items: [0.0, 0.0238'
    );
    await expect(
      page.locator('.jp-NaavreBatch-badge-state[data-state="succeeded"]')
    ).toHaveCount(3);
    // The run was fetched every clusterPollInterval (500 ms in playwright.config.js), not at
    // the default 2 s: the setting reaches the panel.
    const gaps = fetched
      .slice(1)
      .map((time, i) => time - fetched[i])
      .sort((a, b) => a - b);
    expect(gaps.length).toBeGreaterThan(4);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(1500);
    // The token stays on the server: no answer the browser got contains it.
    const texts = await Promise.all(answers);
    expect(texts.length).toBeGreaterThan(5);
    expect(texts.join('\n')).toContain('"tokenSet": true');
    expect(texts.join('\n')).not.toContain('galata-fake-argo-token');
  });

  test('stop, confirmed in a dialog, stops the run', async ({
    page,
    tmpPath
  }) => {
    const panel = await openSeed(page, tmpPath);
    await panel.locator('[data-action="run-on-cluster"]').click();
    const run = panel.locator('.jp-NaavreBatch-clusterRun');
    await expect(run).toBeVisible();
    await run.locator('[data-action="stop-cluster-run"]').click();
    await confirm(page, 'Stop');
    await expect(run).toHaveAttribute('data-phase', 'Failed');
    await expect(run).toContainText("Stopped with strategy 'Stop'");
    await expect(run.locator('[data-action="stop-cluster-run"]')).toHaveCount(
      0
    );
    // The notebook's runs are listed from the cluster.
    await expect(panel.locator('.jp-NaavreBatch-clusterList')).toContainText(
      '1 run of this notebook on the cluster'
    );
  });

  test('Debug in notebook loads the failed batch from the cluster into the kernel', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(180000);
    const panel = await openSeed(page, tmpPath);
    await panel.locator('[data-action="run-on-cluster"]').click();
    const run = panel.locator('.jp-NaavreBatch-clusterRun');
    await expect(run).toHaveAttribute('data-phase', 'Failed', {
      timeout: 60000
    });
    const failure = run.locator(
      '.jp-NaavreBatch-failure[data-task="process-batches"]'
    );
    await page.notebook.activate(SEED);
    // Only a batch offers it; the failed merger does not.
    await expect(
      run.locator(
        '.jp-NaavreBatch-failure[data-task="retrieve-batches"] [data-action="cluster-debug"]'
      )
    ).toHaveCount(0);
    await failure.locator('[data-action="cluster-debug"]').click();
    await expect(page.locator('.Toastify')).toContainText(
      'cell 6 is selected',
      { timeout: 60000 }
    );
    await expect.poll(() => activeCellIndex(page)).toBe(6);
    // The kernel holds batch 2 (items 12..17 of the seed's 28 in 5 batches) as `batches`.
    expect(await runNewCell(page, 'print("batch:", batches)')).toBe(9);
    await expect(page.locator('.jp-OutputArea-output').last()).toContainText(
      'batch: [[12, 13'
    );
  });

  test('test connection shows the Argo server version', async ({
    page,
    tmpPath
  }) => {
    const panel = await openSeed(page, tmpPath);
    await panel.locator('[data-action="test-cluster-connection"]').click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('Argo Workflows v4.1.2');
    await expect(dialog).toContainText('namespace naavre');
    await expect(dialog).not.toContainText('galata-fake-argo-token');
    await dialog.getByRole('button', { name: /^ok$/i }).click();
  });
});
