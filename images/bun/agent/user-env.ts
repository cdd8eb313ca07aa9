/**
 * The base environment of user programs (an execution's own `env` overrides it). Nothing of the
 * agent's environment leaks into it; what a program needs to reach the network and install
 * packages is spelled out here:
 *
 * - `HTTP_PROXY`/`HTTPS_PROXY` (and lower-case forms, which busybox wget and others read) lead
 *   to the agent's egress relay on the container's loopback; `NO_PROXY` keeps the session's own
 *   servers direct. `NODE_USE_ENV_PROXY=1` makes `node:http`/`node:https` honour them.
 * - Bun's install cache lives in the workspace, so that packages `bun add` or auto-install
 *   fetched survive idle and deep sleep (and count against the disk limit).
 * - With an operator registry (`NPM_REGISTRY_URL`), `BUN_CONFIG_REGISTRY` and
 *   `NPM_CONFIG_REGISTRY` name it as the default registry.
 */
/** Port of the agent's egress relay on the container's loopback. */
export const EGRESS_PROXY_PORT = 3128;
/** Where the proxy variables point. */
export const EGRESS_PROXY_URL = `http://127.0.0.1:${EGRESS_PROXY_PORT}`;
/** Hosts that never go through the proxy: the session's own loopback. */
export const NO_PROXY_HOSTS = 'localhost,127.0.0.1,::1';
/** Bun's global package cache, inside the workspace. */
export const BUN_CACHE_DIR = '/workspace/.bun/install/cache';

export interface UserEnvOptions {
  /** The default package registry (`BUNTIME_NPM_REGISTRY`), if the operator set one. */
  registry?: string;
}

/** The environment every user program starts with. */
export function userEnvironment(o: UserEnvOptions = {}): Readonly<Record<string, string>> {
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: '/tmp',
    TMPDIR: '/tmp',
    LANG: 'C.UTF-8',
    USER: 'sandbox',
    HTTP_PROXY: EGRESS_PROXY_URL,
    HTTPS_PROXY: EGRESS_PROXY_URL,
    http_proxy: EGRESS_PROXY_URL,
    https_proxy: EGRESS_PROXY_URL,
    NO_PROXY: NO_PROXY_HOSTS,
    no_proxy: NO_PROXY_HOSTS,
    NODE_USE_ENV_PROXY: '1',
    BUN_INSTALL_CACHE_DIR: BUN_CACHE_DIR,
  };
  if (o.registry) {
    env.BUN_CONFIG_REGISTRY = o.registry;
    env.NPM_CONFIG_REGISTRY = o.registry;
  }
  return Object.freeze(env);
}
