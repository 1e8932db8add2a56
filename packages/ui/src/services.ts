/**
 * Services and processes, as the state plugin reports them: `internal.state` worker_started,
 * worker_ping and worker_stopped, from TypeScript and Python workers alike (Python's plugin also
 * sends hostname and pid, which is how a Python process is told apart).
 */
import type { EventMessage } from '@lightbus/core';

export interface ProcessInfo {
  readonly serviceName: string;
  readonly processName: string;
  readonly status: 'alive' | 'gone';
  /** Epoch ms of the last state event. */
  readonly lastSeen: number;
  readonly lastEvent: string;
  readonly pingInterval: number | undefined;
  readonly apiNames: readonly string[];
  readonly listeningFor: readonly string[];
  readonly language: 'python' | 'typescript';
  readonly hostname?: string;
  readonly pid?: number;
  /** The API version of the state events it sent. */
  readonly version: number;
}

interface Entry {
  serviceName: string;
  processName: string;
  lastSeen: number;
  lastEvent: string;
  stopped: boolean;
  pingInterval: number | undefined;
  apiNames: string[];
  listeningFor: string[];
  hostname?: string;
  pid?: number;
  version: number;
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

/** A process is gone once it said so, or missed two pings (and a grace of 5 s). */
const DEFAULT_PING_SECONDS = 60;
const GRACE_MS = 5_000;

export class ServiceTracker {
  private readonly processes = new Map<string, Entry>();

  constructor(private readonly ownProcess: string) {}

  /** Take in one internal.state event (others are ignored). */
  observe(message: EventMessage): void {
    if (message.apiName !== 'internal.state') return;
    const kwargs = message.kwargs as Record<string, unknown>;
    const processName = typeof kwargs.process_name === 'string' ? kwargs.process_name : undefined;
    if (!processName || processName === this.ownProcess) return;
    const timestamp =
      typeof kwargs.timestamp === 'number' ? kwargs.timestamp * 1000 : (message.time?.getTime() ?? Date.now());
    const known = this.processes.get(processName);
    if (known && known.lastSeen > timestamp) return; // an older event (history read after a live one)
    const entry: Entry = known ?? {
      serviceName: '',
      processName,
      lastSeen: timestamp,
      lastEvent: message.eventName,
      stopped: false,
      pingInterval: undefined,
      apiNames: [],
      listeningFor: [],
      version: message.version,
    };
    entry.lastSeen = timestamp;
    entry.lastEvent = message.eventName;
    entry.version = message.version;
    if (typeof kwargs.service_name === 'string') entry.serviceName = kwargs.service_name;
    entry.stopped = message.eventName === 'worker_stopped';
    if (message.eventName !== 'worker_stopped') {
      entry.apiNames = strings(kwargs.api_names);
      entry.listeningFor = strings(kwargs.listening_for);
      if (typeof kwargs.ping_interval === 'number') entry.pingInterval = kwargs.ping_interval;
      if (typeof kwargs.hostname === 'string') entry.hostname = kwargs.hostname;
      if (typeof kwargs.pid === 'number') entry.pid = kwargs.pid;
    }
    this.processes.set(processName, entry);
  }

  list(now = Date.now()): ProcessInfo[] {
    return [...this.processes.values()]
      .map((entry) => {
        const overdue = now - entry.lastSeen > (entry.pingInterval ?? DEFAULT_PING_SECONDS) * 2000 + GRACE_MS;
        const info: ProcessInfo = {
          serviceName: entry.serviceName,
          processName: entry.processName,
          status: entry.stopped || overdue ? 'gone' : 'alive',
          lastSeen: entry.lastSeen,
          lastEvent: entry.lastEvent,
          pingInterval: entry.pingInterval,
          apiNames: entry.apiNames,
          listeningFor: entry.listeningFor,
          language: entry.pid !== undefined || entry.hostname !== undefined ? 'python' : 'typescript',
          version: entry.version,
          ...(entry.hostname !== undefined ? { hostname: entry.hostname } : {}),
          ...(entry.pid !== undefined ? { pid: entry.pid } : {}),
        };
        return info;
      })
      .sort((a, b) => a.serviceName.localeCompare(b.serviceName) || a.processName.localeCompare(b.processName));
  }
}
