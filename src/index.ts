import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { basePlugin } from './plugin';

/**
 * The extension's plugins; this file only wires them.
 */
const plugins: JupyterFrontEndPlugin<any>[] = [basePlugin];

export default plugins;
