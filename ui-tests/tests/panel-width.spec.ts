import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as path from 'path';
import { EXAMPLES, IMAGES, openWithPanel, test } from './helpers';

/**
 * The Batch workflow panel at the width people use it (the right sidebar's default width in a
 * 1400 px window), and the batch-count advisor after "Compare both" on the seed.
 */

test.use({ autoGoto: true, viewport: { width: 1400, height: 900 } });

async function openSeed(page: IJupyterLabPageFixture, tmpPath: string) {
  const panel = await openWithPanel(
    page,
    tmpPath,
    path.join(EXAMPLES, 'splitting-batches-tagged.ipynb')
  );
  await panel.locator('[data-node-id="process-batches"]').waitFor();
  return panel;
}

/** Run "Compare both" on the saved notebook and wait for the advisor's plot. */
async function compareBoth(page: IJupyterLabPageFixture, panel: Locator) {
  await page.notebook.save();
  await panel.locator('[data-action="run-both"]').click();
  await expect(panel.locator('[data-verdict]')).toHaveAttribute(
    'data-verdict',
    'same',
    { timeout: 90000 }
  );
  await expect(panel.locator('.jp-NaavreBatch-advice')).toBeVisible({
    timeout: 30000
  });
}

/**
 * Every element of the panel whose content is wider than its box (`scrollWidth > clientWidth`,
 * one pixel of rounding allowed) or that reaches past the panel's right edge: what the user would
 * see clipped or have to scroll sideways to.
 */
async function overflowing(panel: Locator): Promise<string[]> {
  return panel.evaluate(root => {
    const right = root.getBoundingClientRect().right;
    const found: string[] = [];
    for (const el of [root, ...Array.from(root.querySelectorAll('*'))]) {
      if (!(el instanceof HTMLElement) || el.offsetParent === null) {
        continue;
      }
      const name = `${el.tagName.toLowerCase()}.${el.className || ''}[${(el.textContent || '').slice(0, 30)}]`;
      if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
        found.push(
          `${name}: content ${el.scrollWidth} > box ${el.clientWidth}`
        );
      }
      if (el.getBoundingClientRect().right > right + 1) {
        found.push(`${name}: right edge past the panel's`);
      }
    }
    return found;
  });
}

/** The drawn font size of each node title, and the theme's UI font size, in CSS pixels. */
async function titleSizes(
  panel: Locator
): Promise<{ drawn: number[]; ui: number }> {
  return panel.evaluate(root => {
    const svg = root.querySelector('.jp-NaavreBatch-graphSvg') as SVGSVGElement;
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    const ui = parseFloat(
      getComputedStyle(root).getPropertyValue('--jp-ui-font-size1')
    );
    const drawn = Array.from(
      svg.querySelectorAll('.jp-NaavreBatch-nodeTitle')
    ).map(t => parseFloat(getComputedStyle(t).fontSize) * scale);
    return { drawn, ui };
  });
}

