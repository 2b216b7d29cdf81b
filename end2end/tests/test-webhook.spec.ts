import { test, expect, type Page } from '@playwright/test';
import {
  collectPageErrors,
  createAdmin,
  createAgentViaApi,
  getExecutionViaApi,
  openAgentPage,
  parseJson,
  ORIGIN,
  randomSuffix,
  section,
  signIn,
  TICKET_SCHEMA,
  UUID_RE,
  type Admin,
  type Agent,
} from './helpers';

// The agent page's "Test Webhook" sender and the "Executions" list it feeds.

let admin: Admin;

test.beforeAll(() => {
  admin = createAdmin('sender');
});

test.beforeEach(async ({ page, context }) => {
  test.setTimeout(60_000);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ORIGIN });
  await signIn(page, admin, '/agents');
});

async function agentWithSchema(page: Page): Promise<Agent> {
  const agent = await createAgentViaApi(page.request, {
    name: `Sender ${randomSuffix()}`,
    payload_schema: TICKET_SCHEMA,
  });
  await openAgentPage(page, agent);
  return agent;
}

/** Sends the payload in the editor (or the one given) and returns the result element. */
async function sendTest(page: Page, payload?: string) {
  const editor = page.getByLabel('Test payload (JSON)', { exact: true });
  if (payload !== undefined) await editor.fill(payload);
  await page.getByRole('button', { name: 'Send Test Webhook' }).click();
  return page.getByTestId('test-result');
}

