// Shared helpers for the admin UI specs: administrators from the CLI, sign-in through the
// UI, agents and secrets through the REST API (with the page's cookies), webhook signing.
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import {
  expect,
  type APIRequestContext,
  type APIResponse,
  type Locator,
  type Page,
} from '@playwright/test';

/** The server under test, as scripts/test.sh started it (playwright.config.ts's baseURL). */
export const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');
/** The only origin the server accepts for cookie-authenticated state-changing requests. */
export const ORIGIN = new URL(BASE_URL).origin;

export const MASKED = '••••••••';
/** A webhook secret as the UI and the API reveal it: 32 random bytes in standard base64. */
export const SECRET_RE = /^[A-Za-z0-9+/]{43}=$/;
export const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

export function randomSuffix(): string {
  return randomBytes(5).toString('hex');
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run the specs through 'make test ARGS=--only-e2e' (scripts/test.sh), ` +
        'which starts the server and exports DATABASE_URL, MASTER_KEY_FILE (or MASTER_KEYS) and AGENT_WEBHOOKS_BIN',
    );
  }
  return value;
}

export interface Admin {
  tenant: string;
  email: string;
  password: string;
}

/**
 * A new administrator in a new tenant, created with `agent-webhooks create-admin` against
 * the e2e server's database and master key. Call it once per spec file (in beforeAll), so
 * that every file has its own tenant and its own secret-reveal budget.
 */
export function createAdmin(label = 'admin'): Admin {
  const suffix = randomSuffix();
  const admin: Admin = {
    tenant: `e2e-${suffix}`,
    email: `${label}-${suffix}@e2e.example`,
    password: `e2e-password-${randomSuffix()}`,
  };
  execFileSync(
    requiredEnv('AGENT_WEBHOOKS_BIN'),
    ['create-admin', '--tenant', admin.tenant, '--email', admin.email],
    {
      input: `${admin.password}\n`,
      env: {
        ...process.env,
        DATABASE_URL: requiredEnv('DATABASE_URL'),
        // The server's master key: MASTER_KEYS when it has them (the package smoke), or its file.
        ...(process.env.MASTER_KEYS
          ? { MASTER_KEYS: process.env.MASTER_KEYS }
          : { MASTER_KEY_FILE: requiredEnv('MASTER_KEY_FILE') }),
        // No settings file: the defaults and the variables above apply.
        AGENT_WEBHOOKS_CONFIG: '/nonexistent',
        RUST_LOG: 'warn',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 30_000,
    },
  );
  return admin;
}

/** Waits until the WASM bundle has hydrated the page (the body carries data-hydrated). */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true', { timeout: 20_000 });
}

/** Opens a page and waits for hydration. */
export async function gotoHydrated(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await waitForHydration(page);
}

/** Fills and submits the sign-in form of the page currently shown (which must be /login). */
export async function submitLogin(page: Page, email: string, password: string): Promise<void> {
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await waitForHydration(page);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in through /login?next=<path> and waits until the browser is on that path. */
export async function signIn(page: Page, admin: Admin, next = '/agents'): Promise<void> {
  await page.goto(`/login?next=${encodeURIComponent(next)}`);
  await submitLogin(page, admin.email, admin.password);
  await expect(page).toHaveURL((url) => url.pathname === next);
  await waitForHydration(page);
}

/** Signs a request context in through the REST API (its own cookie jar). */
export async function apiSignIn(request: APIRequestContext, admin: Admin): Promise<void> {
  const res = await request.post('/api/auth/login', {
    data: { email: admin.email, password: admin.password },
    headers: { Origin: ORIGIN },
  });
  expect(res.status(), `POST /api/auth/login: ${await res.text()}`).toBe(200);
}

export interface Agent {
  id: string;
  name: string;
  status: string;
  webhook_url: string | null;
  payload_schema: unknown;
  [key: string]: unknown;
}

export interface NewAgent {
  name: string;
  description?: string;
  status?: 'draft' | 'active' | 'suspended' | 'inactive';
  payload_schema?: unknown;
  rate_limit_per_minute?: number | null;
  require_timestamp?: boolean;
}

async function json<T>(res: APIResponse, what: string, status = 200): Promise<T> {
  const body = await res.text();
  expect(res.status(), `${what}: ${body}`).toBe(status);
  return JSON.parse(body) as T;
}

/**
 * Creates an agent through the REST API. Pass `page.request` (shares the browser's cookies)
 * or a request context signed in with apiSignIn.
 */
export async function createAgentViaApi(request: APIRequestContext, input: NewAgent): Promise<Agent> {
  const res = await request.post('/api/agents', { data: input, headers: { Origin: ORIGIN } });
  return json<Agent>(res, 'POST /api/agents', 201);
}

export async function getAgentViaApi(request: APIRequestContext, id: string): Promise<Agent> {
  return json<Agent>(await request.get(`/api/agents/${id}`), `GET /api/agents/${id}`);
}

export async function listAgentsViaApi(request: APIRequestContext): Promise<Agent[]> {
  return json<Agent[]>(await request.get('/api/agents'), 'GET /api/agents');
}

export interface RevealedSecret {
  hmac_secret: string;
  standard_webhooks_secret: string;
}

/** Reveals an agent's secret through the REST API (audited, 10 per minute per admin). */
export async function revealSecretViaApi(request: APIRequestContext, id: string): Promise<RevealedSecret> {
  return json<RevealedSecret>(
    await request.get(`/api/agents/${id}/webhook-secret`),
    `GET /api/agents/${id}/webhook-secret`,
  );
}

export interface Execution {
  id: string;
  status: string;
  payload: unknown;
  result: unknown;
  error: string | null;
  attempts: number;
}

export async function getExecutionViaApi(request: APIRequestContext, id: string): Promise<Execution> {
  return json<Execution>(await request.get(`/api/executions/${id}`), `GET /api/executions/${id}`);
}

/** `sha256=<hex>`: HMAC-SHA256 keyed with the UTF-8 bytes of the base64 secret text. */
export function hubSignature(secret: string, body: string): string {
  return 'sha256=' + createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(body, 'utf8')).digest('hex');
}

/** POSTs a JSON body, signed with X-Hub-Signature-256, to a webhook URL. */
export async function sendSignedWebhook(
  request: APIRequestContext,
  webhookUrl: string,
  secret: string,
  payload: unknown,
): Promise<APIResponse> {
  const body = JSON.stringify(payload);
  return request.post(webhookUrl, {
    data: body,
    headers: {
      'Content-Type': 'application/json',
      'X-Hub-Signature-256': hubSignature(secret, body),
    },
  });
}

/**
 * The innermost `<section>` holding a heading with that exact name (of that level when
 * given). The agent page's sections have level-2 headings.
 */
export function section(page: Page, heading: string, level?: number): Locator {
  const options = level === undefined ? { name: heading, exact: true } : { level, name: heading, exact: true };
  return page.locator('section').filter({ has: page.getByRole('heading', options) }).last();
}

/** The agent detail page, hydrated, with its h1 showing the agent's name. */
/**
 * The execution page's Request section once it shows `text`. The request log is written in
 * the background, within about a second of the request: the page's Refresh is clicked until
 * the section shows it.
 */
export async function executionRequest(page: Page, text: string): Promise<Locator> {
  const request = section(page, 'Request', 2);
  await expect(async () => {
    if (!(await request.textContent())?.includes(text)) {
      await page.getByRole('button', { name: 'Refresh' }).click();
    }
    await expect(request).toContainText(text, { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  return request;
}

export async function openAgentPage(page: Page, agent: Pick<Agent, 'id' | 'name'>): Promise<void> {
  await gotoHydrated(page, `/agents/${agent.id}`);
  await expect(page.getByRole('heading', { level: 1, name: agent.name, exact: true })).toBeVisible();
}

/** Collects uncaught page errors, to assert there were none at the end of a test. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}

/** JSON.parse, or undefined for text that is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A schema with one typed field, so that `{"ticket_id": "x"}` fails at "/ticket_id". */
export const TICKET_SCHEMA = {
  type: 'object',
  required: ['ticket_id'],
  properties: {
    ticket_id: { type: 'integer' },
    subject: { type: 'string' },
  },
};
