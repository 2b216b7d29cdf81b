import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import {
  createAdmin,
  createAgentViaApi,
  executionRequest,
  MASKED,
  openAgentPage,
  section,
  signIn,
  TICKET_SCHEMA,
  UUID_RE,
} from './helpers';

// The README's pictures: the agent page (a real agent with a schema and one completed
// execution), that execution's page, and the home dashboard. The pages are always
// exercised; the pictures are written to docs/screenshots/ only when asked
// (UPDATE_SCREENSHOTS=1), so a test run leaves the work tree as it found it.

const SCREENSHOTS = path.resolve(__dirname, '..', '..', 'docs', 'screenshots');
const UPDATE = process.env.UPDATE_SCREENSHOTS === '1';

async function picture(page: Page, name: string): Promise<void> {
  const png = await page.screenshot({ fullPage: true, animations: 'disabled', caret: 'hide' });
  expect(png.length).toBeGreaterThan(10_000);
  if (UPDATE) {
    mkdirSync(SCREENSHOTS, { recursive: true });
    writeFileSync(path.join(SCREENSHOTS, name), png);
  }
}

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

  await picture(page, 'agent-detail.png');

  // Its execution's page, and the dashboard with this traffic and one refused request.
  await view.click();
  await page.getByRole('link', { name: `Open execution ${executionId}` }).click();
  await expect(section(page, 'Timeline', 2)).toContainText('Finished: completed');
  await executionRequest(page, '[redacted]');
  await picture(page, 'execution.png');

  await page.request.post(agent.webhook_url!, {
    data: '{"ticket_id": 1}',
    headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': 'sha256=00' },
  });
  await expect(async () => {
    await page.goto('/');
    await expect(section(page, 'Last 24 hours', 2)).toContainText('invalid_signature: 1', { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await picture(page, 'dashboard.png');
});
