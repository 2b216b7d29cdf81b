import { test, expect } from '@playwright/test';
import {
  BASE_URL,
  collectPageErrors,
  createAdmin,
  getExecutionViaApi,
  ORIGIN,
  randomSuffix,
  section,
  SECRET_RE,
  signIn,
  UUID_RE,
  type Admin,
} from './helpers';

// The path a new operator walks first, all through the UI: it runs in the normal suite and,
// alone, against the unpacked release package (scripts/package-smoke.sh), where it is the
// proof that the optimized WASM hydrates and that the packaged site and binary fit together.

let admin: Admin;

test.beforeAll(() => {
  admin = createAdmin('smoke');
});

test('sign in, create an agent, copy its URL, show its secret, send a test webhook, see it complete', async ({
  page,
  context,
}) => {
  test.setTimeout(60_000);
  const errors = collectPageErrors(page);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ORIGIN });
  await signIn(page, admin, '/agents');

  const form = section(page, 'New agent');
  const name = `Smoke ${randomSuffix()}`;
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByRole('button', { name: 'Create agent' }).click();
  await expect(page).toHaveURL(new RegExp(`/agents/${UUID_RE.source}$`, 'i'));
  await expect(page.getByRole('heading', { level: 1, name, exact: true })).toBeVisible();
  const id = new URL(page.url()).pathname.split('/').pop()!;

  const url = `${BASE_URL}/agents/${id}/webhook`;
  await expect(page.getByLabel('Webhook URL', { exact: true })).toHaveValue(url);
  await page.evaluate(() => navigator.clipboard.writeText('nothing copied yet'));
  await page.getByRole('button', { name: 'Copy URL' }).click();
  await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(url);

  await page.getByRole('button', { name: 'Show Secret' }).click();
  await expect(page.getByLabel('HMAC secret', { exact: true })).toHaveValue(SECRET_RE);

  await page.getByRole('button', { name: 'Send Test Webhook' }).click();
  const result = page.getByTestId('test-result');
  await expect(result).toContainText('202');
  const executionId = (await result.innerText()).match(UUID_RE)![0];
  const view = page.getByRole('button', { name: `View ${executionId.slice(0, 8)}` });
  const row = page.getByRole('table', { name: 'Executions' }).getByRole('row').filter({ has: view });
  await expect(row).toContainText('completed', { timeout: 30_000 });
  expect((await getExecutionViaApi(page.request, executionId)).status).toBe('completed');
  expect(errors, 'uncaught errors in the page').toEqual([]);
});
