import { test, expect, type Page } from '@playwright/test';
import {
  apiSignIn,
  BASE_URL,
  collectPageErrors,
  createAdmin,
  createAgentViaApi,
  submitLogin,
  waitForHydration,
  type Admin,
  type Agent,
} from './helpers';

// Signing in and out of the admin UI.

let admin: Admin;
let agent: Agent;

test.beforeAll(async ({ playwright }) => {
  admin = createAdmin('auth');
  // An agent to come back to, created with the API in a context of its own.
  const request = await playwright.request.newContext({ baseURL: BASE_URL });
  try {
    await apiSignIn(request, admin);
    agent = await createAgentViaApi(request, { name: `Auth target ${Date.now()}` });
  } finally {
    await request.dispose();
  }
});

/** The browser is on /login with `next` (decoded) equal to `path`. */
async function expectLoginRedirect(page: Page, path: string): Promise<void> {
  await expect(page).toHaveURL(
    (url) => url.pathname === '/login' && url.searchParams.get('next') === path,
  );
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
}

test('signed out, /agents redirects to /login?next=/agents', async ({ page }) => {
  await page.goto('/agents');
  await expectLoginRedirect(page, '/agents');
});

test('signed out, an agent page redirects to /login?next=/agents/<id>', async ({ page }) => {
  await page.goto(`/agents/${agent.id}`);
  await expectLoginRedirect(page, `/agents/${agent.id}`);
});

test('a wrong password shows an alert and stays on the sign-in page', async ({ page }) => {
  const errors = collectPageErrors(page);
  await page.goto('/login');
  await submitLogin(page, admin.email, `${admin.password}-wrong`);
  await expect(page.getByRole('alert')).toContainText('Invalid email or password');
  await expect(page).toHaveURL((url) => url.pathname === '/login');
  // Not signed in: the session-only API still refuses.
  expect((await page.request.get('/api/agents')).status()).toBe(401);
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('an unknown email shows the same alert', async ({ page }) => {
  await page.goto('/login');
  await submitLogin(page, `nobody-${admin.email}`, admin.password);
  await expect(page.getByRole('alert')).toContainText('Invalid email or password');
});

test('signing in returns to the page that was asked for', async ({ page }) => {
  const errors = collectPageErrors(page);
  await page.goto(`/agents/${agent.id}`);
  await expectLoginRedirect(page, `/agents/${agent.id}`);
  await submitLogin(page, admin.email, admin.password);
  await expect(page).toHaveURL((url) => url.pathname === `/agents/${agent.id}`);
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1, name: agent.name, exact: true })).toBeVisible();
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('signed in, the navigation has Agents and Sign out; signing out ends the session', async ({ page }) => {
  const errors = collectPageErrors(page);
  await page.goto('/agents');
  await expectLoginRedirect(page, '/agents');
  await submitLogin(page, admin.email, admin.password);
  await expect(page).toHaveURL((url) => url.pathname === '/agents');
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Agents' })).toBeVisible();

  const nav = page.getByRole('navigation');
  await expect(nav.getByRole('link', { name: 'Agents', exact: true })).toBeVisible();
  const signOut = nav.getByRole('button', { name: 'Sign out' });
  await expect(signOut).toBeVisible();

  // The Agents link leads to the list (from an agent page).
  await page.goto(`/agents/${agent.id}`);
  await waitForHydration(page);
  await nav.getByRole('link', { name: 'Agents', exact: true }).click();
  await expect(page).toHaveURL((url) => url.pathname === '/agents');
  await expect(page.getByRole('heading', { level: 1, name: 'Agents' })).toBeVisible();

  await nav.getByRole('button', { name: 'Sign out' }).click();
  // Wherever sign-out lands, the session is gone and the admin pages ask to sign in again.
  await expect(nav.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
  await expect.poll(async () => (await page.request.get('/api/agents')).status()).toBe(401);
  await page.goto('/agents');
  await expectLoginRedirect(page, '/agents');
  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('a crafted next that a browser would read as another host lands on /agents', async ({ page }) => {
  // `/\t/evil.example`: browsers drop the tab and go to //evil.example.
  await page.goto(`/login?next=${encodeURIComponent('/\t/evil.example')}`);
  await submitLogin(page, admin.email, admin.password);
  await expect(page).toHaveURL((url) => url.origin === new URL(BASE_URL).origin && url.pathname === '/agents');
});
