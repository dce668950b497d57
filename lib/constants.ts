// SCIF's own constants (the flag values of scif.h), for users who speak SCIF.
export const constants = Object.freeze({
  /** Ports below this need root. */
  SCIF_ADMIN_PORT_END: 1024,
  /** Ports up to this are reserved; automatic ports start above it. */
  SCIF_PORT_RSVD: 1088,
  SCIF_ACCEPT_SYNC: 1,
  SCIF_SEND_BLOCK: 1,
  SCIF_RECV_BLOCK: 1,
  SCIF_PROT_READ: 1,
  SCIF_PROT_WRITE: 2,
  SCIF_MAP_FIXED: 0x10,
  SCIF_FENCE_INIT_SELF: 1,
  SCIF_FENCE_INIT_PEER: 2,
  SCIF_SIGNAL_LOCAL: 0x10,
  SCIF_SIGNAL_REMOTE: 0x20,
  SCIF_RMA_USECPU: 1,
  SCIF_RMA_USECACHE: 2,
  SCIF_RMA_SYNC: 4,
  SCIF_RMA_ORDERED: 8,
  /** The most nodes a platform has (the host and 128 cards). */
  SCIF_MAX_NODES: 129,
});
