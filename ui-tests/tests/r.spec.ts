import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as path from 'path';
import { EXAMPLES, execute, openWithPanel, tagSeed, test } from './helpers';

/**
 * An R notebook (IRkernel, kernel `ir`) in JupyterLab: the seed written in R
 * (examples/splitting-batches-r.ipynb) gets the badges, tagging commands, live graph, "Compare
 * both" and export a Python notebook gets (docs/r.md).
 */
const NAME = 'splitting-batches-r.ipynb';
const SPLITTER = 4;
const PROCESSOR = 6;
const MERGER = 8;

test.use({ autoGoto: true });

function openR(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  file: string
): Promise<Locator> {
  return openWithPanel(page, tmpPath, path.join(EXAMPLES, file), NAME);
}

function badge(page: IJupyterLabPageFixture, index: number): Locator {
  return page
    .locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')
    .nth(index)
    .locator('.jp-NaavreBatch-badge');
}

test.describe('An R notebook', () => {
  test('the commands tag its cells: badges name role and step, the graph shows the section, undo removes a role', async ({
    page,
    tmpPath
  }) => {
    const panel = await openR(page, tmpPath, 'splitting-batches-r.ipynb');
    await tagSeed(page);

    // The step ids come from the server's spec, read from the R cells' title comments.
    await expect(badge(page, SPLITTER)).toHaveText(
      /splitter\s*× param_max_batch_count \(5\)\s*gen-batches/
    );
    await expect(badge(page, PROCESSOR)).toHaveText(
      /processor\s*process-batches/
    );
    await expect(badge(page, MERGER)).toHaveText(/merger\s*retrieve-batches/);
    await expect(badge(page, 2)).toHaveText('header: runs in every step');

    // The live graph: splitter -> processor × 5 -> merger, split and merge edges named.
    await expect(
      panel.locator('[data-node-id="process-batches"]')
    ).toHaveAttribute('data-instances', '5');
    await expect(
      panel.locator('[data-from="gen-batches"][data-to="process-batches"]')
    ).toContainText('batches (split)');
    await expect(
      panel.locator('[data-from="process-batches"][data-to="retrieve-batches"]')
    ).toContainText('processed_batches (merge)');

    await execute(page, 'notebook:undo-cell-action');
    await expect(badge(page, MERGER)).not.toHaveText(/^merger/);
    await expect(
      panel.locator('[data-node-id="retrieve-batches"]')
    ).toHaveCount(0);
    await expect(badge(page, PROCESSOR)).toHaveText(/processor/);
  });

  test('"Compare both" runs it on IRkernel and as Rscript steps: "same result"', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(240000);
    const panel = await openR(
      page,
      tmpPath,
      'splitting-batches-r-tagged.ipynb'
    );
    await page.notebook.save();
    await panel.locator('[data-action="run-both"]').click();
    const verdict = panel.locator('[data-verdict]');
    await expect(verdict).toHaveAttribute('data-verdict', 'same', {
      timeout: 200000
    });
    await expect(verdict).toContainText('Same result');
    await expect(
      panel.locator('[data-context="workflow"] [data-task="process-batches"]')
    ).toContainText('5/5');
  });

  test('exports Argo YAML whose steps run Rscript', async ({
    page,
    tmpPath
  }) => {
    const panel = await openR(
      page,
      tmpPath,
      'splitting-batches-r-tagged.ipynb'
    );
    const button = panel.locator('[data-action="export-argo"]');
    // Enabled once the server's R analysis (one Rscript) has answered.
    await expect(button).toBeEnabled({ timeout: 30000 });
    await button.click();
    const target = `${tmpPath}/splitting-batches-r.argo.yaml`;
    await expect(panel.locator('.jp-NaavreBatch-export')).toContainText(
      `Saved ${target}`,
      { timeout: 30000 }
    );
    expect(await page.contents.fileExists(target)).toBe(true);
    const yaml: string = await page.evaluate(async p => {
      const contents = (window as any).jupyterapp.serviceManager.contents;
      return (await contents.get(p, { content: true, type: 'file' })).content;
    }, target);
    expect(yaml).toContain('kind: Workflow');
    // Three templates (splitter, processor, merger), each an Rscript step on an R image.
    expect(yaml.match(/command:\n\s+- Rscript\n/g)).toHaveLength(3);
    expect(yaml.match(/image: rocker\/r-ver:\d+\.\d+\n/g)).toHaveLength(3);
  });
});
