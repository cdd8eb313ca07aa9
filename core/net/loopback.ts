import { classifyAddress } from './address-class.ts';

/** True for `localhost` and loopback IP literals (127.0.0.0/8, ::1; IPv6 with or without brackets). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || classifyAddress(bare).range === 'loopback';
}
