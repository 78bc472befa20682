import { TranslationBundle } from '@jupyterlab/translation';

import type { Role } from './spec';

/**
 * The translated name of a role, as the badges and the graph both show it.
 */
export function roleLabel(role: Role, trans: TranslationBundle): string {
  switch (role) {
    case 'splitter':
      return trans.__('splitter');
    case 'processor':
      return trans.__('processor');
    case 'merger':
      return trans.__('merger');
  }
}
