/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scif_wire.h - the SCIF link wire format, version 1.
 *
 * This header is the whole contract between the nodes of a SCIF link and the
 * fabric that joins them (kmod/fabric/scif-fabric.c).  It compiles in the
 * kernel and in userspace, so a userspace peer can implement the protocol.
 * Every field is fixed-size little-endian; offsets are from the start of the
 * control region.
 *
 * The control region
 * ------------------
 * A shared-memory file created by the fabric, BAR2 of every node's
 * ivshmem-doorbell device.  Layout:
 *
 *   0                      struct scif_wire_hdr (incl. the node table)
 *   hdr.queue_off          queue[src][dst], hdr.max_nodes^2 queues of
 *                          hdr.queue_stride bytes each, at
 *                          queue_off + (src * max_nodes + dst) * queue_stride
 *
 * Who writes what: the fabric writes the header and, per node entry,
 * everything except @kmod_state/@kmod_incarnation, which only the node's own
 * kernel writes.  In a queue, only src writes the messages and @head; only
 * dst writes @tail.  The fabric zeroes every queue from and to node N (and
 * N's kmod fields) before it announces a new connection of node N, so queues
 * restart at 0 with each incarnation.  A kernel that reloads without its
 * qemu restarting resumes from the indices in shared memory.
 *
 * Doorbells
 * ---------
 * Node N's doorbell id (ivshmem peer id, IVPosition) is node[N].doorbell_id.
 * A node rings node M by writing (doorbell_id(M) << 16) | SCIF_WIRE_VEC_MSG
 * to its Doorbell register after publishing messages in queue[self][M]; the
 * fabric rings SCIF_WIRE_VEC_MSG of every surviving node after a change of
 * the node table (after bumping hdr.fabric_gen).  A doorbell only says "look
 * again": a receiver rescans the node table and all its inbound queues.
 * A sender that finds queue[self][M] full sets its @src_waiting; M, after
 * consuming from a queue whose @src_waiting is 1, clears it and rings the
 * sender back.
 *
 * Messages and liveness
 * ---------------------
 * A node is "up" for node M when its fabric_state is PRESENT and M has
 * received a NODE_UP from it carrying its current incarnation, and no
 * NODE_DOWN since.  At start a kernel sends NODE_UP with
 * SCIF_WIRE_F_WANT_REPLY to every PRESENT node; a receiver of such a NODE_UP
 * answers with a NODE_UP without the flag.  A kernel that stops sends
 * NODE_DOWN to every node it considers up.  A node whose fabric_state leaves
 * PRESENT, or whose incarnation changes, is down at once.
 *
 * What a receiver must validate (the peer and the region are untrusted;
 * any violation drops the link to that peer, i.e. marks it down, and never
 * leads to an access outside the region):
 *  - hdr: magic, version == SCIF_WIRE_VERSION, hdr_bytes, max_nodes in
 *    1..SCIF_WIRE_MAX_NODES, region_bytes <= the BAR size, queue_off,
 *    queue_stride and queue_slots (a power of two) such that every queue
 *    fits inside region_bytes.  These are read once, at attach, and kept.
 *  - node entries: node_id == index, doorbell_id <= 0xffff, fabric_state
 *    one of the SCIF_WIRE_NODE_* values (anything else: treat as ABSENT).
 *  - queue indices: the consumer keeps its own tail and reads only head;
 *    (u32)(head - tail) must be <= queue_slots.  The producer keeps its own
 *    head and reads only tail; (u32)(head - tail) must be <= queue_slots.
 *    Indices in shared memory are free-running u32 (slot = index % slots).
 *  - a message is copied out of the slot before it is looked at; type must
 *    be known, src must be the queue's src, dst the queue's dst, and
 *    src_incarnation must equal node[src].incarnation (else the message is
 *    stale and skipped, not an error).
 */
#ifndef _SCIF_WIRE_H
#define _SCIF_WIRE_H

#include <linux/types.h>

#define SCIF_WIRE_MAGIC		0x4b4e494c46494353ULL	/* "SCIFLINK" */
#define SCIF_WIRE_VERSION	1
#define SCIF_WIRE_MAX_NODES	8

/* Layout the fabric of version 1 uses (a receiver validates, not assumes). */
#define SCIF_WIRE_HDR_BYTES	4096
#define SCIF_WIRE_QUEUE_OFF	4096
#define SCIF_WIRE_QUEUE_STRIDE	4096
#define SCIF_WIRE_QUEUE_SLOTS	32
#define SCIF_WIRE_REGION_BYTES	(1U << 20)	/* a power of two: a BAR */

/* MSI-X vectors of the ivshmem-doorbell device. */
#define SCIF_WIRE_VEC_MSG	0	/* messages or node table changed */
#define SCIF_WIRE_NR_VECTORS	1	/* vectors the fabric hands out */

/* node[].fabric_state */
#define SCIF_WIRE_NODE_ABSENT	0	/* no qemu connected for this node */
#define SCIF_WIRE_NODE_PRESENT	1	/* connected to the fabric */

/* node[].kmod_state */
#define SCIF_WIRE_KMOD_DOWN	0
#define SCIF_WIRE_KMOD_UP	1

/* node[].aperture_pci when the node has no RAM aperture */
#define SCIF_WIRE_NO_APERTURE	0xffffffffU

/**
 * struct scif_wire_node - one entry of the node table (64 bytes)
 * @node_id: SCIF node id; equals the entry's index (host 0, cards 1..N)
 * @doorbell_id: the node's ivshmem peer id (its IVPosition); new at each
 *	connection (qemu 7.2 must never see a departed peer id again), written
 *	before @incarnation is bumped; re-read when the incarnation changes
 * @fabric_state: SCIF_WIRE_NODE_*, written by the fabric
 * @incarnation: bumped by the fabric at each connection of the node
 * @aperture_pci: (bus << 8) | devfn (domain 0) of the ivshmem-plain device
 *	through which the *other* nodes see this node's RAM, or
 *	SCIF_WIRE_NO_APERTURE; BAR2 offset = guest physical address
 * @rsvd0: zero
 * @aperture_bytes: size of this node's RAM (the aperture's BAR2)
 * @kmod_state: SCIF_WIRE_KMOD_*, written by the node's own kernel
 * @kmod_incarnation: the incarnation @kmod_state refers to
 * @rsvd: zero
 */
struct scif_wire_node {
	__le16 node_id;
	__le16 doorbell_id;
	__le32 fabric_state;
	__le32 incarnation;
	__le32 aperture_pci;
	__le32 rsvd0;
	__le32 kmod_state;
	__le64 aperture_bytes;
	__le32 kmod_incarnation;
	__u8 rsvd[28];
};

/**
 * struct scif_wire_hdr - start of the control region
 * @magic: SCIF_WIRE_MAGIC (the signature: only such regions are claimed)
 * @version: SCIF_WIRE_VERSION
 * @hdr_bytes: bytes reserved for this header and the node table
 * @max_nodes: entries in @node
 * @nr_vectors: MSI-X vectors per node the fabric set up
 * @region_bytes: size of the control region
 * @queue_off: offset of queue[0][0]
 * @queue_stride: bytes per queue
 * @queue_slots: message slots per queue (a power of two)
 * @fabric_gen: bumped by the fabric after every change of @node
 * @rsvd: zero
 * @node: the node table, index = node id
 */
struct scif_wire_hdr {
	__le64 magic;
	__le16 version;
	__le16 hdr_bytes;
	__le16 max_nodes;
	__le16 nr_vectors;
	__le32 region_bytes;
	__le32 queue_off;
	__le32 queue_stride;
	__le32 queue_slots;
	__le32 fabric_gen;
	__le32 rsvd[7];
	struct scif_wire_node node[SCIF_WIRE_MAX_NODES];
};

/**
 * struct scif_wire_queue - indices of one src->dst queue; slots follow
 * @head: messages ever produced (src writes)
 * @src_waiting: src found the queue full and waits for room: src writes 1,
 *	dst writes 0 when it sees 1 after consuming, then rings src's doorbell
 * @pad0: keeps @tail on its own cache line
 * @tail: messages ever consumed (dst writes)
 * @pad1: up to SCIF_WIRE_QUEUE_SLOT_OFF
 */
struct scif_wire_queue {
	__le32 head;
	__le32 src_waiting;
	__u8 pad0[56];
	__le32 tail;
	__u8 pad1[60];
};

#define SCIF_WIRE_QUEUE_SLOT_OFF	128	/* slot 0, from the queue start */

/*
 * Message types.  "id" is a connection id: each node numbers its side of a
 * connection (1..2^31-1, never 0) and a message names the receiver's id
 * (dst id) and the sender's (src id).  A ring descriptor (desc) is three
 * args: the physical address of the ring's &struct scif_wire_ring page, the
 * physical address of its data and the data bytes, all in the *sender's*
 * RAM, i.e. at those offsets of the receiver's aperture onto the sender.
 * No address the protocol carries (ring, list or window page) is in the
 * first page of a node's RAM (SCIF_WIRE_AP_FIRST): a receiver need not map
 * it, and refuses such an address as any outside its aperture.
 */
#define SCIF_WIRE_AP_FIRST	4096U

enum scif_wire_msg_type {
	SCIF_WIRE_MSG_NODE_UP = 1,	/* arg: none */
	SCIF_WIRE_MSG_NODE_DOWN = 2,	/* goodbye; arg: none */
	/* arg0: src port | dst port << 16; arg1: src id; arg2..4: desc */
	SCIF_WIRE_MSG_CONNECT_REQ = 3,
	/* arg0: dst id; arg1: src id; arg2..4: desc */
	SCIF_WIRE_MSG_CONNECT_GRANT = 4,
	/* arg0: dst id; arg1: src id (the request was refused) */
	SCIF_WIRE_MSG_CONNECT_REJECT = 5,
	/* arg0: dst id, 0 if the sender was never granted; arg1: src id */
	SCIF_WIRE_MSG_DISCONNECT = 6,
	/* 7 is unused (was a ring descriptor message in drafts) */
	/* arg0: dst id; arg1: src id; arg2: SCIF_WIRE_WAKE_* */
	SCIF_WIRE_MSG_WAKE = 8,
	/*
	 * Windows ("RMA" below).  arg0: dst id; arg1: src id; arg2: window
	 * id (the owner's).  WINDOW_ADD: arg3 offset, arg4 pages, arg5 page
	 * list address | prot (SCIF_PROT_* in bits 0-1).
	 */
	SCIF_WIRE_MSG_WINDOW_ADD = 9,
	SCIF_WIRE_MSG_WINDOW_ADDED = 10,	/* arg3: 0 or a positive errno */
	SCIF_WIRE_MSG_WINDOW_DEL = 11,
	SCIF_WIRE_MSG_WINDOW_DELETED = 12,
	SCIF_WIRE_MSG_WINDOW_FREE = 13,
};

#define SCIF_WIRE_WAKE_DATA	0x1	/* your receive ring has new bytes */
#define SCIF_WIRE_WAKE_SPACE	0x2	/* your send ring has new room */
#define SCIF_WIRE_WAKE_RMA	0x4	/* my RMA progress passed your want */

/*
 * Connections
 * -----------
 * A connection has two byte rings, each in the RAM of the node that
 * *receives* its bytes: the sender copies into the ring through its
 * aperture onto the receiver, one copy, and the receiver reads its own
 * memory.  The connector describes its receive ring in CONNECT_REQ; the
 * listener's node answers CONNECT_GRANT (with its own receive ring) when
 * the listener accepts, or CONNECT_REJECT.  Bytes may follow a grant at
 * once, before the grant is read.
 *
 * In &struct scif_wire_ring, @head is written by the sender only (bytes
 * ever written) and @tail by the receiver only (bytes ever read); both are
 * free-running u32, (u32)(head - tail) <= data bytes, validated by each
 * reader.  A WAKE is sent on the transitions that matter: empty -> not
 * empty (DATA) and full -> not full (SPACE).
 *
 * DISCONNECT is each side's last word: "I will not write into your ring
 * again".  Each side sends exactly one, when it closed, or when it learnt
 * of the peer's close and has stopped writing.  A side frees its receive
 * ring and forgets the connection once it has sent and received one (or
 * received a REJECT, or sent one, or the peer went down).  A DISCONNECT
 * with dst id 0 withdraws a request (the connector gave up before a
 * grant); the listener's node finds it by (src node, src id).
 *
 * A receiver checks that a desc lies inside its aperture onto the sender
 * (page-aligned addresses, data bytes a power of two in
 * SCIF_WIRE_RING_MIN..SCIF_WIRE_RING_MAX), and that a message's ids name a
 * connection with that node and that peer id; a message for an unknown
 * connection is dropped (it may be from one that just ended).
 */
#define SCIF_WIRE_RING_MIN	4096U
#define SCIF_WIRE_RING_MAX	(16U << 20)

/*
 * RMA
 * ---
 * A window registered on a connection is pinned by its owner and described
 * to the peer: WINDOW_ADD gives the window's offset in the owner's
 * registered space, its pages, its protection and the physical address of
 * a page list in the owner's RAM: a contiguous array of
 * ceil(pages / 512) little-endian u64 physical addresses of list pages,
 * each holding up to 512 u64 physical addresses of the window's pages, in
 * order.  The peer copies the list out (through its aperture), checks every
 * address (page-aligned, inside the aperture) and answers WINDOW_ADDED
 * (0, or an errno: the window stays unknown to it); the owner frees the
 * list after the answer.  The owner's REG returns after the answer, so an
 * offset the owner hands to its peer's user is already known there.
 *
 * The peer then copies to and from those pages itself, through its
 * aperture (one copy): writeTo and readFrom by the peer need no message.
 *
 * WINDOW_DEL (the owner unregisters or closes): the peer stops starting
 * RMAs on the window and answers WINDOW_DELETED once none of its RMAs or
 * fence signals on the window is in flight.  WINDOW_FREE (the peer's last
 * reference went, e.g. its last mmap of the window): the owner may unpin
 * the pages; it is sent exactly once per window the peer accepted, may come
 * without a DEL (the connection ended), and ends the window id.  A FREE
 * counts as DELETED.  Messages naming an unknown window id are dropped.
 * A node that goes down ends all of its windows on both sides (an owner
 * unpins; a peer stops copying before it forgets the node, and unmaps).
 *
 * Fences: each side publishes the sequence numbers of its own RMAs in the
 * @rma_* fields of the ring index page *it owns* (its receive ring's); the
 * peer reads them through its aperture (INIT_PEER marks and waits).  The
 * peer writes @rma_want (its side of the page): nonzero while it waits on
 * our RMAs; then each completion of ours that moves @rma_lowest sends a
 * WAKE with SCIF_WIRE_WAKE_RMA.  All are untrusted: they only decide when a
 * fence of the reader returns.
 */
#define SCIF_WIRE_PLIST_PER_PAGE	512
#define SCIF_WIRE_PROT_MASK		0x3

/**
 * struct scif_wire_ring - the indices of one connection ring (a page)
 * @head: bytes ever written (the sender writes, through its aperture)
 * @pad0: keeps @tail on its own cache line
 * @tail: bytes ever read (the receiver writes)
 * @pad1: rest of the cache line
 * @rma_issued: the receiver's last RMA sequence number issued (it writes)
 * @rma_lowest: the receiver's lowest RMA in flight, else @rma_issued + 1
 *	(1 before its first RMA: it sets this when it allocates the page)
 * @rma_cancelled: nonzero once an asynchronous RMA of the receiver failed
 * @pad2: rest of the cache line
 * @rma_want: the sender waits on the receiver's RMAs (the sender writes)
 * @pad3: rest of the cache line
 */
struct scif_wire_ring {
	__le32 head;
	__u8 pad0[60];
	__le32 tail;
	__u8 pad1[60];
	__le64 rma_issued;
	__le64 rma_lowest;
	__le32 rma_cancelled;
	__u8 pad2[44];
	__le32 rma_want;
	__u8 pad3[60];
};

#define SCIF_WIRE_F_WANT_REPLY	0x1	/* NODE_UP: answer with a NODE_UP */

/**
 * struct scif_wire_msg - one message slot (64 bytes)
 * @type: &enum scif_wire_msg_type
 * @flags: SCIF_WIRE_F_*
 * @src: sending node
 * @dst: receiving node
 * @src_incarnation: the sender's node[].incarnation when it sent this
 * @rsvd: zero
 * @arg: type-specific arguments
 */
struct scif_wire_msg {
	__le16 type;
	__le16 flags;
	__le16 src;
	__le16 dst;
	__le32 src_incarnation;
	__le32 rsvd;
	__le64 arg[6];
};

#ifdef __KERNEL__
#include <linux/build_bug.h>
#define SCIF_WIRE_ASSERT(c, m) static_assert(c, m)
#else
#define SCIF_WIRE_ASSERT(c, m) _Static_assert(c, m)
#endif
SCIF_WIRE_ASSERT(sizeof(struct scif_wire_node) == 64, "node entry size");
SCIF_WIRE_ASSERT(sizeof(struct scif_wire_hdr) == 64 + 64 * SCIF_WIRE_MAX_NODES,
		 "header size");
SCIF_WIRE_ASSERT(sizeof(struct scif_wire_hdr) <= SCIF_WIRE_HDR_BYTES,
		 "header fits");
SCIF_WIRE_ASSERT(sizeof(struct scif_wire_queue) == SCIF_WIRE_QUEUE_SLOT_OFF,
		 "queue indices");
SCIF_WIRE_ASSERT(sizeof(struct scif_wire_msg) == 64, "message size");
SCIF_WIRE_ASSERT(sizeof(struct scif_wire_ring) == 256, "ring indices");
SCIF_WIRE_ASSERT(SCIF_WIRE_QUEUE_SLOT_OFF + 64 * SCIF_WIRE_QUEUE_SLOTS <=
		 SCIF_WIRE_QUEUE_STRIDE, "slots fit the stride");
SCIF_WIRE_ASSERT(SCIF_WIRE_QUEUE_OFF + SCIF_WIRE_QUEUE_STRIDE *
		 SCIF_WIRE_MAX_NODES * SCIF_WIRE_MAX_NODES <=
		 SCIF_WIRE_REGION_BYTES, "queues fit the region");

#endif /* _SCIF_WIRE_H */
