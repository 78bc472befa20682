import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as path from 'path';
import {
  EXAMPLES,
  execute,
  IMAGES,
  openNotebook,
  SEED,
  tagSeed,
  test
} from './helpers';

/**
 * Tagging cells as splitter, processor and merger on the seed notebook (issue 7): with the cell
 * toolbar, with the commands (palette API, keyboard chord, context menu); the badges; the tags
 * after save and reload and in the file itself; undo; a diagnostic from the server's spec on the
 * cell it concerns; screenshots of the badges in the light and dark themes.
 */

const SPLITTER = 4;
const PROCESSOR = 6;
const MERGER = 8;

/** The tags the file must hold, per cell index, once the three cells are tagged. */
const EXPECTED_TAGS: Record<number, string[]> = {
  [SPLITTER]: ['naavre:splitter', 'naavre:batch-count:param_max_batch_count'],
  [PROCESSOR]: ['naavre:processor'],
  [MERGER]: ['naavre:merger']
};

async function openSeed(
  page: IJupyterLabPageFixture,
  tmpPath: string
): Promise<void> {
  await openNotebook(page, tmpPath, path.join(EXAMPLES, SEED));
}

function cell(page: IJupyterLabPageFixture, index: number): Locator {
  return page
    .locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')
    .nth(index);
}

/** `metadata.tags` of every cell of the current notebook model (null without the key). */
async function modelTags(
  page: IJupyterLabPageFixture
): Promise<(unknown[] | null)[]> {
  return page.evaluate(() => {
    const model = (window as any).jupyterapp.shell.currentWidget.model;
    const tags: (unknown[] | null)[] = [];
    for (let i = 0; i < model.cells.length; i++) {
      tags.push(model.cells.get(i).getMetadata('tags') ?? null);
    }
    return tags;
  });
}

/** `metadata.tags` of every cell of the file on disk, read through the contents API. */
async function fileTags(
  page: IJupyterLabPageFixture,
  filePath: string
): Promise<(unknown[] | null)[]> {
  return page.evaluate(async p => {
    const contents = (window as any).jupyterapp.serviceManager.contents;
    const model = await contents.get(p, { content: true, type: 'notebook' });
    return model.content.cells.map((c: any) => c.metadata.tags ?? null);
  }, filePath);
}

function naavreOnly(tags: (unknown[] | null)[]): Record<number, unknown[]> {
  const result: Record<number, unknown[]> = {};
  tags.forEach((list, i) => {
    const ours = (list ?? []).filter(
      t => typeof t === 'string' && t.startsWith('naavre:')
    );
    if (ours.length > 0) {
      result[i] = ours;
    }
  });
  return result;
}

async function tagWithToolbar(
  page: IJupyterLabPageFixture,
  index: number,
  role: string,
  batchCount?: string
): Promise<void> {
  await cell(page, index).locator('.jp-InputPrompt').click();
  const select = cell(page, index).locator(
    '.jp-cell-toolbar .jp-NaavreBatch-roleSelect'
  );
  await expect(select).toBeVisible();
  await select.selectOption(role);
  if (batchCount !== undefined) {
    const input = cell(page, index).locator(
      '.jp-cell-toolbar .jp-NaavreBatch-batchCountInput'
    );
    await expect(input).toBeFocused();
    await input.fill(batchCount);
    await input.press('Enter');
  }
}

async function expectSeedBadges(page: IJupyterLabPageFixture): Promise<void> {
  await expect(
    cell(page, SPLITTER).locator('.jp-NaavreBatch-badge')
  ).toHaveText(/splitter\s*× param_max_batch_count \(5\)/);
  await expect(
    cell(page, PROCESSOR).locator('.jp-NaavreBatch-badge')
  ).toHaveText(/processor/);
  await expect(cell(page, MERGER).locator('.jp-NaavreBatch-badge')).toHaveText(
    /merger/
  );
  await expect(cell(page, 2).locator('.jp-NaavreBatch-badge')).toHaveText(
    'header: runs in every step'
  );
  await expect(cell(page, SPLITTER)).toHaveAttribute(
    'data-naavre-role',
    'splitter'
  );
  await expect(cell(page, PROCESSOR)).toHaveAttribute(
    'data-naavre-role',
    'processor'
  );
  await expect(cell(page, MERGER)).toHaveAttribute(
    'data-naavre-role',
    'merger'
  );
  // markdown cells take no part
  await expect(cell(page, 3).locator('.jp-NaavreBatch-badge')).toHaveCount(0);
}

