import { createHmac, randomBytes } from 'node:crypto';

/** Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = 'Buntime-Signature';
/** Header carrying the event id (also the body's `id`): the same on every retry. */
export const EVENT_ID_HEADER = 'Buntime-Event-Id';
/** Header carrying the event type (also the body's `type`). */
export const EVENT_TYPE_HEADER = 'Buntime-Event';

/**
 * The signature header of one delivery attempt: HMAC-SHA256 keyed with the webhook's secret
 * (the whole string, as UTF-8) over `<t>.<body>`, the Stripe scheme. Each attempt signs anew
 * with its own timestamp, so a receiver may refuse old timestamps (replays).
 *
 * @param timestampSec unix time of the attempt, s
 */
export function signatureHeader(secret: string, body: string, timestampSec: number): string {
  const t = Math.floor(timestampSec);
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

/** A new webhook secret: `whsec_` + 32 random bytes, base64url. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}
