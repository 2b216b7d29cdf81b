import { test, expect, type Page } from '@playwright/test';
import {
  collectPageErrors,
  createAdmin,
  createAgentViaApi,
  executionRequest,
  getExecutionViaApi,
  gotoHydrated,
  hubSignature,
  openAgentPage,
  randomSuffix,
  revealSecretViaApi,
  section,
  sendSignedWebhook,
  signIn,
  UUID_RE,
  waitForHydration,
  type Admin,
  type Agent,
} from './helpers';
import { startReceiver, type Receiver } from './receiver';

// Day-to-day operations in the UI: the request log, the execution page and replays, the
// executions list's filters and pages, the agent's settings and deletion, API tokens, and
// the home dashboard. Each test has its own agents in this file's tenant.

let admin: Admin;
let failing: Receiver;

test.beforeAll(async () => {
  admin = createAdmin('ops');
  // An http runtime answered 400 fails at once (a 4xx is not retried).
  failing = await startReceiver({ error: 'no thanks' }, 400);
});

test.afterAll(async () => {
  await failing.close();
});

async function newAgent(page: Page, name: string): Promise<Agent & { secret: string }> {
  const agent = await createAgentViaApi(page.request, {
    name: `${name} ${randomSuffix()}`,
    rate_limit_per_minute: null,
  });
  const { hmac_secret } = await revealSecretViaApi(page.request, agent.id);
  return { ...agent, secret: hmac_secret };
}

