/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * link.h - shared between link.c (the devices, the node table and the
 * message queues) and link_conn.c (connections over the link).
 *
 * Locking, outermost first:
 *
 *   scif_link_mutex (link.c: the node table, inbound queues, apertures,
 *		      peer->conns, the connection ids)
 *     ep->lock of a listener (link_conn.c queues requests)
 *       peer->tx_lock (spinlock: the outbound queue, peer->outbox and
 *		        peer->reap, every lc->pending and lc->flags)
 *
 * User threads never take scif_link_mutex while they hold an endpoint's
 * lock; they post messages under peer->tx_lock only.
 */
#ifndef _SCIF_LINK_H
#define _SCIF_LINK_H

#include <linux/workqueue.h>
#include "scif.h"
#include "scif_wire.h"

struct pci_dev;

/**
 * struct scif_link_peer - what this node knows of another node
 * @present: the fabric lists the node as PRESENT
 * @up: NODE_UP received for the current incarnation (also in scif_link_up)
 * @broken: the peer broke the protocol; ignored until a new incarnation
 * @incarnation: the node's fabric incarnation we last saw
 * @doorbell_id: its ivshmem peer id
 * @aperture_pci: (bus << 8) | devfn of its RAM aperture, or NO_APERTURE
 * @aperture_bytes: size of its RAM, from the node table
 * @rx_tail: private consumer index of queue[peer][self]
 * @aperture: the claimed aperture device, or NULL
 * @ap_va: the aperture mapped (write-back), or NULL
 * @conns: link connections with this node (&struct scif_link_conn.node)
 * @nconns: entries in @conns
 * @tx_lock: protects the fields below
 * @tx_head: private producer index of queue[self][peer]
 * @tx_open: messages may be posted (present, not broken, link attached)
 * @tx_bad: the peer's tail was invalid: the link work drops the peer
 * @tx_node: node messages to post (SCIF_LINK_TX_*)
 * @outbox: connections with messages to post (&struct scif_link_conn.out)
 * @reap: connections whose last message went out (&struct scif_link_conn.reap)
 */
struct scif_link_peer {
	bool present;
	bool up;
	bool broken;
	u32 incarnation;
	u16 doorbell_id;
	u32 aperture_pci;
	u64 aperture_bytes;
	u32 rx_tail;
	struct pci_dev *aperture;
	void *ap_va;
	struct list_head conns;
	unsigned int nconns;
	spinlock_t tx_lock;
	u32 tx_head;
	bool tx_open;
	bool tx_bad;
	unsigned long tx_node;
	struct list_head outbox;
	struct list_head reap;
};

#define SCIF_LINK_TX_UP		BIT(0)	/* NODE_UP asking for a reply */
#define SCIF_LINK_TX_UP_REPLY	BIT(1)	/* NODE_UP answering one */
#define SCIF_LINK_TX_DOWN	BIT(2)	/* NODE_DOWN */

/**
 * struct scif_link - the attached control device (one per kernel)
 * @pdev: the ivshmem-doorbell device, NULL while none is attached
 * @regs: BAR0 (registers)
 * @shm: BAR2 (the control region)
 * @self: this node's id
 * @incarnation: this node's incarnation
 * @max_nodes: validated geometry of the region ...
 * @queue_off: ...
 * @queue_stride: ...
 * @queue_slots: ...
 * @work: processes doorbells
 * @attach_work: binds aperture devices that probed before the link
 * @stopping: the link is being removed: no new work
 * @peer: per node id
 */
struct scif_link {
	struct pci_dev *pdev;
	void __iomem *regs;
	void __iomem *shm;
	u16 self;
	u32 incarnation;
	u32 max_nodes;
	u32 queue_off;
	u32 queue_stride;
	u32 queue_slots;
	struct work_struct work;
	struct work_struct attach_work;
	bool stopping;
	struct scif_link_peer peer[SCIF_WIRE_MAX_NODES];
};

extern struct mutex scif_link_mutex;
extern struct scif_link scif_link_dev;

/* link.c */
void scif_link_flush(u16 n);
void scif_link_kick_work(void);
void scif_link_break(struct scif_link *l, u32 n, const char *why);

/* link_conn.c */
bool scif_link_conn_outbox(struct scif_link_peer *p, struct scif_wire_msg *m);
int scif_link_conn_rx(u16 n, const struct scif_wire_msg *m);
void scif_link_conn_peer_down(u16 n);
void scif_link_conn_reap(u16 n);
void scif_link_conn_exit(void);

#endif /* _SCIF_LINK_H */
