/**
 * The transport kit: what every transport shares, so a new one gets the rules for free.
 * Event side: the settle rule, role lifecycle. Call side: request/reply
 * matching with deadlines, the deadline helpers, one retry loop, one codec
 * result type.
 */
export * from './settle';
export { RoleLifecycle } from './lifecycle';
export { ReplyMatcher, foreignReturnPath, sendCall } from './reply';
export type { ExpectedCall, ReplyMatcherOptions } from './reply';
export { DEFAULT_CALL_SECONDS, deadlineIn, deadlineOf, isPast, msUntil } from './deadline';
export type { Deadline } from './deadline';
export { isRetriable, retry } from './retry';
export type { RetryOptions } from './retry';
export { decoded, encodeForWire, undecodable } from './codec';
export type { Decoded } from './codec';
export { createRole, declaredCapabilities, optionsWithDefaults } from './role';
export type { CreateRoleOptions } from './role';
