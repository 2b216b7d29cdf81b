import { test, expect } from '@playwright/test';
import { Webhook } from 'standardwebhooks';
import {
  collectPageErrors,
  createAdmin,
  createAgentViaApi,
  getAgentViaApi,
  openAgentPage,
  parseJson,
  randomSuffix,
  section,
  signIn,
  type Admin,
} from './helpers';
import { startReceiver, type Receiver } from './receiver';

// The agent page's "Runtime" section: an http runtime chosen in the UI receives the test
// webhook, signed (checked with the official Standard Webhooks library), and its answer
// shows in the execution's details. The server under test allows 127.0.0.1 as a runtime
// target (RUNTIMES_ALLOWED_PRIVATE_HOSTS in scripts/test.sh).

let admin: Admin;
let receiver: Receiver;

test.beforeAll(async () => {
  admin = createAdmin('runtime');
  receiver = await startReceiver({ triaged: true, queue: 'facilities' });
});

test.afterAll(async () => {
  await receiver.close();
});

test('an http runtime chosen on the agent page runs the test webhook and its answer shows in the execution', async ({ page }) => {
  test.setTimeout(60_000);
  const errors = collectPageErrors(page);
  await signIn(page, admin, '/agents');
  const agent = await createAgentViaApi(page.request, {
    name: `Runtime ${randomSuffix()}`,
    rate_limit_per_minute: null,
  });
  await openAgentPage(page, agent);

  const runtime = section(page, 'Runtime', 2);
  await expect(runtime.getByLabel('Runtime', { exact: true })).toHaveValue('builtin');
  await runtime.getByLabel('Runtime', { exact: true }).selectOption('http');
  await runtime.getByLabel('Endpoint URL').fill(`${receiver.url}/triage`);
  await runtime.getByLabel('Timeout (seconds)').fill('10');
  await runtime.getByRole('button', { name: 'Save Runtime' }).click();
  await expect(runtime.getByText('Runtime saved: http.')).toBeVisible();
  expect((await getAgentViaApi(page.request, agent.id)).runtime).toEqual({
    kind: 'http',
    url: `${receiver.url}/triage`,
    timeout_seconds: 10,
  });

  // The runtime's signing secret, revealed in the page.
  await runtime.getByRole('button', { name: 'Show Secret' }).click();
  const secretField = runtime.getByLabel('Signing secret (Standard Webhooks)');
  await expect(secretField).toHaveValue(/^whsec_[A-Za-z0-9+/]{43}=$/);
  const secret = await secretField.inputValue();

  const payload = await page.getByLabel('Test payload (JSON)', { exact: true }).inputValue();
  await page.getByRole('button', { name: 'Send Test Webhook' }).click();
  await expect(page.getByTestId('test-result')).toContainText('202');

  const executions = section(page, 'Executions', 2);
  await expect(executions.locator('.badge-completed')).toHaveCount(1, { timeout: 20_000 });
  await executions.getByRole('button', { name: /^View / }).click();
  const details = executions.locator('.execution-details');
  await expect(details).toContainText('"queue": "facilities"');
  await expect(details).toContainText('"status": 200');

  expect(receiver.received).toHaveLength(1);
  const request = receiver.received[0];
  expect(request.path).toBe('/triage');
  // The exact bytes of the test payload, not a re-serialization.
  expect(request.body).toBe(payload);
  expect(request.headers['x-agent-id']).toBe(agent.id);
  expect(request.headers['x-execution-attempt']).toBe('1');
  // Throws unless the signature is right for these exact bytes.
  expect(new Webhook(secret).verify(request.body, request.headers)).toEqual(parseJson(request.body));
  expect(errors).toEqual([]);
});

test('a refused runtime target is explained on the page and nothing is saved', async ({ page }) => {
  await signIn(page, admin, '/agents');
  const agent = await createAgentViaApi(page.request, { name: `Refused ${randomSuffix()}` });
  await openAgentPage(page, agent);
  const runtime = section(page, 'Runtime', 2);
  await runtime.getByLabel('Runtime', { exact: true }).selectOption('openai');
  await runtime.getByLabel('Base URL').fill('https://169.254.169.254/v1');
  await runtime.getByLabel('Model').fill('gpt-test');
  await runtime.getByRole('button', { name: 'Save Runtime' }).click();
  await expect(runtime.getByRole('alert')).toContainText('a link-local address');
  expect((await getAgentViaApi(page.request, agent.id)).runtime).toEqual({ kind: 'builtin' });
});
