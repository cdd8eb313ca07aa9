/**
 * Egress settings of every service the test suite starts (global setup, `ownService`, tests that
 * start their own API or runner from `process.env`): names resolve only from a fixed table, never
 * by a DNS query, and the dialer refuses any address that is not loopback, so a test run cannot
 * send a packet off this machine whatever the code under test does. `private.test` resolves to a
 * private address (refused by the address classes). The registry is an internal-host name:
 * tests that need it start the fixture registry and map the name on a service of their own.
 */
export const SUITE_EGRESS_ENV = Object.freeze({
  EGRESS_RESOLVER: 'static',
  EGRESS_STATIC_HOSTS: 'private.test=10.20.30.40',
  EGRESS_TEST_GUARD: '1',
  NPM_REGISTRY_URL: 'http://registry.test/',
});
