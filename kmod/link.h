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

/*
 * Single messages waiting for one peer, at most.  Each answers a request
 * of the peer's or is one of our own REGs or window releases, so an honest
 * peer that drains its queue never gets near this; one that does not (its
 * tail stands still while it keeps asking) has its link dropped instead of
 * making us hold its answers without end.
 */
#define SCIF_LINK_MAX_MSGS	8192

/*
 * The peer's windows known here may describe at most this many times its
 * RAM (windows may share pages); a WINDOW_ADD beyond is refused (ENOMEM).
 */
#define SCIF_LINK_IMPORT_RAMS	4

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
 * @ap_va: where offset 0 of the aperture would be mapped (write-back), or
 *	NULL; only offsets from SCIF_WIRE_AP_FIRST on are (scif_link_ap_ok())
 * @ap_phys: the aperture's physical address (BAR2), with @ap_va
 * @conns: link connections with this node (&struct scif_link_conn.node)
 * @nconns: entries in @conns
 * @tx_lock: protects the fields below
 * @tx_head: private producer index of queue[self][peer]
 * @tx_open: messages may be posted (present, not broken, link attached)
 * @tx_bad: the peer's tail was invalid: the link work drops the peer
 * @tx_node: node messages to post (SCIF_LINK_TX_*)
 * @outbox: connections with messages to post (&struct scif_link_conn.out)
 * @reap: connections whose last message went out (&struct scif_link_conn.reap)
 * @msgs: single messages to post (&struct scif_link_msg, link_rma.c's)
 * @nmsgs: entries in @msgs (at most SCIF_LINK_MAX_MSGS)
 * @tx_inc: the incarnation @msgs are for
 * @import_pages: pages of the peer's windows known here (8 bytes each of
 *	our memory), at most SCIF_LINK_IMPORT_RAMS times its RAM
 * @rwins: the peer's windows known here, by the peer's window id
 *	(&struct scif_window, not referenced: an entry leaves at release)
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
	phys_addr_t ap_phys;
	struct list_head conns;
	unsigned int nconns;
	spinlock_t tx_lock;
	u32 tx_head;
	bool tx_open;
	bool tx_bad;
	unsigned long tx_node;
	struct list_head outbox;
	struct list_head reap;
	struct list_head msgs;
	unsigned int nmsgs;
	u32 tx_inc;
	atomic_long_t import_pages;
	struct xarray rwins;
};

/**
 * scif_link_ap_ok() - is a range the peer named inside our aperture onto it
 * @p: the peer
 * @off: first byte, an offset of the peer's RAM
 * @len: bytes
 *
 * Return: true if [@off, @off + @len) is mapped through @p->ap_va.
 */
static inline bool scif_link_ap_ok(const struct scif_link_peer *p, u64 off,
				   u64 len)
{
	return off >= SCIF_WIRE_AP_FIRST && off < p->aperture_bytes &&
	       p->aperture_bytes - off >= len;
}

/**
 * struct scif_link_msg - one message waiting in a peer's outbox
 * @link: entry in &struct scif_link_peer.msgs
 * @inc: the incarnation of the peer it is meant for
 * @m: type and args (link.c fills the header)
 */
struct scif_link_msg {
	struct list_head link;
	u32 inc;
	struct scif_wire_msg m;
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

/* lc->pending: messages to post, in this order */
enum {
	LC_TX_REQ,
	LC_TX_GRANT,
	LC_TX_REJECT,
	LC_TX_WAKE_DATA,
	LC_TX_WAKE_SPACE,
	LC_TX_WAKE_RMA,
	LC_TX_DISC,
	LC_TX_NR,
};

/* lc->flags */
enum {
	LC_GRANTED,	/* acceptor: the grant was decided (ring given) */
	LC_FINAL_QUEUED,	/* our last word is decided (DISC or REJECT) */
	LC_DISC_QUEUED,	/* the rcu_work that posts our DISCONNECT was queued */
	LC_SENT_DISC,
	LC_SENT_REJECT,
	LC_RCVD_DISC,
	LC_RCVD_REJECT,
	LC_DEAD,	/* the peer went down */
	LC_FINISHED,	/* forgotten: nothing is posted any more */
	LC_REGISTERED,	/* has an id in scif_link_ids */
};

/**
 * struct scif_link_conn - the link half of a connection
 * @conn: the connection (not referenced: the connection owns this)
 * @peer: the other node
 * @peer_inc: its incarnation when the connection began
 * @side: our side in @conn (0 connector, 1 acceptor)
 * @id: our connection id (0 until registered)
 * @peer_id: the peer's connection id (0 until known)
 * @src_port: connector: our port; acceptor: the connector's port
 * @dst_port: the listener's port
 * @pending: LC_TX_* bits (peer->tx_lock)
 * @flags: LC_* bits (set under peer->tx_lock or scif_link_mutex; read
 *	anywhere)
 * @out: entry in peer->outbox
 * @reap: entry in peer->reap
 * @node: entry in peer->conns (scif_link_mutex)
 * @disc_work: posts our DISCONNECT after a grace period
 * @lis: acceptor: the listener the request was queued with (referenced)
 * @rx_ctl: our receive ring's index page
 * @rx_data: our receive ring's data (2^@rx_order pages)
 * @rx_order: see @rx_data
 * @rw_lock: protects @rwins
 * @rwins: the peer's windows we may use (&struct scif_window.link, offset
 *	order; link_rma.c), each referenced
 * @sig_lock: protects @signals, and orders the stores of @want's state
 * @signals: our INIT_PEER fence signals waiting for the peer's RMAs
 * @want: our fence waiters and signals waiting for the peer's RMAs
 */
struct scif_link_conn {
	struct scif_conn *conn;
	u16 peer;
	u32 peer_inc;
	int side;
	u32 id;
	u32 peer_id;
	u16 src_port;
	u16 dst_port;
	unsigned long pending;
	unsigned long flags;
	struct list_head out;
	struct list_head reap;
	struct list_head node;
	struct rcu_work disc_work;
	struct scif_endpt *lis;
	struct page *rx_ctl;
	struct page *rx_data;
	unsigned int rx_order;
	struct mutex rw_lock;
	struct list_head rwins;
	spinlock_t sig_lock;
	struct list_head signals;
	atomic_t want;
};

extern struct mutex scif_link_mutex;
extern struct scif_link scif_link_dev;

/* link.c */
void scif_link_flush(u16 n);
void scif_link_post_msg(u16 n, struct scif_link_msg *msg);
void scif_link_kick_work(void);
void scif_link_break(struct scif_link *l, u32 n, const char *why);

/* link_conn.c */
bool scif_link_conn_outbox(struct scif_link_peer *p, struct scif_wire_msg *m);
int scif_link_conn_rx(u16 n, const struct scif_wire_msg *m);
void scif_link_conn_peer_down(u16 n);
void scif_link_conn_reap(u16 n);
void scif_link_conn_exit(void);
struct scif_link_conn *scif_link_conn_find(u16 n, const struct scif_wire_msg *m);
void scif_link_conn_wake_rma(struct scif_link_conn *lc);

/* link_rma.c */
void scif_link_rma_conn_init(struct scif_link_conn *lc);
void scif_link_rma_conn_end(struct scif_link_conn *lc);
int scif_link_rma_rx(u16 n, const struct scif_wire_msg *m);
void scif_link_rma_wake(struct scif_link_conn *lc);
void scif_link_rma_peer_down(u16 n);
void scif_link_rma_exit(void);

#endif /* _SCIF_LINK_H */
