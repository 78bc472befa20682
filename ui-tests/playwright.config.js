/**
 * Galata's configuration, with Debian's chromium: no browser can be downloaded on our machines.
 *
 * The tests start their own JupyterLab on a free port and never reuse a server they did not start:
 * the README's first command leaves `jupyter lab` on 8888, and reusing it (or any other server)
 * gives its login page and a time-out instead of a test result. The server's log goes to
 * test-results/jupyter-server.log (kept as an artifact), not into the test output; the
 * server-log reporter prints it when the run fails.
 *
 * The extension's settings are Galata's in-memory mock (its defaults) with one change: the panel
 * follows a cluster run every 500 ms instead of every 2 s (`clusterPollInterval`). The fake Argo
 * server (tests/argo_fake.py) moves a run on by one controller step per fetch, so the tests see
 * the same states in the same order, four times sooner.
 */
const { execFileSync } = require('child_process');
const path = require('path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');
const { galata } = require('@jupyterlab/galata');

/** A free loopback port other than 8888, found once: the workers inherit it through the env. */
function freePort() {
  const script =
    "const s = require('net').createServer();" +
    "s.listen(0, '127.0.0.1', () => { process.stdout.write(String(s.address().port)); s.close(); });";
  for (;;) {
    const port = execFileSync(process.execPath, ['-e', script])
      .toString()
      .trim();
    if (port !== '8888') {
      return port;
    }
  }
}

if (!process.env.NAAVRE_UI_TESTS_PORT) {
  process.env.NAAVRE_UI_TESTS_PORT = freePort();
}
const port = process.env.NAAVRE_UI_TESTS_PORT;
const baseURL = `http://localhost:${port}`;
const outputDir = 'test-results';
const serverLog = path.join(outputDir, 'jupyter-server.log');

module.exports = {
  ...baseConfig,
  outputDir,
  reporter: [
    ['list'],
    ['html', { open: 'never' }],
    ['./server-log-reporter.js', { log: path.join(__dirname, serverLog) }]
  ],
  use: {
    ...baseConfig.use,
    baseURL,
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      'naavre-batch-ext:plugin': { clusterPollInterval: 500 }
    },
    video: 'off',
    // Recording a trace of every test (to keep the failed ones') made the suite about a third
    // slower on two cores; a failed test keeps its screenshot, its page snapshot
    // (error-context.md) and the server log. `jlpm playwright test --trace retain-on-failure`
    // records traces again.
    trace: 'off',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: {
    // The port reaches the server as NAAVRE_UI_TESTS_PORT (jupyter_server_test_config.py), with
    // port_retries 0: a port taken in the meantime is an error, never another port. Playwright
    // empties outputDir before it starts the server, so the folder is made here.
    command: `mkdir -p ${outputDir} && jlpm start > ${serverLog} 2>&1`,
    url: `${baseURL}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: false
  }
};
