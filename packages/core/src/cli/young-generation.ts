/**
 * The CLI's start-up keeps V8's young generation small. Loading the modules of
 * a bus (TypeBox, Ajv, the client library, the bus module) and starting it
 * allocate in bursts, and V8 answers each burst by doubling the young
 * generation, up to 16 MB of semi-spaces on 64-bit Node 20. Those pages stay
 * resident in a worker that then idles: about 10 MB of its RSS. With growth
 * held at 1 while the CLI loads and the bus starts, the young generation stays
 * at its initial size; released afterwards, it grows again under load as
 * usual (throughput is unchanged; the cost is more, smaller scavenges during
 * start-up only).
 *
 * Not done when the user sets the flag in NODE_OPTIONS or on node's command
 * line (their choice stands). `v8.setFlagsFromString` after start-up is only
 * safe for flags V8 reads while running: this one is read at each resize.
 */
import { setFlagsFromString } from 'node:v8';

const FLAG = '--semi-space-growth-factor';
/** V8's default (node --v8-options). */
const DEFAULT_GROWTH = 2;

let held = false;

function userSetsIt(): boolean {
  return (
    (process.env.NODE_OPTIONS ?? '').includes('semi-space') || process.execArgv.some((a) => a.includes('semi-space'))
  );
}

/** Keep the young generation at its initial size (until release). */
export function holdYoungGeneration(): void {
  if (held || userSetsIt()) return;
  held = true;
  setFlagsFromString(`${FLAG}=1`);
}

/** Let the young generation grow again (V8's default growth). */
export function releaseYoungGeneration(): void {
  if (!held) return;
  held = false;
  setFlagsFromString(`${FLAG}=${DEFAULT_GROWTH}`);
}
