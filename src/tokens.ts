/**
 * Identifiers shared by every plugin of the extension: plugin ids, command ids, translation domain.
 */

/** The npm package name, also the prefix of every plugin id. */
export const EXTENSION_ID = 'naavre-batch-ext';

/** The plugin that owns the settings in `schema/plugin.json`. */
export const PLUGIN_ID = `${EXTENSION_ID}:plugin`;

/** Translation domain of the extension's strings. */
export const TRANSLATION_DOMAIN = 'naavre_batch_ext';

/** The server extension's URL namespace, below the server's base URL. */
export const API_NAMESPACE = 'naavre-batch-ext';

/**
 * Every command of the extension, `'naavre-batch:verb-noun'`.
 */
export namespace CommandIDs {
  /** Show which extension and spec versions the server speaks. */
  export const showInfo = 'naavre-batch:show-info';
}

/** The `GET /naavre-batch-ext/info` answer. */
export interface IServerInfo {
  /** The Python package version. */
  version: string;
  /** The workflow spec version the server produces, e.g. `naavre-batch/v1`. */
  specVersion: string;
}
