import { createHmac } from 'node:crypto';
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
  section,
  signIn,
  waitForHydration,
  type Admin,
} from './helpers';

// Verification presets on the agent page: the sender's scheme (Stripe, Slack, a token
// header, ...), a secret the provider generated ("Set secret"), and the combinations the
// server refuses, shown next to the field they concern. This file reveals once.

let admin: Admin;

test.beforeAll(() => {
  admin = createAdmin('presets');
});

test.beforeEach(async ({ page }) => {
  test.setTimeout(60_000);
  await signIn(page, admin, '/agents');
});

const SCHEME_LABELS = [
  'Default (X-Hub-Signature-256 or Standard Webhooks)',
  'Stripe',
  'Slack',
  'Shopify',
  'Zendesk',
  'PagerDuty',
  'GitLab (X-Gitlab-Token)',
  'Token in a header',
];

function config(page: Page) {
  return section(page, 'Webhook Configuration', 2);
}

function schemeSelect(page: Page) {
  return page.getByLabel('Verification scheme', { exact: true });
}

/** Chooses a scheme (and a header name when given) and saves it. */
async function saveScheme(page: Page, scheme: string, headerName?: string) {
  await schemeSelect(page).selectOption(scheme);
  if (headerName !== undefined) await page.getByLabel('Header name', { exact: true }).fill(headerName);
  await config(page).getByRole('button', { name: 'Save verification' }).click();
}

/** Saves a scheme the server accepts: the page reloads the agent and says so. */
async function switchScheme(page: Page, scheme: string, headerName?: string) {
  // The save reloads the agent; wait for that, not for a status left by an earlier save.
  const reloaded = page.waitForResponse((res) => res.url().includes('/api/fn/get_agent'));
  await saveScheme(page, scheme, headerName);
  await reloaded;
  await expect(config(page).getByRole('status').filter({ hasText: 'Verification saved.' })).toBeVisible();
  await expect(schemeSelect(page)).toHaveValue(scheme);
}

