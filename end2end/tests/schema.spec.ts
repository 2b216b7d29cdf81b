import { test, expect } from '@playwright/test';
import {
  collectPageErrors,
  createAdmin,
  createAgentViaApi,
  getAgentViaApi,
  openAgentPage,
  ORIGIN,
  parseJson,
  randomSuffix,
  section,
  signIn,
  TICKET_SCHEMA,
  type Admin,
  type Agent,
} from './helpers';

// The agent page's "Payload Schema" section: validate, save, examples.

let admin: Admin;

test.beforeAll(() => {
  admin = createAdmin('schema');
});

let agent: Agent;

test.beforeEach(async ({ page }) => {
  await signIn(page, admin, '/agents');
  agent = await createAgentViaApi(page.request, {
    name: `Schema ${randomSuffix()}`,
    payload_schema: TICKET_SCHEMA,
  });
  await openAgentPage(page, agent);
});

test('an invalid schema shows its errors and cannot be saved', async ({ page }) => {
  const errors = collectPageErrors(page);
  await expect(section(page, 'Payload Schema', 2)).toBeVisible();
  const editor = page.getByLabel('Payload schema (JSON)', { exact: true });
  // The stored schema is shown.
  await expect.poll(async () => parseJson(await editor.inputValue())).toEqual(TICKET_SCHEMA);

  const result = page.getByTestId('schema-result');
  const invalid = { type: 'objekt', properties: { ticket_id: { type: 'integer' } } };
  // What the server says about it: each of these errors must be listed with path and message.
  const check = await page.request.post('/api/schemas/validate', {
    data: { schema: invalid },
    headers: { Origin: ORIGIN },
  });
  expect(check.status()).toBe(200);
  const expected = (await check.json()) as { valid: boolean; errors: { path: string; message: string }[] };
  expect(expected.valid).toBe(false);
  expect(expected.errors.map((e) => e.path)).toContain('/type');

  await editor.fill(JSON.stringify(invalid, null, 2));
  await page.getByRole('button', { name: 'Validate Schema' }).click();
  await expect(result).toContainText('Schema has errors');
  await expect(result).not.toContainText('Schema is valid.');
  for (const error of expected.errors) {
    const item = result.getByRole('listitem').filter({ hasText: error.path }).filter({ hasText: error.message });
    await expect(item.first(), `error ${error.path}: ${error.message}`).toBeVisible();
  }

  await page.getByRole('button', { name: 'Save Schema' }).click();
  await expect(result).toContainText('Schema not saved');
  await expect(result.getByRole('listitem').filter({ hasText: '/type' }).first()).toBeVisible();
  await expect(result).toContainText(expected.errors[0].message);
  await expect(result).not.toContainText('Schema saved.');
  // The stored schema is unchanged.
  expect((await getAgentViaApi(page.request, agent.id)).payload_schema).toEqual(TICKET_SCHEMA);
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('text that is not JSON is refused too', async ({ page }) => {
  const editor = page.getByLabel('Payload schema (JSON)', { exact: true });
  const result = page.getByTestId('schema-result');
  await editor.fill('{"type": "object",');
  await page.getByRole('button', { name: 'Validate Schema' }).click();
  await expect(result).toBeVisible();
  await expect(result).not.toContainText('Schema is valid.');
  await page.getByRole('button', { name: 'Save Schema' }).click();
  await expect(result).not.toContainText('Schema saved.');
  expect((await getAgentViaApi(page.request, agent.id)).payload_schema).toEqual(TICKET_SCHEMA);
});

test('an example loads, validates and saves', async ({ page }) => {
  const errors = collectPageErrors(page);
  const editor = page.getByLabel('Payload schema (JSON)', { exact: true });
  const examples = page.getByLabel('Examples', { exact: true });
  const result = page.getByTestId('schema-result');

  const labels = (await examples.locator('option').allTextContents()).map((t) => t.trim());
  for (const label of ['ServiceDesk Plus ticket', 'Jira issue', 'Generic event']) {
    expect(labels).toContain(label);
  }

  // Every example fills the editor with a JSON object.
  const loaded: Record<string, unknown> = {};
  for (const label of ['Jira issue', 'Generic event', 'ServiceDesk Plus ticket']) {
    await examples.selectOption({ label });
    await expect.poll(async () => {
      const value = parseJson(await editor.inputValue());
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    }, `the "${label}" example is a JSON object`).toBe(true);
    loaded[label] = JSON.parse(await editor.inputValue());
  }
  expect(loaded['Jira issue']).not.toEqual(loaded['Generic event']);
  expect(loaded['ServiceDesk Plus ticket']).not.toEqual(loaded['Jira issue']);
  const schema = loaded['ServiceDesk Plus ticket'];
  expect(schema).not.toEqual(TICKET_SCHEMA);

  await page.getByRole('button', { name: 'Validate Schema' }).click();
  await expect(result).toContainText('Schema is valid.');
  await expect(result).not.toContainText('Schema has errors');

  await page.getByRole('button', { name: 'Save Schema' }).click();
  await expect(result).toContainText('Schema saved.');
  expect((await getAgentViaApi(page.request, agent.id)).payload_schema).toEqual(schema);

  // After a reload: the saved schema is shown and the change is in the audit log.
  await page.reload();
  await expect.poll(async () => parseJson(await editor.inputValue())).toEqual(schema);
  const audit = section(page, 'Audit log', 3);
  await expect(audit.getByRole('listitem').filter({ hasText: 'schema.updated' }).first()).toBeVisible();
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('Clear Schema empties the editor', async ({ page }) => {
  const editor = page.getByLabel('Payload schema (JSON)', { exact: true });
  await expect.poll(async () => (await editor.inputValue()).trim().length).toBeGreaterThan(0);
  await page.getByRole('button', { name: 'Clear Schema' }).click();
  await expect(editor).toHaveValue(/^\s*$/);
});

test('an unsaved schema and test payload survive another form’s save, until the schema is saved', async ({ page }) => {
  const errors = collectPageErrors(page);
  const editor = page.getByLabel('Payload schema (JSON)', { exact: true });
  const payload = page.getByLabel('Test payload (JSON)', { exact: true });
  const typedSchema = '{"type": "object", "required": ["kept"], "properties": {"kept": {"type": "string"}}}';
  const typedPayload = '{"kept": "typed, not sent"}';
  const loaded = await editor.inputValue();
  await editor.fill(typedSchema);
  await payload.fill(typedPayload);

  // Saving the settings reloads the agent, which renders every section anew.
  const settings = section(page, 'Settings', 2);
  const saveSettings = async (prompt: string) => {
    const reloaded = page.waitForResponse((res) => res.url().includes('/api/fn/get_agent'));
    const rebuilt = page.waitForRequest((req) => req.url().includes('/api/fn/list_executions'));
    await settings.getByLabel('System prompt').fill(prompt);
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await reloaded;
    await rebuilt;
    await expect(settings.getByRole('status').filter({ hasText: 'Settings saved.' })).toBeVisible();
  };
  await saveSettings('Kept apart.');
  await expect(editor).toHaveValue(typedSchema);
  await expect(payload).toHaveValue(typedPayload);
  expect((await getAgentViaApi(page.request, agent.id)).payload_schema).toEqual(TICKET_SCHEMA);

  // Saved, the schema is what the server keeps, and the test payload a sample that satisfies it.
  await page.getByRole('button', { name: 'Save Schema' }).click();
  await expect(page.getByTestId('schema-result')).toContainText('Schema saved.');
  await expect(payload).toHaveValue(/"kept":/);
  await expect(payload).not.toHaveValue(typedPayload);
  expect((await getAgentViaApi(page.request, agent.id)).payload_schema).toEqual(JSON.parse(typedSchema));

  // Unsaved is measured against the schema saved last, not the one the page loaded.
  await editor.fill(loaded);
  await saveSettings('Kept apart, again.');
  await expect(editor).toHaveValue(loaded);
  expect(errors, 'uncaught errors in the page').toEqual([]);
});
