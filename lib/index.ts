// scif: SCIF endpoints behind the net API.
import { binding } from './binding';
import { errnoException } from './errors';
import { currentPlatform } from './platform';

import { Socket as SocketClass, callable } from './socket';
import type { SocketConstructor } from './socket';
import { Server as ServerClass } from './server';
import type { ServerConstructor } from './server';

/** A SCIF connection: a net.Socket-style Duplex. Callable without `new`, as net's. */
export const Socket = callable(SocketClass) as unknown as SocketConstructor;
export type Socket = SocketClass;
/** net's alias of Socket. */
export const Stream = Socket;
export type Stream = SocketClass;
/** A listening SCIF endpoint, shaped like net.Server. Callable without `new`, as net's. */
export const Server = callable(ServerClass) as unknown as ServerConstructor;
export type Server = ServerClass;

export { connect, createConnection } from './socket';
export type { ConnectOptions, OnReadOptions, PortAddress, SocketConstructor, SocketOptions } from './socket';
export { createServer } from './server';
export type { DropArgument, ListenOptions, ServerConstructor, ServerOptions } from './server';
export { constants } from './constants';
export { alloc, PAGE_SIZE } from './rma';
export type {
  CopyOptions,
  FenceOptions,
  Mapping,
  MmapOptions,
  Protection,
  RegisterOptions,
  SignalOptions,
  SignalTarget,
  VCopyOptions,
  Window,
} from './rma';
export type { ScifError, CodedError } from './errors';
export type { Platform } from './platform';

/** The nodes of the platform: this process's node and every online node. */
export interface NodeIds {
  self: number;
  nodes: number[];
}

/** Lists the platform's online nodes and this process's own node. */
export function getNodeIds(): NodeIds {
  const p = currentPlatform();
  const r = binding.getNodeIds(p.provider, p.node, p.nodes);
  if (typeof r === 'number') throw errnoException(r, 'scif_get_node_ids');
  return { self: r.self, nodes: r.nodes };
}

/** Which provider this process uses ('kernel' or 'user') and its node. */
export function platform(): import('./platform').Platform {
  return currentPlatform();
}