// A laptop-sized window: the cell toolbar hides itself when wider than half the cell.
test.use({ viewport: { width: 1280, height: 800 } });

test.describe('cell roles', () => {
  test.beforeEach(async ({ page, tmpPath }) => {
    await openSeed(page, tmpPath);
  });

  test('the cell toolbar tags the three cells; the tags survive save and reload and are in the file', async ({
    page,
    tmpPath
  }) => {
    await tagWithToolbar(page, SPLITTER, 'splitter', 'param_max_batch_count');
    await tagWithToolbar(page, PROCESSOR, 'processor');
    await tagWithToolbar(page, MERGER, 'merger');

    expect(naavreOnly(await modelTags(page))).toEqual(EXPECTED_TAGS);
    await expectSeedBadges(page);
    // the step ids come from the server's spec
    await expect(
      cell(page, SPLITTER).locator('.jp-NaavreBatch-badge-step')
    ).toHaveText('gen-batches');

    await page.notebook.save();
    await page.reload({ waitForIsReady: false });
    await page.waitForFunction(() => (window as any).jupyterapp?.restored);
    // the workspace reopens the notebook (once the layout is restored); open it only if it did not
    await page.evaluate(() => (window as any).jupyterapp.restored);
    if (!(await page.notebook.isOpen(SEED))) {
      await page.notebook.openByPath(`${tmpPath}/${SEED}`);
    }
    await page.waitForFunction(
      name =>
        (window as any).jupyterapp.shell.currentWidget?.context?.path?.endsWith(
          name
        ) && (window as any).jupyterapp.shell.currentWidget.context.isReady,
      SEED
    );

    expect(naavreOnly(await modelTags(page))).toEqual(EXPECTED_TAGS);
    await expectSeedBadges(page);

    // the file holds exactly these tags, and no other cell got a tags key
    const onDisk = await fileTags(page, `${tmpPath}/${SEED}`);
    expect(onDisk).toEqual(onDisk.map((_, i) => EXPECTED_TAGS[i] ?? null));
  });

  test('the commands tag the selected cells (API, keyboard chord, context menu) and undo removes a role', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.selectCells(SPLITTER);
    await execute(page, 'naavre-batch:set-splitter', {
      batchCount: 'param_max_batch_count'
    });

    // W P in command mode
    await page.notebook.selectCells(PROCESSOR);
    await cell(page, PROCESSOR).locator('.jp-InputPrompt').click();
    await page.keyboard.press('w');
    await page.keyboard.press('p');

    // the cell context menu
    await cell(page, MERGER)
      .locator('.jp-InputPrompt')
      .click({ button: 'right' });
    await page
      .locator('.lm-Menu .lm-Menu-item', { hasText: 'Batch Workflow Role' })
      .hover();
    await page
      .locator('.lm-Menu .lm-Menu-item', { hasText: 'Set Role: Merger' })
      .click();

    await expect
      .poll(async () => naavreOnly(await modelTags(page)))
      .toEqual(EXPECTED_TAGS);
    await expectSeedBadges(page);

    // the toolbar shows the role written by the command
    await cell(page, MERGER).locator('.jp-InputPrompt').click();
    await expect(
      cell(page, MERGER).locator('.jp-NaavreBatch-roleSelect')
    ).toHaveValue('merger');

    await execute(page, 'notebook:undo-cell-action');
    await expect
      .poll(async () => naavreOnly(await modelTags(page))[MERGER])
      .toBeUndefined();
    await expect(
      cell(page, MERGER).locator('.jp-NaavreBatch-badge')
    ).not.toHaveText(/^merger/);
    await expect(cell(page, MERGER)).toHaveAttribute(
      'data-naavre-place',
      'member'
    );
    await expect(
      cell(page, MERGER).locator('.jp-NaavreBatch-roleSelect')
    ).toHaveValue('none');

    // other cells keep their roles
    const tags = naavreOnly(await modelTags(page));
    expect(tags[SPLITTER]).toEqual(EXPECTED_TAGS[SPLITTER]);
    expect(tags[PROCESSOR]).toEqual(EXPECTED_TAGS[PROCESSOR]);
  });

  test('tags written in the tag editor (notebook metadata) show the same badge', async ({
    page
  }) => {
    await page.evaluate(i => {
      const model = (window as any).jupyterapp.shell.currentWidget.model;
      model.cells
        .get(i)
        .setMetadata('tags', [
          'hide-input',
          'naavre:splitter',
          'naavre:batch-count:3'
        ]);
    }, SPLITTER);
    await expect(
      cell(page, SPLITTER).locator('.jp-NaavreBatch-badge')
    ).toHaveText(/splitter\s*× 3/);
    // other tags are kept when the role is changed with a command
    await page.notebook.selectCells(SPLITTER);
    await execute(page, 'naavre-batch:set-processor');
    expect((await modelTags(page))[SPLITTER]).toEqual([
      'hide-input',
      'naavre:processor'
    ]);
  });

  test('the batch count: asked by the command, checked in the toolbar', async ({
    page
  }) => {
    await page.notebook.selectCells(SPLITTER);
    await execute(page, 'naavre-batch:set-splitter');
    // without a batch count, the default of the settings is written
    expect((await modelTags(page))[SPLITTER]).toEqual([
      'naavre:splitter',
      'naavre:batch-count:4'
    ]);

    // the command asks for a value, offering the notebook's parameters
    void page.evaluate(() =>
      (window as any).jupyterapp.commands.execute(
        'naavre-batch:set-batch-count'
      )
    );
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toBeVisible();
    await dialog.locator('input').fill('param_item_count');
    await dialog.locator('.jp-mod-accept').click();
    await expect
      .poll(async () => (await modelTags(page))[SPLITTER])
      .toEqual(['naavre:splitter', 'naavre:batch-count:param_item_count']);

    // the toolbar refuses a value the grammar rejects and writes nothing
    await cell(page, SPLITTER).locator('.jp-InputPrompt').click();
    const input = cell(page, SPLITTER).locator(
      '.jp-NaavreBatch-batchCountInput'
    );
    await expect(input).toHaveValue('param_item_count');
    await input.fill('0');
    await input.press('Enter');
    await expect(input).toHaveAttribute('aria-invalid', 'true');
    expect((await modelTags(page))[SPLITTER]).toEqual([
      'naavre:splitter',
      'naavre:batch-count:param_item_count'
    ]);
    await input.fill(' 12 ');
    await input.press('Enter');
    await expect(input).not.toHaveAttribute('aria-invalid', 'true');
    expect((await modelTags(page))[SPLITTER]).toEqual([
      'naavre:splitter',
      'naavre:batch-count:12'
    ]);
    await expect(
      cell(page, SPLITTER).locator('.jp-NaavreBatch-badge')
    ).toHaveText(/× 12/);
  });

  test('in a narrow window the splitter badge wraps between its parts, never inside one', async ({
    page,
    tmpPath
  }) => {
    await page.setViewportSize({ width: 1024, height: 700 });
    await openSeed(page, tmpPath);
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('naavre-batch:show-panel')
    );
    await page.sidebar.setWidth(420, 'right');
    await page.evaluate(
      ([i]) => {
        const nb = (window as any).jupyterapp.shell.currentWidget;
        nb.model.cells
          .get(i)
          .setMetadata('tags', [
            'naavre:splitter',
            'naavre:batch-count:param_max_batch_count'
          ]);
      },
      [SPLITTER]
    );
    const batch = cell(page, SPLITTER).locator('.jp-NaavreBatch-badge-batch');
    await expect(batch).toHaveText('× param_max_batch_count (5)');
    // One line: as high as the role word beside it, measured on screen (a windowed notebook gives
    // cells out of view no box, and may re-render while scrolling: poll until both have one).
    const role = cell(page, SPLITTER).locator('.jp-NaavreBatch-badge-role');
    const extraHeight = async () => {
      await batch.scrollIntoViewIfNeeded();
      const [b, r] = [await batch.boundingBox(), await role.boundingBox()];
      return b && r ? b.height - r.height : null;
    };
    await expect.poll(extraHeight, { timeout: 15000 }).toBeLessThanOrEqual(1);
  });

  test('a processor without a splitter shows its diagnostic on the cell', async ({
    page
  }, testInfo) => {
    await page.notebook.selectCells(PROCESSOR);
    await execute(page, 'naavre-batch:set-processor');
    const diagnostic = cell(page, PROCESSOR).locator(
      '.jp-NaavreBatch-diagnostic[data-code="processor-outside-section"]'
    );
    await expect(diagnostic).toBeVisible();
    await expect(diagnostic).toContainText('not inside a split/merge section');
    await expect(diagnostic).toHaveAttribute('aria-label', /Hint: .*splitter/);
    const hint = diagnostic.locator('.jp-NaavreBatch-diagnostic-hint');
    await expect(hint).toBeHidden();
    await diagnostic.focus();
    await expect(hint).toBeVisible();
    await expect(hint).toContainText('splitter');
    // shown as an overlay: the cell does not move
    const before = await cell(page, PROCESSOR)
      .locator('.jp-InputPrompt')
      .boundingBox();
    await diagnostic.hover();
    await expect(hint).toBeVisible();
    expect(
      await cell(page, PROCESSOR).locator('.jp-InputPrompt').boundingBox()
    ).toEqual(before);
    await testInfo.attach('diagnostic-hint', {
      body: await cell(page, PROCESSOR).screenshot(),
      contentType: 'image/png'
    });

    // tagging the splitter and the merger clears it
    await page.notebook.selectCells(SPLITTER);
    await execute(page, 'naavre-batch:set-splitter', { batchCount: 5 });
    await page.notebook.selectCells(MERGER);
    await execute(page, 'naavre-batch:set-merger');
    await expect(
      cell(page, PROCESSOR).locator('.jp-NaavreBatch-diagnostic')
    ).toHaveCount(0);
  });

  test('screenshots of the tagged notebook in the light and dark themes', async ({
    page
  }, testInfo) => {
    await tagSeed(page);
    await expectSeedBadges(page);
    // The badges are complete once the server's spec named the steps: the cell toolbar decides
    // whether it fits beside the cell's content when it appears, so the layout must be final.
    for (const [index, step] of [
      [SPLITTER, 'gen-batches'],
      [PROCESSOR, 'process-batches'],
      [MERGER, 'retrieve-batches']
    ] as const) {
      await expect(
        cell(page, index).locator('.jp-NaavreBatch-badge-step')
      ).toHaveText(step);
    }
    await cell(page, SPLITTER).locator('.jp-InputPrompt').click();
    await expect(
      cell(page, SPLITTER).locator('.jp-NaavreBatch-roleSelect')
    ).toBeVisible();
    await page.waitForTimeout(300);

    // tall enough to show the header, the three roles and the diagnostics-free notebook at once
    await page.setViewportSize({ width: 1280, height: 1500 });
    await page.waitForTimeout(300);
    const notebook = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)');
    for (const theme of ['light', 'dark'] as const) {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      }
      await cell(page, 1).scrollIntoViewIfNeeded();
      const shot = await notebook.screenshot();
      await testInfo.attach(`tagging-${theme}`, {
        body: shot,
        contentType: 'image/png'
      });
      await notebook.screenshot({
        path: path.join(IMAGES, `tagging-${theme}.png`)
      });
    }
    await page.theme.setLightTheme();
  });
});
