// The address classes moved to core/net/ (webhook targets in the API use them too).
export { classifyAddress, type AddressClass } from '../../core/net/address-class.ts';
