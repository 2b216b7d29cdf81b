import { test, expect, type Page } from '@playwright/test';
import {
  collectPageErrors,
  createAdmin,
  createAgentViaApi,
  getAgentViaApi,
  MASKED,
  openAgentPage,
  randomSuffix,
  revealSecretViaApi,
  SECRET_RE,
  section,
  sendSignedWebhook,
  signIn,
  type Admin,
  type Agent,
} from './helpers';

// "Regenerate Secret" and its confirmation dialog, by mouse and by keyboard.
// Mind the reveal limit (10 per minute per administrator): this file reveals 9 times.

let admin: Admin;

test.beforeAll(() => {
  admin = createAdmin('regen');
});

let agent: Agent;

test.beforeEach(async ({ page }) => {
  await signIn(page, admin, '/agents');
  agent = await createAgentViaApi(page.request, { name: `Regenerate ${randomSuffix()}` });
  await openAgentPage(page, agent);
});

const QUESTION = 'Are you sure? This will invalidate all existing webhooks using the old secret.';
const DONE = 'New HMAC secret generated. Old webhooks will no longer work.';

function dialog(page: Page) {
  return page.getByRole('dialog', { name: 'Regenerate secret?' });
}

function regenerateButton(page: Page) {
  return page.getByRole('button', { name: 'Regenerate Secret' });
}

async function focusIsInside(page: Page): Promise<boolean> {
  return dialog(page).evaluate((el) => el.contains(document.activeElement));
}

test('Cancel and Escape close the dialog and keep the secret', async ({ page }) => {
  const errors = collectPageErrors(page);
  const before = (await revealSecretViaApi(page.request, agent.id)).hmac_secret;

  await regenerateButton(page).click();
  const dlg = dialog(page);
  await expect(dlg).toBeVisible();
  await expect(dlg).toContainText(QUESTION);
  const grace = dlg.getByLabel('Grace period', { exact: true });
  await expect(grace).toBeFocused();
  expect((await grace.locator('option').allTextContents()).map((t) => t.trim())).toEqual([
    'None',
    '1 hour',
    '24 hours',
  ]);
  await expect(grace.locator('option:checked')).toHaveText('None');
  await expect(dlg.getByRole('button', { name: 'Regenerate', exact: true })).toBeVisible();

  await dlg.getByRole('button', { name: 'Cancel' }).click();
  await expect(dlg).toBeHidden();
  await expect(page.getByText(DONE)).toHaveCount(0);

  await regenerateButton(page).click();
  await expect(dlg).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(dlg).toBeHidden();
  await expect(page.getByText(DONE)).toHaveCount(0);

  expect((await revealSecretViaApi(page.request, agent.id)).hmac_secret).toBe(before);
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('Regenerate replaces the secret: the old one gets 401, the new one 202', async ({ page, request }) => {
  const errors = collectPageErrors(page);
  const old = (await revealSecretViaApi(page.request, agent.id)).hmac_secret;
  const payload = { event: 'e2e.regenerate', at: new Date().toISOString() };
  // The old secret works before the regeneration.
  expect((await sendSignedWebhook(request, agent.webhook_url!, old, payload)).status()).toBe(202);

  // Show the secret first: after the regeneration it must be masked again.
  const secretInput = page.getByLabel('HMAC secret', { exact: true });
  await page.getByRole('button', { name: 'Show Secret' }).click();
  await expect(secretInput).toHaveValue(old);

  await regenerateButton(page).click();
  const dlg = dialog(page);
  await expect(dlg).toBeVisible();
  await dlg.getByRole('button', { name: 'Regenerate', exact: true }).click();
  await expect(dlg).toBeHidden();
  await expect(page.getByRole('status').filter({ hasText: DONE })).toBeVisible();
  await expect(secretInput).toHaveValue(MASKED);

  // Reveal the new secret through the UI.
  await page.getByRole('button', { name: 'Show Secret' }).click();
  await expect(secretInput).toHaveValue(SECRET_RE);
  const fresh = await secretInput.inputValue();
  expect(fresh).not.toBe(old);

  const refused = await sendSignedWebhook(request, agent.webhook_url!, old, payload);
  expect(refused.status()).toBe(401);
  expect(await refused.json()).toEqual({ error: 'Invalid HMAC signature' });

  const accepted = await sendSignedWebhook(request, agent.webhook_url!, fresh, payload);
  expect(accepted.status()).toBe(202);
  const body = await accepted.json();
  expect(body.status).toBe('queued');
  expect(typeof body.execution_id).toBe('string');

  // The regeneration is audited.
  await page.reload();
  const audit = section(page, 'Audit log', 3);
  await expect(audit.getByRole('listitem').filter({ hasText: 'secret.regenerated' }).first()).toBeVisible();
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('the dialog works with the keyboard alone', async ({ page }) => {
  const errors = collectPageErrors(page);
  const old = (await revealSecretViaApi(page.request, agent.id)).hmac_secret;
  const dlg = dialog(page);

  // Open with Enter: focus moves into the dialog; Escape closes it.
  await regenerateButton(page).focus();
  await page.keyboard.press('Enter');
  await expect(dlg).toBeVisible();
  await expect.poll(() => focusIsInside(page)).toBe(true);
  await expect(dlg.getByLabel('Grace period', { exact: true })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dlg).toBeHidden();
  await expect(page.getByText(DONE)).toHaveCount(0);

  // Reopen with Enter, Tab to "Regenerate", confirm with Enter.
  await regenerateButton(page).focus();
  await page.keyboard.press('Enter');
  await expect(dlg).toBeVisible();
  await expect.poll(() => focusIsInside(page)).toBe(true);
  const confirm = dlg.getByRole('button', { name: 'Regenerate', exact: true });
  for (let i = 0; i < 6 && !(await confirm.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press('Tab');
    // Tabbing must never leave the open dialog.
    expect(await focusIsInside(page), 'focus stays inside the dialog while tabbing').toBe(true);
  }
  await expect(confirm).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(dlg).toBeHidden();
  await expect(page.getByRole('status').filter({ hasText: DONE })).toBeVisible();
  await expect(page.getByLabel('HMAC secret', { exact: true })).toHaveValue(MASKED);

  expect((await revealSecretViaApi(page.request, agent.id)).hmac_secret).not.toBe(old);
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('with a grace period of 1 hour the old secret keeps working', async ({ page, request }) => {
  const old = (await revealSecretViaApi(page.request, agent.id)).hmac_secret;
  await regenerateButton(page).click();
  const dlg = dialog(page);
  await dlg.getByLabel('Grace period', { exact: true }).selectOption({ label: '1 hour' });
  await dlg.getByRole('button', { name: 'Regenerate', exact: true }).click();
  await expect(dlg).toBeHidden();
  await expect(page.getByRole('status').filter({ hasText: 'New HMAC secret generated' })).toBeVisible();

  const fresh = (await revealSecretViaApi(page.request, agent.id)).hmac_secret;
  expect(fresh).not.toBe(old);
  const expires = (await getAgentViaApi(page.request, agent.id)).previous_secret_expires_at as string;
  const left = Date.parse(expires) - Date.now();
  expect(left).toBeGreaterThan(55 * 60_000);
  expect(left).toBeLessThanOrEqual(60 * 60_000 + 5_000);
  const payload = { event: 'e2e.grace' };
  expect((await sendSignedWebhook(request, agent.webhook_url!, old, payload)).status()).toBe(202);
  expect((await sendSignedWebhook(request, agent.webhook_url!, fresh, payload)).status()).toBe(202);
});
