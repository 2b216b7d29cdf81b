import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, expect } from '@playwright/test';
import {
  createAdmin,
  createAgentViaApi,
  MASKED,
  openAgentPage,
  section,
  signIn,
  TICKET_SCHEMA,
  UUID_RE,
} from './helpers';

// The README's picture of the agent page: a real agent with a schema and one completed
// execution. The page is always exercised; the picture is written to
// docs/screenshots/agent-detail.png only when asked (UPDATE_SCREENSHOTS=1), so a test run
// leaves the work tree as it found it.

const SCREENSHOT = path.resolve(__dirname, '..', '..', 'docs', 'screenshots', 'agent-detail.png');
const UPDATE = process.env.UPDATE_SCREENSHOTS === '1';

test.use({ viewport: { width: 1280, height: 900 } });

test('agent detail page screenshot for the README', async ({ page }) => {
  test.setTimeout(90_000);
  const admin = createAdmin('ops');
  await signIn(page, admin, '/agents');
  const agent = await createAgentViaApi(page.request, {
    name: 'Ticket triage',
    description: 'Triages new ServiceDesk Plus tickets',
    payload_schema: TICKET_SCHEMA,
  });
  await openAgentPage(page, agent);

  await page
    .getByLabel('Test payload (JSON)', { exact: true })
    .fill(JSON.stringify({ ticket_id: 4711, subject: 'Printer on fire' }, null, 2));
  await page.getByRole('button', { name: 'Send Test Webhook' }).click();
  const result = page.getByTestId('test-result');
  await expect(result).toContainText('Webhook accepted!');
  const executionId = (await result.innerText()).match(UUID_RE)![0];

  const executions = page.getByRole('table', { name: 'Executions' });
  const view = page.getByRole('button', { name: `View ${executionId.slice(0, 8)}` });
  await expect(executions.getByRole('row').filter({ has: view })).toContainText('completed', {
    timeout: 20_000,
  });
  // Never a secret in a picture.
  await expect(page.getByLabel('HMAC secret', { exact: true })).toHaveValue(MASKED);
  await expect(section(page, 'Status', 2)).toBeVisible();

  const picture = await page.screenshot({ fullPage: true, animations: 'disabled', caret: 'hide' });
  expect(picture.length).toBeGreaterThan(10_000);
  if (UPDATE) {
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    writeFileSync(SCREENSHOT, picture);
  }
});
