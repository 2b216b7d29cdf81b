import { test, expect, type Page } from '@playwright/test';
import {
  BASE_URL,
  collectPageErrors,
  createAdmin,
  createAgentViaApi,
  MASKED,
  openAgentPage,
  ORIGIN,
  randomSuffix,
  revealSecretViaApi,
  SECRET_RE,
  section,
  signIn,
  type Admin,
  type Agent,
} from './helpers';

// The agent page's "Webhook Configuration" and "HMAC Secret" sections.

let admin: Admin;

test.beforeAll(() => {
  admin = createAdmin('config');
});

let agent: Agent;

test.beforeEach(async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ORIGIN });
  await signIn(page, admin, '/agents');
  agent = await createAgentViaApi(page.request, { name: `Config ${randomSuffix()}` });
  await openAgentPage(page, agent);
});

function readClipboard(page: Page): Promise<string> {
  return page.evaluate(() => navigator.clipboard.readText());
}

test('Copy URL puts the exact webhook URL on the clipboard', async ({ page }) => {
  const errors = collectPageErrors(page);
  const url = `${BASE_URL}/agents/${agent.id}/webhook`;
  expect(agent.webhook_url).toBe(url);

  await expect(section(page, 'Webhook Configuration', 2)).toBeVisible();
  const input = page.getByLabel('Webhook URL', { exact: true });
  await expect(input).toHaveValue(url);
  await expect(input).not.toBeEditable();

  await page.evaluate(() => navigator.clipboard.writeText('nothing copied yet'));
  await page.getByRole('button', { name: 'Copy URL' }).click();
  const copied = page.getByRole('status').filter({ hasText: 'Webhook URL copied to clipboard!' });
  await expect(copied).toBeVisible();
  expect(await readClipboard(page)).toBe(url);
  // The confirmation fades after a few seconds.
  await expect(copied).toBeHidden({ timeout: 10_000 });
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('Show, copy, reformat and hide the HMAC secret', async ({ page }) => {
  const errors = collectPageErrors(page);
  await expect(section(page, 'HMAC Secret', 2)).toBeVisible();
  const secretInput = page.getByLabel('HMAC secret', { exact: true });
  const copySecret = page.getByRole('button', { name: 'Copy Secret' });
  const warning = page.getByText('Keep this secret secure. Anyone with this key can trigger your agent.');
  const format = page.getByLabel('Secret format', { exact: true });

  // Hidden: masked, nothing to copy, no warning.
  await expect(secretInput).toHaveValue(MASKED);
  await expect(secretInput).not.toBeEditable();
  await expect(copySecret).toBeDisabled();
  await expect(warning).toBeHidden();
  await expect(page.getByRole('button', { name: 'Hide Secret' })).toHaveCount(0);
  const formatLabels = await format.locator('option').allTextContents();
  expect(formatLabels.map((l) => l.trim())).toEqual(['Base64 (X-Hub-Signature-256)', 'whsec_ (Standard Webhooks)']);

  // Shown: the 44-char base64 secret, the warning, copy enabled.
  await page.getByRole('button', { name: 'Show Secret' }).click();
  await expect(secretInput).toHaveValue(SECRET_RE);
  const secret = await secretInput.inputValue();
  await expect(page.getByRole('button', { name: 'Hide Secret' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Show Secret' })).toHaveCount(0);
  await expect(warning).toBeVisible();
  await expect(copySecret).toBeEnabled();
  // It is the secret the server signs with.
  expect((await revealSecretViaApi(page.request, agent.id)).hmac_secret).toBe(secret);

  await page.evaluate(() => navigator.clipboard.writeText('nothing copied yet'));
  await copySecret.click();
  await expect.poll(() => readClipboard(page)).toBe(secret);

  // Standard Webhooks spelling of the same secret.
  await format.selectOption({ label: 'whsec_ (Standard Webhooks)' });
  await expect(secretInput).toHaveValue(`whsec_${secret}`);
  await format.selectOption({ label: 'Base64 (X-Hub-Signature-256)' });
  await expect(secretInput).toHaveValue(secret);

  // Hidden again.
  await page.getByRole('button', { name: 'Hide Secret' }).click();
  await expect(secretInput).toHaveValue(MASKED);
  await expect(copySecret).toBeDisabled();
  await expect(warning).toBeHidden();
  await expect(page.getByRole('button', { name: 'Show Secret' })).toBeVisible();

  // The reveal is in the audit log (after a reload at the latest).
  await page.reload();
  const audit = section(page, 'Audit log', 3);
  await expect(audit.getByRole('listitem').filter({ hasText: 'secret.revealed' }).first()).toBeVisible();
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('whsec_ format while shown, then hidden, keeps the input masked', async ({ page }) => {
  const secretInput = page.getByLabel('HMAC secret', { exact: true });
  const format = page.getByLabel('Secret format', { exact: true });
  // Choosing the format first does not reveal anything.
  await format.selectOption({ label: 'whsec_ (Standard Webhooks)' });
  await expect(secretInput).toHaveValue(MASKED);
  await page.getByRole('button', { name: 'Show Secret' }).click();
  await expect(secretInput).toHaveValue(/^whsec_[A-Za-z0-9+/]{43}=$/);
  const shown = await secretInput.inputValue();
  expect(shown).toBe((await revealSecretViaApi(page.request, agent.id)).standard_webhooks_secret);
  await page.getByRole('button', { name: 'Hide Secret' }).click();
  await expect(secretInput).toHaveValue(MASKED);
});