test('the request log shows accepted and refused requests, with redacted headers', async ({ page }) => {
  const errors = collectPageErrors(page);
  await signIn(page, admin, '/agents');
  const agent = await newAgent(page, 'Logged');
  expect((await sendSignedWebhook(page.request, agent.webhook_url!, agent.secret, { n: 1 })).status()).toBe(202);
  const refused = await page.request.post(agent.webhook_url!, {
    data: '{"n":2}',
    headers: {
      'Content-Type': 'application/json',
      'X-Hub-Signature-256': hubSignature('not-the-secret', '{"n":2}'),
      'X-GitHub-Delivery': 'delivery-refused-1',
    },
  });
  expect(refused.status()).toBe(401);

  await openAgentPage(page, agent);
  const log = section(page, 'Request log', 2);
  const rows = log.getByRole('table', { name: 'Requests' }).locator('tbody tr[data-request-id]');
  // Written within about a second: refresh until both are there.
  await expect(async () => {
    await log.getByRole('button', { name: 'Refresh' }).click();
    await expect(rows).toHaveCount(2, { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  const rejected = rows.filter({ hasText: 'rejected · invalid_signature' });
  await expect(rejected).toContainText('401');
  await expect(rejected).toContainText('delivery-refused-1');
  await expect(rejected).toContainText('127.0.0.1');
  await expect(rows.filter({ hasText: 'accepted' })).toContainText('202');

  const details = log.locator('.details-row');
  // The last Refresh may still be re-rendering the rows: open the details once they settle.
  await expect(async () => {
    if ((await details.count()) === 0) {
      await rejected.getByRole('button').click();
    }
    await expect(details).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await expect(details).toContainText('x-hub-signature-256: [redacted]');
  await expect(details).toContainText('x-github-delivery: delivery-refused-1');
  await expect(details).toContainText('7 bytes · SHA-256');
  await expect(details).not.toContainText(hubSignature('not-the-secret', '{"n":2}').slice(7));

  await log.getByLabel('Outcome').selectOption('accepted');
  await expect(rows).toHaveCount(1);
  await expect(rows).toContainText('accepted');
  expect(errors).toEqual([]);
});

test('an execution page shows the timeline, payload and request, and Replay queues a copy', async ({ page }) => {
  const errors = collectPageErrors(page);
  await signIn(page, admin, '/agents');
  const agent = await newAgent(page, 'Replayed');
  const response = await sendSignedWebhook(page.request, agent.webhook_url!, agent.secret, { ticket: 4711 });
  const { execution_id } = await response.json();

  await openAgentPage(page, agent);
  const executions = section(page, 'Executions', 2);
  await expect(executions.locator('.badge-completed')).toHaveCount(1, { timeout: 20_000 });
  await executions.getByRole('button', { name: /^View / }).click();
  await executions.getByRole('link', { name: `Open execution ${execution_id}` }).click();

  await expect(page).toHaveURL(new RegExp(`/executions/${execution_id}$`));
  await expect(page.getByRole('heading', { level: 1, name: `Execution ${execution_id.slice(0, 8)}` })).toBeVisible();
  await expect(page.locator('.page-header .badge')).toHaveText('completed');
  const timeline = section(page, 'Timeline', 2);
  await expect(timeline).toContainText('Received');
  await expect(timeline).toContainText('Attempt 1 started');
  await expect(timeline).toContainText('Finished: completed');
  await expect(section(page, 'Payload', 2)).toContainText('"ticket": 4711');
  const request = await executionRequest(page, 'x-hub-signature-256: [redacted]');
  await expect(request).toContainText('content-type: application/json');
  await expect(page.getByRole('link', { name: agent.name })).toHaveAttribute('href', `/agents/${agent.id}`);

  await page.getByRole('button', { name: 'Replay', exact: true }).click();
  await expect(page).not.toHaveURL(new RegExp(`/executions/${execution_id}$`));
  await expect(page.getByRole('link', { name: execution_id })).toBeVisible();
  const replayId = page.url().match(UUID_RE)![0];
  expect(replayId).not.toBe(execution_id);
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(page.locator('.page-header .badge')).toHaveText('completed', { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await expect(section(page, 'Payload', 2)).toContainText('"ticket": 4711');
  const replay = await (await page.request.get(`/api/executions/${replayId}`)).json();
  expect(replay.replay_of).toBe(execution_id);
  expect(replay.payload).toEqual({ ticket: 4711 });
  expect(errors).toEqual([]);
});

test('the executions list filters by status and delivery id, pages, and replays failed ones', async ({ page }) => {
  test.setTimeout(90_000);
  const errors = collectPageErrors(page);
  await signIn(page, admin, '/agents');
  const agent = await newAgent(page, 'Paged');
  // 26 executions: one page of 25 and one more.
  const ids: string[] = [];
  for (let n = 0; n < 26; n++) {
    const body = JSON.stringify({ n });
    const res = await page.request.post(agent.webhook_url!, {
      data: body,
      headers: {
        'Content-Type': 'application/json',
        'X-Hub-Signature-256': hubSignature(agent.secret, body),
        'X-GitHub-Delivery': `paged-${n}`,
      },
    });
    expect(res.status()).toBe(202);
    ids.push((await res.json()).execution_id);
  }
  // All of them run with the built-in runner before the runtime below is made to fail.
  await expect
    .poll(async () => {
      const statuses = await Promise.all(ids.map(async (id) => (await getExecutionViaApi(page.request, id)).status));
      return statuses.filter((status) => status === 'completed').length;
    }, { timeout: 20_000 })
    .toBe(26);
  await openAgentPage(page, agent);
  const executions = section(page, 'Executions', 2);
  const rows = executions.getByRole('table', { name: 'Executions' }).locator('tbody tr[data-execution-id]');
  await expect(rows).toHaveCount(25);
  await executions.getByRole('button', { name: 'Older' }).click();
  await expect(rows).toHaveCount(1);
  await executions.getByRole('button', { name: 'Newest' }).click();
  await expect(rows).toHaveCount(25);

  await executions.getByLabel('Delivery id').fill('paged-7');
  await executions.getByRole('button', { name: 'Apply' }).click();
  await expect(rows).toHaveCount(1);
  await rows.getByRole('button', { name: /^View / }).click();
  await expect(executions.locator('.execution-details')).toContainText('"n": 7');

  // Make it fail from now on: an http runtime whose endpoint answers 400.
  const patched = await page.request.patch(`/api/agents/${agent.id}`, {
    data: { runtime: { kind: 'http', url: `${failing.url}/hook`, timeout_seconds: 5 } },
    headers: { Origin: new URL(page.url()).origin },
  });
  expect(patched.status()).toBe(200);
  const failed = await sendSignedWebhook(page.request, agent.webhook_url!, agent.secret, { n: 'fails' });
  const failedId = (await failed.json()).execution_id;
  await expect.poll(async () => (await (await page.request.get(`/api/executions/${failedId}`)).json()).status, {
    timeout: 20_000,
  }).toBe('failed');

  await gotoHydrated(page, `/agents/${agent.id}`);
  await executions.getByLabel('Status').selectOption('failed');
  await executions.getByRole('button', { name: 'Apply' }).click();
  await expect(rows).toHaveCount(1);
  await expect(rows).toContainText('failed');

  const received = failing.received.length;
  await executions.getByRole('button', { name: 'Replay failed' }).click();
  const dialog = page.getByRole('dialog', { name: 'Replay failed executions?' });
  await dialog.getByRole('button', { name: 'Replay' }).click();
  await expect(executions.getByRole('status').filter({ hasText: '1 execution replayed.' })).toBeVisible();
  // The replay runs (and fails again, as the endpoint still answers 400); Apply reloads.
  await expect.poll(() => failing.received.length, { timeout: 20_000 }).toBe(received + 1);
  await expect(async () => {
    await executions.getByRole('button', { name: 'Apply' }).click();
    await expect(rows).toHaveCount(2, { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  expect(errors).toEqual([]);
});

test('the agent settings form saves, shows errors inline, and Delete archives the agent', async ({ page }) => {
  const errors = collectPageErrors(page);
  await signIn(page, admin, '/agents');
  const agent = await newAgent(page, 'Configured');
  await openAgentPage(page, agent);
  const settings = section(page, 'Settings', 2);

  await settings.getByLabel('Rate limit (webhooks per minute, empty for none)').fill('lots');
  await settings.getByRole('button', { name: 'Save settings' }).click();
  await expect(settings.locator('#settings-rate-error')).toContainText('a whole number');
  await settings.getByLabel('Rate limit (webhooks per minute, empty for none)').fill('0');
  // The server refuses 0; wait for its answer, or the next save would overlap this one.
  const refused = page.waitForResponse((res) => res.url().includes('/api/fn/update_agent'));
  await settings.getByRole('button', { name: 'Save settings' }).click();
  expect((await refused).status()).toBe(400);
  await expect(settings.locator('#settings-rate-error')).toContainText('between 1 and 1000000');
  await settings.getByLabel('Name').fill('');
  await settings.getByLabel('Rate limit (webhooks per minute, empty for none)').fill('30');
  await settings.getByRole('button', { name: 'Save settings' }).click();
  await expect(settings.locator('#settings-name-error')).not.toBeEmpty();

  const renamed = `Renamed ${randomSuffix()}`;
  await settings.getByLabel('Name').fill(renamed);
  await settings.getByLabel('System prompt').fill('Be brief.');
  await settings.getByLabel('Require a signed timestamp (Standard Webhooks headers)').check();
  await settings.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByRole('heading', { level: 1, name: renamed })).toBeVisible();
  await expect(section(page, 'Settings', 2).getByRole('status')).toHaveText('Settings saved.');
  const saved = await (await page.request.get(`/api/agents/${agent.id}`)).json();
  expect(saved).toMatchObject({
    name: renamed,
    system_prompt: 'Be brief.',
    rate_limit_per_minute: 30,
    require_timestamp: true,
  });
  // Only what changed is sent, so the audit entry names exactly that.
  const audit = await (await page.request.get(`/api/agents/${agent.id}/audit`)).json();
  const updated = audit.items.find((e: { action: string }) => e.action === 'agent.updated');
  expect(updated.details.changed).toEqual(['name', 'system_prompt', 'rate_limit_per_minute', 'require_timestamp']);

  // Delete: confirmed in a dialog, then the list, without it.
  await section(page, 'Settings', 2).getByRole('button', { name: 'Delete agent' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete this agent?' });
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
  await section(page, 'Settings', 2).getByRole('button', { name: 'Delete agent' }).click();
  await page.getByRole('dialog', { name: 'Delete this agent?' }).getByRole('button', { name: 'Delete' }).click();
  await expect(page).toHaveURL(/\/agents$/);
  await expect(page.getByRole('link', { name: renamed })).toHaveCount(0);
  const hook = await sendSignedWebhook(page.request, agent.webhook_url!, agent.secret, {});
  expect(hook.status()).toBe(404);
  expect((await (await page.request.get(`/api/agents/${agent.id}`)).json()).status).toBe('archived');
  expect(errors).toEqual([]);
});

test('a token created on the Tokens page is shown once, works, and stops working when revoked', async ({ page, playwright }) => {
  const errors = collectPageErrors(page);
  await signIn(page, admin, '/agents');
  await page.getByRole('link', { name: 'Tokens' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'API tokens' })).toBeVisible();
  const name = `ci-${randomSuffix()}`;
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Expires').selectOption('30');
  await page.getByRole('button', { name: 'Create token' }).click();
  const shown = page.getByLabel('Token (shown once)');
  await expect(shown).toHaveValue(/^awt_/);
  const token = await shown.inputValue();

  const api = await playwright.request.newContext({
    baseURL: new URL(page.url()).origin,
    extraHTTPHeaders: { Authorization: `Bearer ${token}` },
  });
  const row = page.getByRole('table', { name: 'API tokens' }).getByRole('row').filter({ hasText: name });
  await expect(row).toContainText('never');
  expect((await api.get('/api/agents')).status()).toBe(200);
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByLabel('Token (shown once)')).toHaveCount(0);
  await expect(row).not.toContainText(token);
  // Used once now; it expires in 30 days.
  await expect(row.locator('td').nth(2)).not.toHaveText('never');
  await expect(row.locator('td').nth(3)).toContainText('UTC');

  await row.getByRole('button', { name: `Revoke ${name}` }).click();
  await page.getByRole('dialog', { name: 'Revoke this token?' }).getByRole('button', { name: 'Revoke' }).click();
  await expect(row).toHaveCount(0);
  expect((await api.get('/api/agents')).status()).toBe(401);
  await api.dispose();
  expect(errors).toEqual([]);
});

test('the home page shows the tenant’s last 24 hours and links the failing agents', async ({ page }) => {
  const errors = collectPageErrors(page);
  const own = createAdmin('dashboard');
  await signIn(page, own, '/agents');
  const agent = await newAgent(page, 'Dashboard');
  await page.request.patch(`/api/agents/${agent.id}`, {
    data: { runtime: { kind: 'http', url: `${failing.url}/hook`, timeout_seconds: 5 } },
    headers: { Origin: new URL(page.url()).origin },
  });
  const failed = await sendSignedWebhook(page.request, agent.webhook_url!, agent.secret, { n: 1 });
  const failedId = (await failed.json()).execution_id;
  await sendSignedWebhook(page.request, agent.webhook_url!, 'wrong-secret', { n: 2 });
  await expect.poll(async () => (await (await page.request.get(`/api/executions/${failedId}`)).json()).status, {
    timeout: 20_000,
  }).toBe('failed');

  await expect(async () => {
    await gotoHydrated(page, '/');
    const figures = section(page, 'Last 24 hours', 2);
    await expect(figures.locator('.figure').filter({ hasText: 'Accepted webhooks' }).locator('dd')).toHaveText('1', { timeout: 1_000 });
    await expect(figures.locator('.figure').filter({ hasText: 'Rejected webhooks' }).locator('dd')).toHaveText('1', { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  const figures = section(page, 'Last 24 hours', 2);
  await expect(figures.locator('.figure').filter({ hasText: 'Executions failed' }).locator('dd')).toHaveText('1');
  await expect(figures.getByRole('list', { name: 'Rejected by reason' })).toContainText('invalid_signature: 1');
  await figures.getByRole('list', { name: 'Agents with the most failures' }).getByRole('link', { name: agent.name }).click();
  await expect(page).toHaveURL(new RegExp(`/agents/${agent.id}$`));
  expect(errors).toEqual([]);
});
