import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { API_NAMESPACE } from './tokens';

/**
 * An error answer of the server extension, with the message the server wrote for the user.
 */
export class APIError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: any
  ) {
    super(message);
  }
}

/**
 * Call the server extension's REST API (`<base>/naavre-batch-ext/<endPoint>`) with the
 * server's token and XSRF handling, and return the parsed JSON answer.
 *
 * @param endPoint API endpoint, e.g. `info` or `spec`
 * @param serverSettings the application's `serviceManager.serverSettings`
 * @param init initial values for the request
 */
export async function requestAPI<T>(
  endPoint: string,
  serverSettings: ServerConnection.ISettings,
  init: RequestInit = {}
): Promise<T> {
  const requestUrl = URLExt.join(
    serverSettings.baseUrl,
    API_NAMESPACE,
    endPoint
  );
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      requestUrl,
      init,
      serverSettings
    );
  } catch (error) {
    throw new ServerConnection.NetworkError(error as any);
  }
  const text = await response.text();
  let data: any = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // keep the text: the message below still shows it
    }
  }
  if (!response.ok) {
    const message =
      (data && typeof data === 'object' && data.message) ||
      `${response.status} ${response.statusText}`;
    throw new APIError(message, response.status, data);
  }
  return data as T;
}
