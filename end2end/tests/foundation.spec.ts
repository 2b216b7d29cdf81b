import { test, expect } from '@playwright/test';

// The first page's contract, as the Rust side renders it.

test('GET /healthz returns 200', async ({ request }) => {
  const res = await request.get('/healthz');
  expect(res.status()).toBe(200);
});

test('GET /readyz returns 200', async ({ request }) => {
  const res = await request.get('/readyz');
  expect(res.status()).toBe(200);
});

test('home page h1 is rendered on the server', async ({ request }) => {
  // Raw HTML, before any JavaScript or WASM runs.
  const res = await request.get('/');
  expect(res.status()).toBe(200);
  expect(res.headers()['content-type']).toContain('text/html');
  const html = await res.text();
  const h1 = html.match(/<h1\b[^>]*>([\s\S]*?)<\/h1>/i);
  expect(h1, 'an <h1> in the server-rendered HTML').not.toBeNull();
  // Leptos may put hydration markers (comments) or inner tags inside.
  const text = h1![1].replace(/<!--[\s\S]*?-->/g, '').replace(/<[^>]*>/g, '').trim();
  expect(text).toBe('Agent Webhooks');
});

test('hydrated page checks the server status', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));

  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Agent Webhooks' })).toBeVisible();
  // The button only works once the WASM bundle has hydrated the page.
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true', { timeout: 20_000 });

  const status = page.getByRole('status');
  await expect(status.filter({ hasText: 'Database reachable' })).toHaveCount(0);
  await page.getByRole('button', { name: 'Check server status' }).click();
  await expect(status).toContainText('Database reachable');

  expect(errors, 'uncaught errors in the page').toEqual([]);
});

test('Sign in link leads to the login page', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('link', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/login(\?|#|$)/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
});
