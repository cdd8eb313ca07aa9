import { z } from 'zod';
import { randomBase62, type AccountStore } from '../accounts.ts';
import { BuntimeError } from '../errors.ts';
import { WEBHOOK_EVENTS, webhookEventTypeSchema } from './events.ts';
import { newWebhookSecret } from './signature.ts';
import type { DeliveryAttempt, WebhookRecord, WebhookStore, WebhookView } from './store.ts';
import { MAX_URL_LENGTH, TargetRefusal, type TargetChecker } from './target.ts';

/** Webhooks one account may have. */
export const MAX_WEBHOOKS_PER_ACCOUNT = 20;

/** `POST /webhooks` (and its admin and CLI forms). */
export const webhookInputSchema = z.strictObject({
  url: z.string().min(1).max(MAX_URL_LENGTH),
  events: z.array(webhookEventTypeSchema).min(1).max(WEBHOOK_EVENTS.length)
    .transform((list) => WEBHOOK_EVENTS.filter((e) => list.includes(e))),
  /** Printable ASCII, 16–256 characters; generated (and shown once) when absent. */
  secret: z.string().min(16).max(256).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces').optional(),
});
export type WebhookInput = z.infer<typeof webhookInputSchema>;

/** A webhook just made: the only answer that shows its secret. */
export type CreatedWebhook = WebhookView & { secret: string };

/**
 * Webhook administration, shared by the API, the admin API and the CLI: registration checks the
 * URL against the address policy (a refused target is a 400 naming `url`), ids are scoped to
 * their account (another account's webhook is `not_found`).
 */
export class Webhooks {
  constructor(
    private readonly o: {
      store: WebhookStore;
      checker: TargetChecker;
      accounts: AccountStore;
      maxPerAccount?: number;
    },
  ) {}

  async register(account: string, input: WebhookInput): Promise<CreatedWebhook> {
    if (!(await this.o.accounts.getAccount(account))) {
      throw new BuntimeError('not_found', `no account ${account}`, { details: { account } });
    }
    await this.checkUrl(input.url);
    const max = this.o.maxPerAccount ?? MAX_WEBHOOKS_PER_ACCOUNT;
    const rec: WebhookRecord = {
      id: `wh_${randomBase62(20)}`, account, url: input.url, events: input.events,
      secret: input.secret ?? newWebhookSecret(), createdAt: new Date().toISOString(),
    };
    if (!(await this.o.store.create(rec, max))) {
      throw new BuntimeError('invalid_request', `an account may have at most ${max} webhooks`, { details: { field: 'url', limit: max } });
    }
    return { ...view(rec), secret: rec.secret };
  }

  async list(account: string): Promise<WebhookView[]> {
    return (await this.o.store.list(account)).map(view);
  }

  /** Deletes a webhook; with `account`, only one of that account's. */
  async remove(id: string, account?: string): Promise<{ deleted: true; id: string }> {
    await this.o.store.remove(await this.owned(id, account));
    return { deleted: true, id };
  }

  /** The webhook's recent delivery attempts, newest first; with `account`, only one of its. */
  async deliveries(id: string, account: string | undefined, limit: number): Promise<DeliveryAttempt[]> {
    const rec = await this.owned(id, account);
    return this.o.store.attempts(rec.id, limit);
  }

  private async checkUrl(url: string): Promise<void> {
    try {
      await this.o.checker.check(url);
    } catch (err) {
      if (!(err instanceof TargetRefusal)) throw err;
      throw new BuntimeError('invalid_request', `url: ${err.message}`, { details: { field: 'url', reason: err.reason } });
    }
  }

  private async owned(id: string, account: string | undefined): Promise<WebhookRecord> {
    const rec = await this.o.store.get(id);
    if (!rec || (account !== undefined && rec.account !== account)) {
      throw new BuntimeError('not_found', 'webhook not found', { details: { id } });
    }
    return rec;
  }
}

function view(rec: WebhookRecord): WebhookView {
  return { id: rec.id, url: rec.url, events: rec.events, createdAt: rec.createdAt };
}