/** `Stripe-Signature` as Stripe sends it: HMAC-SHA256 of `{t}.{body}`, keyed by the whsec_ text. */
function stripeSignature(secret: string, body: string, t = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${t}.${body}`, 'utf8').digest('hex');
  return `t=${t},v1=${mac}`;
}

test('a Stripe agent: scheme, the provider secret, and a signed test delivery (202)', async ({ page }) => {
  const errors = collectPageErrors(page);
  const agent = await createAgentViaApi(page.request, { name: `Stripe ${randomSuffix()}` });
  await openAgentPage(page, agent);

  // Every scheme, labelled; the default one chosen; no header name outside header_token.
  const select = schemeSelect(page);
  expect((await select.locator('option').allTextContents()).map((t) => t.trim())).toEqual(SCHEME_LABELS);
  await expect(select).toHaveValue('default');
  const hint = page.locator('#verification-hint');
  await expect(hint).toContainText('X-Hub-Signature-256');
  await expect(page.getByLabel('Header name', { exact: true })).toBeHidden();
  const source = page.locator('.secret-source');
  await expect(source).toHaveText('Secret: generated here');
  const notice = page.getByText('Stripe generates this secret: paste it with Set secret');
  await expect(notice).toBeHidden();

  // The hint follows the choice before it is saved.
  await select.selectOption('stripe');
  await expect(hint).toContainText('whsec_');
  await expect(hint).toContainText('Set secret');
  await switchScheme(page, 'stripe');
  // Stripe makes its own secret: ours cannot be given to it.
  await expect(notice).toBeVisible();
  expect((await getAgentViaApi(page.request, agent.id)).verification).toEqual({ scheme: 'stripe' });

  // Set secret: a dialog with a password field, focused; Escape cancels.
  const setButton = page.getByRole('button', { name: 'Set secret', exact: true });
  const dialog = page.getByRole('dialog', { name: 'Set webhook secret' });
  await setButton.click();
  await expect(dialog).toBeVisible();
  const secretInput = dialog.getByLabel('Provider secret', { exact: true });
  await expect(secretInput).toBeFocused();
  await expect(secretInput).toHaveAttribute('type', 'password');
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();

  // A secret the server refuses keeps the dialog open, with the reason under the field.
  await setButton.click();
  await dialog.getByLabel('Provider secret', { exact: true }).fill('whsec_short');
  await dialog.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(dialog.locator('#provider-secret-error')).toContainText('between 16 and 512 characters');
  await expect(dialog).toBeVisible();

  // A good one is saved; the page says so and never shows it.
  const secret = `whsec_${randomSuffix()}${randomSuffix()}${randomSuffix()}`;
  await dialog.getByLabel('Provider secret', { exact: true }).fill(secret);
  await dialog.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('status').filter({ hasText: 'Webhook secret set' })).toBeVisible();
  await expect(source).toHaveText('Secret: set from the provider');
  await expect(notice).toBeHidden();
  await expect(page.getByLabel('HMAC secret', { exact: true })).toHaveValue(MASKED);
  expect(await page.content()).not.toContain(secret);

  // The REST API agrees.
  const saved = await getAgentViaApi(page.request, agent.id);
  expect(saved.verification).toEqual({ scheme: 'stripe' });
  expect(saved.secret_source).toBe('provided');
  expect((await revealSecretViaApi(page.request, agent.id)).hmac_secret).toBe(secret);

  // The test sender signs as Stripe would, with the provider's secret.
  await page.getByRole('button', { name: 'Send Test Webhook' }).click();
  const result = page.getByTestId('test-result');
  await expect(result).toContainText('202');
  await expect(result).toContainText('Webhook accepted!');
  await expect(page.locator('pre.curl')).toContainText(/Stripe-Signature: t=\d+,v1=[0-9a-f]{64}/);
  await expect(page.locator('pre.curl')).not.toContainText('X-Hub-Signature-256');
  const full = result.locator('details').filter({ has: page.locator('summary', { hasText: 'Full response' }) });
  await full.locator('summary').click();
  await expect(full).toContainText('"queued"');

  // So would Stripe itself; a signature by another key is refused.
  const body = JSON.stringify({ id: `evt_${randomSuffix()}`, type: 'charge.succeeded' });
  const post = (signature: string) =>
    page.request.post(agent.webhook_url!, {
      data: body,
      headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signature },
    });
  expect((await post(stripeSignature(secret, body))).status()).toBe(202);
  expect((await post(stripeSignature(`${secret}x`, body))).status()).toBe(401);

  // After a reload the page still says where the secret came from.
  await page.reload();
  await waitForHydration(page);
  await expect(schemeSelect(page)).toHaveValue('stripe');
  await expect(source).toHaveText('Secret: set from the provider');
  await expect(notice).toBeHidden();

  // Regenerating makes it ours again, which Stripe cannot use: the notice is back.
  await page.getByRole('button', { name: 'Regenerate Secret' }).click();
  const regenerate = page.getByRole('dialog', { name: 'Regenerate secret?' });
  await regenerate.getByRole('button', { name: 'Regenerate', exact: true }).click();
  await expect(regenerate).toBeHidden();
  await expect(source).toHaveText('Secret: generated here');
  await expect(notice).toBeVisible();
  expect((await getAgentViaApi(page.request, agent.id)).secret_source).toBe('generated');
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('a scheme picked while the page reloads after a save is the one saved next', async ({ page }) => {
  const errors = collectPageErrors(page);
  const agent = await createAgentViaApi(page.request, { name: `Presets ${randomSuffix()}` });
  await openAgentPage(page, agent);
  // The reload that follows the first save is held until another scheme has been picked.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let hold = true;
  await page.route('**/api/fn/get_agent*', async (route) => {
    if (!hold) return route.continue();
    hold = false;
    const response = await route.fetch();
    await held;
    await route.fulfill({ response });
  });
  await saveScheme(page, 'shopify');
  await expect(config(page).getByRole('status').filter({ hasText: 'Verification saved.' })).toBeVisible();
  await schemeSelect(page).selectOption('pagerduty');
  // The reloaded agent rebuilds the page's sections in place, whose lists fetch anew.
  const rebuilt = page.waitForRequest((req) => req.url().includes('/api/fn/list_executions'));
  release();
  await rebuilt;

  await expect(schemeSelect(page)).toHaveValue('pagerduty');
  await expect(page.locator('#verification-hint')).toContainText('PagerDuty signs');
  await config(page).getByRole('button', { name: 'Save verification' }).click();
  await expect
    .poll(async () => (await getAgentViaApi(page.request, agent.id)).verification, { timeout: 10_000 })
    .toEqual({ scheme: 'pagerduty' });
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('refused combinations show inline errors and change nothing', async ({ page }) => {
  const errors = collectPageErrors(page);
  const agent = await createAgentViaApi(page.request, { name: `Presets ${randomSuffix()}` });
  await openAgentPage(page, agent);
  const verificationError = page.locator('#verification-error');

  // header_token needs a header name.
  await schemeSelect(page).selectOption('header_token');
  const headerName = page.getByLabel('Header name', { exact: true });
  await expect(headerName).toBeVisible();
  await expect(headerName).toHaveValue('');
  await expect(page.locator('#verification-hint')).toContainText('use HTTPS');
  await config(page).getByRole('button', { name: 'Save verification' }).click();
  await expect(verificationError).toContainText('header_name is required for the header_token scheme');
  await expect(config(page).getByRole('status').filter({ hasText: 'Verification saved.' })).toHaveCount(0);
  expect((await getAgentViaApi(page.request, agent.id)).verification).toEqual({ scheme: 'default' });

  // With one it is saved, in lower case.
  await switchScheme(page, 'header_token', 'X-SDP-Token');
  await expect(page.getByLabel('Header name', { exact: true })).toHaveValue('x-sdp-token');
  expect((await getAgentViaApi(page.request, agent.id)).verification).toEqual({
    scheme: 'header_token',
    header_name: 'x-sdp-token',
  });

  // Shopify signs no timestamp: requiring one is refused under the checkbox.
  await switchScheme(page, 'shopify');
  await expect(page.getByLabel('Header name', { exact: true })).toBeHidden();
  const settings = section(page, 'Settings', 2);
  await settings.getByLabel('Require a signed timestamp (Standard Webhooks headers)').check();
  await settings.getByRole('button', { name: 'Save settings' }).click();
  await expect(settings.locator('#settings-timestamp-error')).toContainText(
    'shopify signs no timestamp, so require_timestamp cannot be honoured',
  );
  await expect(settings.getByRole('status').filter({ hasText: 'Settings saved.' })).toHaveCount(0);
  let saved = await getAgentViaApi(page.request, agent.id);
  expect(saved.require_timestamp).toBe(false);
  expect(saved.verification).toEqual({ scheme: 'shopify' });

  // Back to default, where it is allowed; then Slack, which checks its own timestamp, is
  // refused while the agent requires one.
  await switchScheme(page, 'default');
  await settings.getByLabel('Require a signed timestamp (Standard Webhooks headers)').check();
  const reloaded = page.waitForResponse((res) => res.url().includes('/api/fn/get_agent'));
  await settings.getByRole('button', { name: 'Save settings' }).click();
  await reloaded;
  await expect(settings.getByRole('status').filter({ hasText: 'Settings saved.' })).toBeVisible();
  await expect(settings.getByLabel('Require a signed timestamp (Standard Webhooks headers)')).toBeChecked();
  await saveScheme(page, 'slack');
  await expect(config(page).locator('.field-error').filter({ hasText: 'slack deliveries always carry a signed timestamp' })).toBeVisible();
  saved = await getAgentViaApi(page.request, agent.id);
  expect(saved.verification).toEqual({ scheme: 'default' });
  expect(saved.require_timestamp).toBe(true);

  // Reloaded, the page shows what is saved.
  await page.reload();
  await waitForHydration(page);
  await expect(schemeSelect(page)).toHaveValue('default');
  await expect(page.getByLabel('Header name', { exact: true })).toBeHidden();
  expect(errors, 'uncaught errors in the page').toEqual([]);
});
