import { test, expect } from '@playwright/test';
import { Webhook } from 'standardwebhooks';
import { collectPageErrors, createAdmin, parseJson, section, signIn, type Admin } from './helpers';
import { startReceiver } from './receiver';

// The settings page: a notification URL, its signing secret and the test button.

let admin: Admin;

test.beforeAll(() => {
  admin = createAdmin('notify');
});

test('a notification URL is saved and the test notification arrives signed', async ({ page }) => {
  const errors = collectPageErrors(page);
  const receiver = await startReceiver({ ok: true });
  try {
    await signIn(page, admin, '/settings');
    const card = section(page, 'Failure notifications', 2);
    await expect(card.getByRole('button', { name: 'Send test notification' })).toBeDisabled();

    await card.getByLabel('Notification URL').fill('https://169.254.169.254/hooks');
    await card.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(card.getByRole('alert')).toContainText('a link-local address');

    await card.getByLabel('Notification URL').fill(`${receiver.url}/alerts`);
    await card.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(card.getByText('Notification URL saved.')).toBeVisible();
    await card.getByRole('button', { name: 'Show Secret' }).click();
    const secretField = card.getByLabel('Signing secret (Standard Webhooks)');
    await expect(secretField).toHaveValue(/^whsec_/);
    const secret = await secretField.inputValue();

    await card.getByRole('button', { name: 'Send test notification' }).click();
    await expect(page.getByTestId('notification-notice')).toContainText(
      'Delivered: the receiver answered 200',
    );
    expect(receiver.received).toHaveLength(1);
    const event = receiver.received[0];
    expect(event.path).toBe('/alerts');
    const verified = new Webhook(secret).verify(event.body, event.headers) as { type: string };
    expect(verified.type).toBe('notification.test');
    expect(parseJson(event.body)).toMatchObject({ type: 'notification.test' });
    expect(errors).toEqual([]);
  } finally {
    await receiver.close();
  }
});
