import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { panelPlugin } from './panel/plugin';
import { basePlugin } from './plugin';

/**
 * The extension's plugins; this file only wires them.
 */
const plugins: JupyterFrontEndPlugin<any>[] = [basePlugin, panelPlugin];

export default plugins;