test.describe('Batch workflow panel at the default sidebar width', () => {
  // Generous: the machine these run on is shared by many sessions.
  test.describe.configure({ timeout: 300000 });

  test('nothing is wider than the panel, in the light and dark themes', async ({
    page,
    tmpPath
  }) => {
    const panel = await openSeed(page, tmpPath);
    await compareBoth(page, panel);
    const width = await panel.evaluate(p => p.clientWidth);
    expect(width).toBeLessThan(420); // the default sidebar, not a widened one
    expect(await overflowing(panel)).toEqual([]);
    // The graph fits: its SVG is no wider than the graph area, and the nodes' titles are set
    // at the theme's UI font size.
    const graph = panel.locator('.jp-NaavreBatch-graphScroll');
    expect(
      await graph.evaluate(g => g.scrollWidth <= g.clientWidth)
    ).toBeTruthy();
    await expect(panel.locator('.jp-NaavreBatch-graphTooWide')).toHaveCount(0);
    // Drawn size of every node title: its computed font size times the SVG's scale (rendered
    // width over view-box width), equal to the theme's --jp-ui-font-size1: fit-to-view did
    // not shrink it.
    const titles = await titleSizes(panel);
    expect(titles.drawn.length).toBeGreaterThanOrEqual(5);
    for (const size of titles.drawn) {
      expect(size).toBeCloseTo(titles.ui, 1);
    }
    await panel.evaluate(p => (p.scrollTop = 0)); // the graph, as the panel opens
    await panel.screenshot({
      path: path.join(IMAGES, 'panel-sidebar-light.png')
    });
    await page.theme.setDarkTheme();
    await panel.locator('[data-node-id="process-batches"]').waitFor();
    expect(await overflowing(panel)).toEqual([]);
    await panel.screenshot({
      path: path.join(IMAGES, 'panel-sidebar-dark.png')
    });
    await page.theme.setLightTheme();
  });

  test('the graph refits on every resize and offers to open large when too narrow', async ({
    page,
    tmpPath
  }) => {
    const panel = await openSeed(page, tmpPath);
    const svg = panel.locator('.jp-NaavreBatch-graphSvg');
    const area = panel.locator('.jp-NaavreBatch-graphScroll');
    for (const width of [250, 330, 520]) {
      await page.sidebar.setWidth(width, 'right');
      await expect
        .poll(async () => area.evaluate(a => a.scrollWidth <= a.clientWidth))
        .toBeTruthy();
      const [svgWidth, areaWidth] = await Promise.all([
        svg.evaluate(s => s.getBoundingClientRect().width),
        area.evaluate(a => a.clientWidth)
      ]);
      expect(svgWidth).toBeLessThanOrEqual(areaWidth + 1);
    }
    // The sidebar goes no narrower than the compact (one-column) graph at the default UI font
    // size; with a large one (a user's theme setting) the titles cannot fit: the panel says so.
    await panel.evaluate(p =>
      p.style.setProperty('--jp-ui-font-size1', '40px')
    );
    await page.sidebar.setWidth(260, 'right');
    const note = panel.locator('.jp-NaavreBatch-graphTooWide');
    await expect(note).toBeVisible();
    await note.locator('[data-action="open-large"]').click();
    const main = page.locator('#jp-NaavreBatch-workflowPanel-main');
    await expect(main).toBeVisible();
    await expect(
      main.locator('[data-node-id="process-batches"]')
    ).toHaveAttribute('data-instances', '5');
    await expect(main.locator('.jp-NaavreBatch-graphTooWide')).toHaveCount(0);
    // the sidebar panel lives on with the page: back to the theme's font size
    await panel.evaluate(p => p.style.removeProperty('--jp-ui-font-size1'));
  });

  test('after Compare both the advisor plots the expected time; Use m = k edits the notebook', async ({
    page,
    tmpPath
  }) => {
    const panel = await openSeed(page, tmpPath);
    await compareBoth(page, panel);
    const advice = panel.locator('.jp-NaavreBatch-advice');
    await expect(advice).toHaveAttribute('data-current', '5');
    await expect(advice.locator('[data-advisor="model"]')).toContainText(
      'ceil(m / P) waves'
    );
    // Two instances at once and 10 s per instance: one wave of two beats three waves.
    await panel.locator('input[name="advisor-parallelism"]').fill('2');
    await expect(advice).toHaveAttribute('data-best', '2');
    await expect(advice.locator('.jp-NaavreBatch-bestPoint')).toHaveAttribute(
      'data-m',
      '2'
    );
    await expect(advice.locator('.jp-NaavreBatch-currentLine')).toHaveAttribute(
      'data-m',
      '5'
    );
    await panel.locator('input[name="advisor-parallelism"]').fill('0');
    await expect(
      panel.locator('#jp-NaavreBatch-advisor-parallelism-error')
    ).toBeVisible();
    await panel.locator('input[name="advisor-parallelism"]').fill('2');
    await advice.scrollIntoViewIfNeeded();
    await panel
      .locator('section.jp-NaavreBatch-advisor')
      .screenshot({ path: path.join(IMAGES, 'panel-advisor.png') });
    await advice.locator('[data-action="use-batch-count"]').click();
    const source = () =>
      page.evaluate(() => {
        const nb = (window as any).jupyterapp.shell.currentWidget;
        return nb.model.cells.get(2).sharedModel.getSource() as string;
      });
    await expect.poll(source).toContain('param_max_batch_count = 2');
    await expect(
      panel.locator('[data-node-id="process-batches"]')
    ).toHaveAttribute('data-instances', '2');
    await expect(advice).toHaveAttribute('data-current', '2');
    // One undo step restores the notebook's own value.
    await page.evaluate(() => {
      const nb = (window as any).jupyterapp.shell.currentWidget;
      nb.model.sharedModel.undo();
    });
    await expect.poll(source).toContain('param_max_batch_count = 5');
    await expect(
      panel.locator('[data-node-id="process-batches"]')
    ).toHaveAttribute('data-instances', '5');
  });

  test('the Advanced export options show a bad value at its field and live in the notebook', async ({
    page,
    tmpPath
  }) => {
    const panel = await openSeed(page, tmpPath);
    const advanced = panel.locator('[data-section="advanced"]');
    await advanced.locator('summary').click();
    const ttl = advanced.locator('input[name="ttlAfterSuccess"]');
    await expect(ttl).toHaveAttribute('placeholder', '86400'); // the CLI's default
    await ttl.fill('soon');
    await expect(
      advanced.locator('#jp-NaavreBatch-advanced-ttlAfterSuccess-error')
    ).toBeVisible();
    expect(await overflowing(panel)).toEqual([]);
    await panel.locator('[data-action="export-argo"]').click();
    await expect(page.locator('.jp-Dialog')).toContainText('ttlAfterSuccess');
    await page.keyboard.press('Escape'); // nothing was exported
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    await ttl.fill('3600');
    await expect(
      advanced.locator('#jp-NaavreBatch-advanced-ttlAfterSuccess-error')
    ).toHaveCount(0);
    const saved = await page.evaluate(() => {
      const nb = (window as any).jupyterapp.shell.currentWidget;
      return nb.model.getMetadata('naavre-batch');
    });
    expect(saved).toEqual({ export: { ttlAfterSuccess: 3600 } });
    await advanced.screenshot({
      path: path.join(IMAGES, 'panel-advanced.png')
    });
  });
});
