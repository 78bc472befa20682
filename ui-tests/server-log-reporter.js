/**
 * A Playwright reporter that shows the JupyterLab server's log only when the run did not pass.
 *
 * The server (started by playwright.config.js's webServer) writes a couple of thousand lines;
 * they stay in test-results/jupyter-server.log, an artifact, and are printed after the results
 * when something failed (a test, or the server itself not starting), where they help.
 */
const fs = require('fs');

/** Lines printed at most; the whole log stays in the file. */
const MAX_LINES = 400;

class ServerLogReporter {
  constructor(options = {}) {
    this.log = options.log;
  }

  printsToStdio() {
    return false;
  }

  onEnd(result) {
    if (result.status === 'passed' || !this.log) {
      return;
    }
    let text;
    try {
      text = fs.readFileSync(this.log, 'utf-8');
    } catch (error) {
      process.stdout.write(
        `\nJupyter server log: none at ${this.log} (${error.message})\n`
      );
      return;
    }
    const lines = text.split('\n');
    const shown = lines.slice(-MAX_LINES);
    const cut =
      lines.length > shown.length
        ? `, last ${shown.length} of ${lines.length} lines`
        : '';
    process.stdout.write(
      `\n---- Jupyter server log (${this.log}${cut}) ----\n${shown.join('\n')}\n---- end of server log ----\n`
    );
  }
}

module.exports = ServerLogReporter;
