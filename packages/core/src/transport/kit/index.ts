/** The transport kit: what every transport shares, so a new one gets the rules for free. */
export * from './settle';
export { RoleLifecycle } from './lifecycle';
