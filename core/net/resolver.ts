import { promises as dns } from 'node:dns';

/** One address a name resolved to. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Why a name has no addresses: no such name (or no A/AAAA record), no answer in time, or other. */
export type ResolveFailure = 'not_found' | 'timeout' | 'failed';

export class ResolveError extends Error {
  constructor(readonly failure: ResolveFailure, name: string, cause?: unknown) {
    super(`${name}: ${failure === 'not_found' ? 'no such host' : failure === 'timeout' ? 'DNS timed out' : 'DNS failed'}`, { cause });
    this.name = 'ResolveError';
  }
}

/** The seam through which the proxy turns names into addresses (never for IP literals). */
export interface NameResolver {
  /**
   * Every A and AAAA address of `name`, IPv4 first.
   * @throws ResolveError
   */
  resolve(name: string): Promise<ResolvedAddress[]>;
}

/** Options of {@link SystemResolver}. */
export interface SystemResolverOptions {
  /** Deadline of one lookup (A and AAAA in parallel), ms. */
  timeoutMs: number;
  /** DNS servers (`ip` or `ip:port`); default: those of /etc/resolv.conf. */
  servers?: string[];
}

/**
 * Resolves with c-ares (`dns.promises.Resolver`): queries go to the DNS servers directly, off
 * libuv's thread pool (unlike `dns.lookup`), so slow DNS never stalls file I/O, and /etc/hosts
 * plays no part.
 */
export class SystemResolver implements NameResolver {
  private readonly resolver: dns.Resolver;

  constructor(private readonly opts: SystemResolverOptions) {
    // Two tries of half the deadline each; the race in resolve() bounds the whole lookup.
    this.resolver = new dns.Resolver({ timeout: Math.max(50, Math.ceil(opts.timeoutMs / 2)), tries: 2 });
    if (opts.servers) this.resolver.setServers(opts.servers);
  }

  async resolve(name: string): Promise<ResolvedAddress[]> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ResolveError('timeout', name)), this.opts.timeoutMs);
    });
    try {
      return await Promise.race([this.both(name), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async both(name: string): Promise<ResolvedAddress[]> {
    const [v4, v6] = await Promise.allSettled([this.resolver.resolve4(name), this.resolver.resolve6(name)]);
    const out: ResolvedAddress[] = [
      ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 as const })) : []),
      ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 as const })) : []),
    ];
    if (out.length > 0) return out;
    throw new ResolveError(failureOf([v4, v6]), name, v4.status === 'rejected' ? v4.reason : undefined);
  }
}

/**
 * `EGRESS_RESOLVER=static`: answers from a fixed table (`EGRESS_STATIC_HOSTS`), every other name
 * is NXDOMAIN; no query is ever sent. Its answers are checked like any DNS answer (unlike
 * internal hosts), so a name it maps to a private address is refused: tests use that.
 */
export class StaticResolver implements NameResolver {
  /** Names asked for (tests read it). */
  lookups = 0;
  private readonly table: ReadonlyMap<string, string>;

  constructor(entries: ReadonlyArray<{ name: string; address: string }> = []) {
    this.table = new Map(entries.map((e) => [e.name, e.address]));
  }

  async resolve(name: string): Promise<ResolvedAddress[]> {
    this.lookups++;
    const address = this.table.get(name);
    if (address === undefined) throw new ResolveError('not_found', name);
    return [{ address, family: address.includes(':') ? 6 : 4 }];
  }
}

function failureOf(results: PromiseSettledResult<unknown>[]): ResolveFailure {
  const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as NodeJS.ErrnoException).code : undefined));
  if (codes.some((c) => c === dns.TIMEOUT)) return 'timeout';
  if (codes.every((c) => c === dns.NOTFOUND || c === dns.NODATA)) return 'not_found';
  return 'failed';
}
