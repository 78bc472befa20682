import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import type { Role } from '../spec';
import { CommandIDs, IBatchSpecModel } from '../tokens';
import {
  cellBatchCount,
  cellRole,
  cellTags,
  RoleChoice,
  selectedCodeCells,
  setCellsRole
} from './actions';
import { parameterNames } from './layout';
import { naavreTags, normaliseBatchCount, TagBatchCount } from './tags';

/**
 * The tagging commands. Each acts on every selected code cell of the current notebook (or the
 * active one) as one undoable change, and asks the server for a fresh spec at once.
 */
export function addTaggingCommands(options: {
  app: JupyterFrontEnd;
  tracker: INotebookTracker;
  specModel: IBatchSpecModel;
  trans: TranslationBundle;
  palette: ICommandPalette | null;
  defaultBatchCount: () => number;
}): void {
  const { app, tracker, specModel, trans, palette, defaultBatchCount } =
    options;
  const category = trans.__('Batch Workflow');

  const cells = () => selectedCodeCells(tracker.currentWidget);
  const writable = () => {
    const panel = tracker.currentWidget;
    return (
      !!panel && !!panel.model && !panel.model.readOnly && cells().length > 0
    );
  };
  const allHave = (role: RoleChoice) => {
    const list = cells();
    return (
      list.length > 0 &&
      list.every(cell => (cellRole(cell.model) ?? 'none') === role)
    );
  };

  const apply = async (
    role: RoleChoice,
    batchCount?: TagBatchCount | null
  ): Promise<number> => {
    const panel = tracker.currentWidget;
    if (!panel) {
      return 0;
    }
    let changed = 0;
    try {
      changed = setCellsRole(
        panel,
        cells(),
        role,
        role === 'splitter'
          ? model => batchCount ?? cellBatchCount(model) ?? defaultBatchCount()
          : null
      );
    } catch (reason) {
      await showErrorMessage(
        trans.__('Cannot set the batch workflow role'),
        reason as Error
      );
      return 0;
    }
    void specModel.refresh();
    return changed;
  };

  const roleCommand = (
    id: string,
    role: Role,
    label: string,
    caption: string
  ) => {
    app.commands.addCommand(id, {
      label,
      caption,
      isEnabled: writable,
      isToggled: () => allHave(role),
      describedBy: {
        args: {
          type: 'object',
          properties:
            role === 'splitter'
              ? {
                  batchCount: {
                    type: ['integer', 'string'],
                    description: trans.__(
                      "Batch count: an integer >= 1 or a param_ parameter name (default: keep the cell's, else the setting)"
                    )
                  }
                }
              : {}
        }
      },
      execute: args => {
        const count = args.batchCount as TagBatchCount | undefined;
        return apply(role, role === 'splitter' ? (count ?? null) : null);
      }
    });
  };

  roleCommand(
    CommandIDs.setSplitter,
    'splitter',
    trans.__('Set Role: Splitter'),
    trans.__(
      'Tag the selected cells as splitter steps: they create the list to split into batches'
    )
  );
  roleCommand(
    CommandIDs.setProcessor,
    'processor',
    trans.__('Set Role: Processor'),
    trans.__(
      'Tag the selected cells as processor steps: they run once per batch, in parallel'
    )
  );
  roleCommand(
    CommandIDs.setMerger,
    'merger',
    trans.__('Set Role: Merger'),
    trans.__(
      'Tag the selected cells as merger steps: they see the merged results'
    )
  );

  app.commands.addCommand(CommandIDs.clearRole, {
    label: trans.__('Clear Role'),
    caption: trans.__(
      'Remove every naavre: tag of the selected cells (other tags are kept)'
    ),
    isEnabled: () =>
      writable() && cells().some(cell => hasNaavreTags(cell.model)),
    execute: () => apply('none')
  });

  app.commands.addCommand(CommandIDs.setBatchCount, {
    label: trans.__('Set Batch Count…'),
    caption: trans.__(
      'Set how many batches the selected splitter cells split their list into'
    ),
    isEnabled: () =>
      writable() && cells().some(cell => cellRole(cell.model) === 'splitter'),
    describedBy: {
      args: {
        type: 'object',
        properties: {
          batchCount: {
            type: ['integer', 'string'],
            description: trans.__(
              'An integer >= 1 or a param_ parameter name; asked when absent'
            )
          }
        }
      }
    },
    execute: async (args: ReadonlyPartialJSONObject) => {
      const splitters = cells().filter(
        cell => cellRole(cell.model) === 'splitter'
      );
      if (splitters.length === 0) {
        return 0;
      }
      let value: TagBatchCount | null =
        args.batchCount === undefined
          ? null
          : normaliseBatchCount(args.batchCount as TagBatchCount);
      if (args.batchCount === undefined) {
        const current =
          cellBatchCount(splitters[0].model) ?? defaultBatchCount();
        const names =
          specModel.notebook === tracker.currentWidget
            ? parameterNames(specModel.spec)
            : [];
        const items = [
          String(current),
          ...names.filter(n => n !== String(current))
        ];
        const answer = await InputDialog.getItem({
          title: trans.__('Batch count'),
          label: trans.__(
            'Split into at most this many batches (a number, or a param_ parameter):'
          ),
          items,
          current: 0,
          editable: true
        });
        if (!answer.button.accept || answer.value === null) {
          return 0;
        }
        value = normaliseBatchCount(answer.value);
      }
      if (value === null) {
        await showErrorMessage(
          trans.__('Invalid batch count'),
          trans.__(
            'The batch count must be a whole number of at least 1, or a param_ parameter name.'
          )
        );
        return 0;
      }
      const panel = tracker.currentWidget!;
      const changed = setCellsRole(panel, splitters, 'splitter', value);
      void specModel.refresh();
      return changed;
    }
  });

  const refreshState = () => {
    for (const id of [
      CommandIDs.setSplitter,
      CommandIDs.setProcessor,
      CommandIDs.setMerger,
      CommandIDs.clearRole,
      CommandIDs.setBatchCount
    ]) {
      app.commands.notifyCommandChanged(id);
    }
  };
  tracker.activeCellChanged.connect(refreshState);
  tracker.selectionChanged.connect(refreshState);
  tracker.currentChanged.connect(refreshState);

  if (palette) {
    for (const command of [
      CommandIDs.setSplitter,
      CommandIDs.setProcessor,
      CommandIDs.setMerger,
      CommandIDs.clearRole,
      CommandIDs.setBatchCount
    ]) {
      palette.addItem({ command, category });
    }
  }
}

function hasNaavreTags(model: Parameters<typeof cellTags>[0]): boolean {
  return naavreTags(cellTags(model) ?? []).length > 0;
}
