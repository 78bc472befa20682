import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { panelPlugin } from './panel/plugin';
import { basePlugin } from './plugin';
import { specModelPlugin, taggingPlugin } from './tagging';

/**
 * The extension's plugins; this file only wires them.
 */
const plugins: JupyterFrontEndPlugin<any>[] = [
  basePlugin,
  specModelPlugin,
  taggingPlugin,
  panelPlugin
];

export default plugins;
