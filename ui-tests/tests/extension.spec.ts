import { expect } from '@jupyterlab/galata';
import * as path from 'path';
import { EXAMPLES, SEED, test } from './helpers';

/**
 * The extension is installed, enabled and loads without errors, and the example notebook opens.
 */

test.describe('naavre-batch-ext foundation', () => {
  test('activates without errors in the browser console', async ({ page }) => {
    const logs: string[] = [];
    const errors: string[] = [];
    page.on('console', message => {
      if (message.type() === 'error') {
        errors.push(message.text());
      }
      logs.push(message.text());
    });
    await page.reload();
    await page.waitForFunction(() => (window as any).jupyterapp?.started);
    await page.waitForTimeout(500);
    expect(
      logs.filter(s => s === 'naavre-batch-ext:plugin is activated')
    ).toHaveLength(1);
    expect(errors.filter(s => s.includes('naavre-batch'))).toEqual([]);
  });

  test('is listed as enabled by the extension manager', async ({ page }) => {
    const extensions = await page.evaluate(async () => {
      const app = (window as any).jupyterapp;
      const settings = app.serviceManager.serverSettings;
      const url = settings.baseUrl + 'lab/api/extensions?refresh=0';
      const response = await fetch(url);
      return response.json();
    });
    const list = Array.isArray(extensions)
      ? extensions
      : (extensions.installed ?? extensions.extensions ?? []);
    const ours = list.find((e: any) => e.name === 'naavre-batch-ext');
    expect(ours).toBeTruthy();
    expect(ours.enabled).toBe(true);
    expect(ours.status === undefined || ours.status === 'ok').toBe(true);
  });

  test('opens the example notebook', async ({ page, tmpPath }) => {
    await page.contents.uploadFile(
      path.join(EXAMPLES, SEED),
      `${tmpPath}/${SEED}`
    );
    await page.notebook.openByPath(`${tmpPath}/${SEED}`);
    await page.notebook.activate(SEED);
    expect(await page.notebook.isActive(SEED)).toBe(true);
    const count = await page.notebook.getCellCount();
    expect(count).toBeGreaterThan(4);
    const panel = page.locator('.jp-NotebookPanel[data-naavre-batch="ready"]');
    await expect(panel).toHaveCount(1);
  });
});
