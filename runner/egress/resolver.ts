// The resolvers moved to core/net/ (webhook targets in the API use them too).
export {
  ResolveError, StaticResolver, SystemResolver,
  type NameResolver, type ResolvedAddress, type ResolveFailure, type SystemResolverOptions,
} from '../../core/net/resolver.ts';
