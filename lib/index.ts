// scif: SCIF endpoints behind the net API.
import { binding } from './binding';
import { errnoException } from './errors';
import { currentPlatform } from './platform';

export { Socket, connect, createConnection } from './socket';
export type { ConnectOptions, PortAddress, SocketOptions } from './socket';
export { Server, createServer } from './server';
export type { DropArgument, ListenOptions, ServerOptions } from './server';
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
