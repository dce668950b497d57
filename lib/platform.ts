// Provider selection and platform settings, read from the environment at
// each endpoint's creation: SCIF_PROVIDER, SCIF_NODE, SCIF_NODES,
// SCIF_BUSY_POLL_US, SCIF_SEGMENTS.
import { existsSync } from 'node:fs';
import type { ProviderName } from './binding';
import { simpleError } from './errors';

/** The maximum SCIF platform size (node 0 plus 128 cards). */
export const MAX_NODES = 129;

export interface Platform {
  provider: ProviderName;
  /** This process's node. */
  node: number;
  /** Platform size (user provider). */
  nodes: number;
  /**
   * How long (µs) the event loop keeps polling after SCIF I/O instead of
   * sleeping: SCIF_BUSY_POLL_US, 0 = off.
   */
  busyPollUs: number;
  /**
   * Large writes in one copy (user provider): SCIF_SEGMENTS=auto (the
   * default: posted wherever the reader may read the writer's memory), on
   * (the same), off.
   */
  segments: SegmentsMode;
  /**
   * Small writes through shared memory when both ends can run at once
   * (user provider): SCIF_LANE=auto (the default) or off.
   */
  lane: 'auto' | 'off';
}

export type SegmentsMode = 'auto' | 'on' | 'off';
/** As the addon takes it. */
export const SEGMENTS_CODE: Record<SegmentsMode, number> = { auto: 0, on: 1, off: 2 };

/** The default busy-polling window, in microseconds. */
export const DEFAULT_BUSY_POLL_US = 50;

/** The device a process on |node| opens with the kernel provider. */
export function devicePath(node: number): string {
  return node === 0 ? '/dev/scif' : `/dev/scif${node}`;
}

function readInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n < min || n > max) {
    throw simpleError('ERR_SCIF_CONFIG', `${name}=${raw} is invalid: expected an integer from ${min} to ${max}`);
  }
  return n;
}

export function currentPlatform(): Platform {
  const nodes = readInt('SCIF_NODES', 2, 1, MAX_NODES);
  const node = readInt('SCIF_NODE', 0, 0, MAX_NODES - 1);
  const wanted = process.env.SCIF_PROVIDER;
  let provider: ProviderName;
  if (wanted === 'kernel') {
    if (!existsSync(devicePath(node))) {
      throw simpleError(
        'ERR_SCIF_NO_DEVICE',
        `SCIF_PROVIDER=kernel but ${devicePath(node)} does not exist: load scif.ko (see README) or unset SCIF_PROVIDER`,
      );
    }
    provider = 'kernel';
  } else if (wanted === 'user') {
    provider = 'user';
  } else if (wanted === undefined || wanted === '') {
    provider = existsSync(devicePath(node)) ? 'kernel' : 'user';
  } else {
    throw simpleError('ERR_SCIF_CONFIG', `SCIF_PROVIDER=${wanted} is invalid: expected 'kernel' or 'user'`);
  }
  if (provider === 'user' && node >= nodes) {
    throw simpleError('ERR_SCIF_CONFIG', `SCIF_NODE=${node} is outside the platform (SCIF_NODES=${nodes})`);
  }
  const busyPollUs = readInt('SCIF_BUSY_POLL_US', DEFAULT_BUSY_POLL_US, 0, 1000000);
  const rawSegments = process.env.SCIF_SEGMENTS;
  let segments: SegmentsMode = 'auto';
  if (rawSegments !== undefined && rawSegments !== '') {
    if (rawSegments !== 'auto' && rawSegments !== 'on' && rawSegments !== 'off') {
      throw simpleError('ERR_SCIF_CONFIG', `SCIF_SEGMENTS=${rawSegments} is invalid: expected 'auto', 'on' or 'off'`);
    }
    segments = rawSegments;
  }
  const rawLane = process.env.SCIF_LANE;
  if (rawLane !== undefined && rawLane !== '' && rawLane !== 'auto' && rawLane !== 'off') {
    throw simpleError('ERR_SCIF_CONFIG', `SCIF_LANE=${rawLane} is invalid: expected 'auto' or 'off'`);
  }
  const lane = rawLane === 'off' ? 'off' : 'auto';
  return { provider, node, nodes, busyPollUs, segments, lane };
}
