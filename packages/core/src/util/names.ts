/** Service and process names: placeholders as in Python Lightbus's config. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

const ADJECTIVES = [
  'amber',
  'brave',
  'calm',
  'clever',
  'crisp',
  'eager',
  'fancy',
  'gentle',
  'glad',
  'golden',
  'happy',
  'jolly',
  'keen',
  'kind',
  'lively',
  'lucky',
  'merry',
  'mighty',
  'nimble',
  'noble',
  'proud',
  'quick',
  'quiet',
  'rapid',
  'shiny',
  'silent',
  'sunny',
  'swift',
  'tidy',
  'witty',
];
const NOUNS = [
  'badger',
  'beacon',
  'brook',
  'canyon',
  'cedar',
  'comet',
  'falcon',
  'fern',
  'harbor',
  'heron',
  'island',
  'lantern',
  'maple',
  'meadow',
  'otter',
  'panda',
  'pebble',
  'pine',
  'raven',
  'river',
  'robin',
  'sparrow',
  'spruce',
  'summit',
  'thistle',
  'tiger',
  'valley',
  'willow',
  'wren',
  'zephyr',
];

function pick<T>(list: readonly T[]): T {
  const index = randomBytes(1)[0]! % list.length;
  return list[index]!;
}

/** A human-friendly name such as `swift-otter-42`. */
export function friendlyName(): string {
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${(randomBytes(1)[0]! % 90) + 10}`;
}

/** Random lowercase letters and digits. */
export function randomName(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i]! % alphabet.length];
  return out;
}

export const NAME_PLACEHOLDERS = ['hostname', 'pid', 'random4', 'random8', 'random16', 'friendly'] as const;

/**
 * Replace `{hostname}`, `{pid}`, `{random4}`, `{random8}`, `{random16}` and
 * `{friendly}` in a service or process name. The random placeholders share one
 * random string, as in Python Lightbus.
 */
export function formatName(template: string): string {
  const random = randomName(16);
  const values: Record<(typeof NAME_PLACEHOLDERS)[number], () => string> = {
    hostname: () => hostname().toLowerCase(),
    pid: () => String(process.pid),
    random4: () => random.slice(0, 4),
    random8: () => random.slice(0, 8),
    random16: () => random,
    friendly: friendlyName,
  };
  return template.replace(/\{([a-z0-9]+)\}/g, (whole, key: string) =>
    key in values ? values[key as keyof typeof values]() : whole,
  );
}