test('the prefilled payload satisfies the schema and is accepted (202)', async ({ page }) => {
  const errors = collectPageErrors(page);
  const agent = await agentWithSchema(page);
  await expect(section(page, 'Test Webhook', 2)).toBeVisible();
  const editor = page.getByLabel('Test payload (JSON)', { exact: true });
  await expect.poll(async () => parseJson(await editor.inputValue())).toMatchObject({
    ticket_id: expect.any(Number),
  });
  const sample = parseJson(await editor.inputValue()) as { ticket_id: number };
  expect(Number.isInteger(sample.ticket_id)).toBe(true);

  const result = await sendTest(page);
  await expect(result).toContainText('202');
  await expect(result).toContainText('Webhook accepted!');
  await expect(result).toContainText(UUID_RE);
  const executionId = (await result.innerText()).match(UUID_RE)![0];

  // Copy the execution id.
  await page.evaluate(() => navigator.clipboard.writeText('nothing copied yet'));
  await page.getByRole('button', { name: 'Copy execution ID' }).click();
  await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(executionId);

  // The full JSON response.
  const full = page.locator('details').filter({ has: page.locator('summary', { hasText: 'Full response' }) });
  await expect(full).toHaveCount(1);
  await full.locator('summary').click();
  await expect(full).toContainText('"queued"');
  await expect(full).toContainText(executionId);

  // An equivalent curl command, signed like a real sender.
  await expect(page.getByText('Equivalent curl command').first()).toBeVisible();
  const curl = page.getByText(/curl[\s\S]*X-Hub-Signature-256: sha256=/).first();
  await expect(curl).toContainText(agent.webhook_url!);

  // The execution really exists.
  const execution = await getExecutionViaApi(page.request, executionId);
  expect(execution.payload).toEqual(sample);
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('a payload that breaks the schema gets 400 with the field path', async ({ page }) => {
  await agentWithSchema(page);
  const result = await sendTest(page, JSON.stringify({ ticket_id: 'not-a-number', subject: 'e2e' }, null, 2));
  await expect(result).toContainText('400');
  await expect(result).toContainText('/ticket_id');
  await expect(result).not.toContainText('Webhook accepted!');
  await expect(page.getByRole('button', { name: 'Copy execution ID' })).toHaveCount(0);
});

test('without a schema, a generic event is prefilled and accepted', async ({ page }) => {
  const agent = await createAgentViaApi(page.request, { name: `Generic ${randomSuffix()}` });
  await openAgentPage(page, agent);
  const editor = page.getByLabel('Test payload (JSON)', { exact: true });
  await expect.poll(async () => {
    const value = parseJson(await editor.inputValue());
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  }).toBe(true);
  const result = await sendTest(page);
  await expect(result).toContainText('202');
  await expect(result).toContainText('Webhook accepted!');
});

test('an agent that requires a signed timestamp gets a Standard Webhooks test delivery', async ({ page }) => {
  const agent = await createAgentViaApi(page.request, {
    name: `Strict ${randomSuffix()}`,
    require_timestamp: true,
  });
  await openAgentPage(page, agent);
  const result = await sendTest(page);
  await expect(result).toContainText('202');
  await expect(result).toContainText('Webhook accepted!');
  const curl = page.locator('pre.curl');
  await expect(curl).toContainText(agent.webhook_url!);
  await expect(curl).toContainText(/webhook-id: test_/);
  await expect(curl).toContainText(/webhook-timestamp: \d+/);
  await expect(curl).toContainText(/webhook-signature: v1,/);
  await expect(curl).not.toContainText('X-Hub-Signature-256');
});

test('the execution appears in the list and completes without a reload', async ({ page }) => {
  const errors = collectPageErrors(page);
  await agentWithSchema(page);
  // Survives only as long as the document does: a reload or full navigation clears it.
  await page.evaluate(() => ((window as unknown as { __e2eSameDocument: boolean }).__e2eSameDocument = true));

  const executions = page.getByRole('table', { name: 'Executions' });
  await expect(section(page, 'Executions', 2)).toBeVisible();

  const payload = { ticket_id: 4242, subject: `executions ${randomSuffix()}` };
  const result = await sendTest(page, JSON.stringify(payload));
  await expect(result).toContainText('202');
  await expect(result).toContainText(UUID_RE);
  const executionId = (await result.innerText()).match(UUID_RE)![0];

  await expect(executions).toBeVisible();
  const headers = (await executions.getByRole('columnheader').allTextContents()).map((t) => t.trim());
  for (const column of ['Status', 'Received', 'Duration', 'Attempts']) {
    expect(headers).toContain(column);
  }
  // (A `has` locator is relative to the row, so it starts from the page.)
  const view = page.getByRole('button', { name: `View ${executionId.slice(0, 8)}` });
  await expect(executions.getByRole('row').filter({ has: view })).toBeVisible({ timeout: 15_000 });
  const row = executions.getByRole('row').filter({ has: view });
  await expect(row).toContainText('completed', { timeout: 20_000 });

  // The details: payload, result and error.
  await view.click();
  const list = section(page, 'Executions', 2);
  await expect(list.getByText('Payload', { exact: true })).toBeVisible();
  await expect(list.getByText('Result', { exact: true })).toBeVisible();
  await expect(list.getByText('Error', { exact: true })).toBeVisible();
  await expect(list).toContainText(payload.subject);

  expect(
    await page.evaluate(() => (window as unknown as { __e2eSameDocument?: boolean }).__e2eSameDocument),
    'the page was not reloaded',
  ).toBe(true);
  expect((await getExecutionViaApi(page.request, executionId)).status).toBe('completed');
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('while an execution is unfinished the list polls every ~2 s', async ({ page }) => {
  // The built-in runner finishes at once, so the first list fetched after the test webhook
  // is made to say "running": the page must then fetch again by itself and show "completed".
  await agentWithSchema(page);
  const fetches: number[] = [];
  let armed = false; // only the fetches that follow the test webhook count
  await page.route('**/api/fn/list_executions*', async (route) => {
    if (!armed) return route.continue();
    fetches.push(Date.now());
    const response = await route.fetch();
    let body = await response.text();
    if (fetches.length === 1) body = body.replace(/"status":"(queued|completed)"/g, '"status":"running"');
    await route.fulfill({ response, body });
  });
  await page.evaluate(() => ((window as unknown as { __e2eSameDocument: boolean }).__e2eSameDocument = true));

  armed = true;
  const result = await sendTest(page, JSON.stringify({ ticket_id: 7, subject: 'poll' }));
  await expect(result).toContainText('202');
  const executionId = (await result.innerText()).match(UUID_RE)![0];
  const executions = page.getByRole('table', { name: 'Executions' });
  const row = executions
    .getByRole('row')
    .filter({ has: page.getByRole('button', { name: `View ${executionId.slice(0, 8)}` }) });
  await expect(row).toContainText('running');
  await expect(row).toContainText('completed', { timeout: 10_000 });
  expect(fetches.length).toBeGreaterThanOrEqual(2);
  const interval = fetches[1] - fetches[0];
  expect(interval, 'delay before the list is fetched again').toBeGreaterThan(1_000);
  expect(interval, 'delay before the list is fetched again').toBeLessThan(5_000);
  // Nothing unfinished any more: the polling stops.
  const settled = fetches.length;
  await page.waitForTimeout(4_500);
  expect(fetches.length, 'no polling once every execution is finished').toBe(settled);
  expect(
    await page.evaluate(() => (window as unknown as { __e2eSameDocument?: boolean }).__e2eSameDocument),
    'the page was not reloaded',
  ).toBe(true);
});
