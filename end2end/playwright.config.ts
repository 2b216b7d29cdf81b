import { defineConfig, devices } from '@playwright/test';

// scripts/test.sh starts the server on a free port and passes its URL here.
const baseURL = process.env.BASE_URL || 'http://127.0.0.1:3000';
// Playwright cannot download its own browser on our machines: use the system one.
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export default defineConfig({
  testDir: './tests',
  outputDir: 'test-results',
  forbidOnly: !!process.env.CI,
  // One worker: the tests share one server and one database.
  workers: 1,
  // On CI a failed test runs once more: a test that passes the second time is reported as
  // "flaky" (scripts/test.sh repeats those lines at the end), one that fails twice fails the run.
  retries: process.env.CI ? 1 : 0,
  reporter: 'list',
  use: {
    baseURL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        launchOptions: {
          executablePath,
          // Playwright adds --headless itself. No sandbox: we run as root.
          // The rest keeps Chromium from calling home (no network here).
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        },
      },
    },
  ],
});
