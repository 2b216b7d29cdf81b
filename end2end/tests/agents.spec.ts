import { test, expect, type Page } from '@playwright/test';
import {
  BASE_URL,
  collectPageErrors,
  createAdmin,
  createAgentViaApi,
  getAgentViaApi,
  listAgentsViaApi,
  openAgentPage,
  randomSuffix,
  revealSecretViaApi,
  section,
  sendSignedWebhook,
  signIn,
  TICKET_SCHEMA,
  UUID_RE,
  type Admin,
} from './helpers';

// The agents list, the "New agent" form and the agent page's "Status" section.

let admin: Admin;

test.beforeAll(() => {
  admin = createAdmin('agents');
});

function newAgentForm(page: Page) {
  return section(page, 'New agent');
}

test('create an agent and see its webhook URL on its page and in the list', async ({ page }) => {
  const errors = collectPageErrors(page);
  await signIn(page, admin, '/agents');
  await expect(page.getByRole('heading', { level: 1, name: 'Agents', exact: true })).toBeVisible();

  const form = newAgentForm(page);
  await expect(form).toBeVisible();
  const status = form.getByLabel('Status', { exact: true });
  // draft, active, suspended, inactive; active by default.
  const values = await status.locator('option').evaluateAll((options) =>
    options.map((o) => (o as HTMLOptionElement).value),
  );
  expect([...values].sort()).toEqual(['active', 'draft', 'inactive', 'suspended']);
  await expect(status).toHaveValue('active');

  const name = `Ticket triage ${randomSuffix()}`;
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('Description', { exact: true }).fill('Created by agents.spec.ts');
  await form.getByLabel('Payload schema (optional)', { exact: true }).fill(JSON.stringify(TICKET_SCHEMA, null, 2));
  await form.getByRole('button', { name: 'Create agent' }).click();

  // The new agent's page.
  await expect(page).toHaveURL(new RegExp(`/agents/${UUID_RE.source}$`, 'i'));
  const id = new URL(page.url()).pathname.split('/').pop()!;
  await expect(page.getByRole('heading', { level: 1, name, exact: true })).toBeVisible();
  const webhookUrl = `${BASE_URL}/agents/${id}/webhook`;
  await expect(page.getByLabel('Webhook URL', { exact: true })).toHaveValue(webhookUrl);

  // What the server stored.
  const stored = await getAgentViaApi(page.request, id);
  expect(stored.name).toBe(name);
  expect(stored.status).toBe('active');
  expect(stored.webhook_url).toBe(webhookUrl);
  expect(stored.description).toBe('Created by agents.spec.ts');
  expect(stored.payload_schema).toEqual(TICKET_SCHEMA);

  // The list: the name links to the agent's page; the row shows its status and URL.
  await page.getByRole('navigation').getByRole('link', { name: 'Agents', exact: true }).click();
  await expect(page).toHaveURL((url) => url.pathname === '/agents');
  const link = page.getByRole('link', { name, exact: true });
  const row = page.getByRole('table').getByRole('row').filter({ has: link });
  await expect(row).toHaveCount(1);
  await expect(link).toHaveAttribute('href', new RegExp(`/agents/${id}$`));
  await expect(row).toContainText('active');
  await expect(row).toContainText(webhookUrl);

  await link.click();
  await expect(page).toHaveURL((url) => url.pathname === `/agents/${id}`);
  await expect(page.getByRole('heading', { level: 1, name, exact: true })).toBeVisible();
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test.describe('invalid input shows an inline error and creates nothing', () => {
  test.beforeEach(async ({ page }) => {
    await signIn(page, admin, '/agents');
    await expect(newAgentForm(page)).toBeVisible();
  });

  test('empty name', async ({ page }) => {
    const before = (await listAgentsViaApi(page.request)).length;
    const form = newAgentForm(page);
    await form.getByLabel('Name', { exact: true }).fill('');
    await form.getByRole('button', { name: 'Create agent' }).click();
    await expect(form.getByRole('alert')).toBeVisible();
    await expect(page).toHaveURL((url) => url.pathname === '/agents');
    expect((await listAgentsViaApi(page.request)).length).toBe(before);
  });

  test('payload schema that is not JSON', async ({ page }) => {
    const name = `Broken JSON ${randomSuffix()}`;
    const form = newAgentForm(page);
    await form.getByLabel('Name', { exact: true }).fill(name);
    await form.getByLabel('Payload schema (optional)', { exact: true }).fill('{"type": "object",');
    await form.getByRole('button', { name: 'Create agent' }).click();
    await expect(form.getByRole('alert')).toBeVisible();
    await expect(page).toHaveURL((url) => url.pathname === '/agents');
    const names = (await listAgentsViaApi(page.request)).map((a) => a.name);
    expect(names).not.toContain(name);
  });

  test('payload schema that is not a valid JSON Schema', async ({ page }) => {
    const name = `Broken schema ${randomSuffix()}`;
    const form = newAgentForm(page);
    await form.getByLabel('Name', { exact: true }).fill(name);
    await form.getByLabel('Payload schema (optional)', { exact: true }).fill('{"type": "objekt"}');
    await form.getByRole('button', { name: 'Create agent' }).click();
    await expect(form.getByRole('alert')).toBeVisible();
    await expect(page).toHaveURL((url) => url.pathname === '/agents');
    const names = (await listAgentsViaApi(page.request)).map((a) => a.name);
    expect(names).not.toContain(name);
  });
});

test('the Status section suspends and reactivates an agent', async ({ page, request }) => {
  const errors = collectPageErrors(page);
  await signIn(page, admin, '/agents');
  const agent = await createAgentViaApi(page.request, { name: `Status ${randomSuffix()}` });
  const { hmac_secret: secret } = await revealSecretViaApi(page.request, agent.id);
  await openAgentPage(page, agent);

  const status = section(page, 'Status', 2);
  const activate = status.getByRole('button', { name: 'Activate', exact: true });
  const suspend = status.getByRole('button', { name: 'Suspend', exact: true });
  await expect(status.getByText('Status: active', { exact: true })).toBeVisible();
  await expect(activate).toBeDisabled();
  await expect(suspend).toBeEnabled();
  await expect(status.getByRole('heading', { level: 3, name: 'Audit log' })).toBeVisible();

  await suspend.click();
  await expect(status.getByText('Status: suspended', { exact: true })).toBeVisible();
  await expect(suspend).toBeDisabled();
  await expect(activate).toBeEnabled();
  expect((await getAgentViaApi(page.request, agent.id)).status).toBe('suspended');
  // A suspended agent refuses webhooks.
  expect((await sendSignedWebhook(request, agent.webhook_url!, secret, { event: 'e2e' })).status()).toBe(403);

  await activate.click();
  await expect(status.getByText('Status: active', { exact: true })).toBeVisible();
  await expect(activate).toBeDisabled();
  await expect(suspend).toBeEnabled();
  expect((await getAgentViaApi(page.request, agent.id)).status).toBe('active');
  expect((await sendSignedWebhook(request, agent.webhook_url!, secret, { event: 'e2e' })).status()).toBe(202);
  expect(errors, 'uncaught errors in the page').toEqual([]);
});
