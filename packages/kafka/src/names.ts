/**
 * Topic and consumer-group names: the stable part of the wire format
 * (docs/explanation/kafka-topics.md). Everything starts with `topic_prefix`.
 *
 *   events, per_api    <prefix>event.<api>
 *   events, per_event  <prefix>event.<api>.<event>
 *   calls              <prefix>rpc.<api>
 *   results            <prefix>reply.<service>
 *   schemas            <prefix>schema
 *   dead letters       <prefix>dead-letter
 *   settled markers    <dead-letter topic>.settled (compacted)
 *   listener groups    <prefix><service>-<listener>
 *   worker groups      <prefix>rpc.<api>
 */
import { createHash } from 'node:crypto';

/** Kafka's limit on topic name length. */
export const MAX_TOPIC_LENGTH = 249;

/** A name made safe for Kafka: legal characters only, and short enough (long names end in a hash). */
export function safeTopicName(name: string): string {
  const legal = name.replace(/[^A-Za-z0-9._-]/g, '_');
  if (legal.length <= MAX_TOPIC_LENGTH && legal !== '.' && legal !== '..') return legal;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 16);
  return `${legal.slice(0, MAX_TOPIC_LENGTH - hash.length - 1)}-${hash}`;
}

export type TopicUse = 'per_api' | 'per_event';

export class TopicNames {
  constructor(readonly prefix: string) {}

  /** The topic an event is produced to and consumed from. */
  event(apiName: string, eventName: string, use: TopicUse): string {
    return safeTopicName(
      use === 'per_api' ? `${this.prefix}event.${apiName}` : `${this.prefix}event.${apiName}.${eventName}`,
    );
  }

  /** Every topic that may hold events of one API under per_event: `<prefix>event.<api>.<event>`. */
  isPerEventTopicOf(topic: string, apiName: string): boolean {
    const head = `${this.prefix}event.${apiName}.`;
    return topic.startsWith(head) && /^[A-Za-z][A-Za-z0-9_]*$/.test(topic.slice(head.length));
  }

  /** The request topic of an API, shared by all its workers. */
  request(apiName: string): string {
    return safeTopicName(`${this.prefix}rpc.${apiName}`);
  }

  /** The reply topic of a calling service; each process reads its own partition. */
  reply(serviceName: string): string {
    return safeTopicName(`${this.prefix}reply.${serviceName}`);
  }

  schema(): string {
    return safeTopicName(`${this.prefix}schema`);
  }

  deadLetter(): string {
    return safeTopicName(`${this.prefix}dead-letter`);
  }

  /** The compacted topic that marks a dead-letter topic's replayed and discarded records. */
  settledMarkers(deadLetterTopic: string): string {
    return safeTopicName(`${deadLetterTopic}.settled`);
  }

  /** Whether a topic is a request topic (calls) under this prefix. */
  isRequestTopic(topic: string): boolean {
    return topic.startsWith(`${this.prefix}rpc.`);
  }

  /** A listener's consumer group: the prefix, then core's `<service>-<listener>`. */
  listenerGroup(group: string): string {
    return `${this.prefix}${group}`;
  }

  /** The consumer group shared by every worker of an API. */
  workerGroup(apiName: string): string {
    return `${this.prefix}rpc.${apiName}`;
  }

  /** A group used by one process only (reply reader, schema reader, history), never committed. */
  privateGroup(purpose: string, serviceName: string, processName: string, unique: string): string {
    return `${this.prefix}${purpose}.${serviceName}.${processName}.${unique}`;
  }
}
