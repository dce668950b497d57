// SPDX-License-Identifier: GPL-2.0-only
/*
 * link_conn.c - connections with endpoints in another kernel.
 *
 * A connection across the link is an ordinary &struct scif_conn whose
 * ->lc is set: this kernel holds one side (its endpoint in ep[side]), the
 * other kernel the other (ep[!side] stays NULL).  Its two rings are link
 * rings (ring.c): ring[side] is the peer's receive ring, written through
 * the aperture; ring[!side] is our receive ring, in our RAM.  Everything
 * above the rings (msg.c, poll, connect.c's state machine) is unchanged;
 * the hooks here turn the local events into messages (scif_wire.h,
 * "Connections") and the peer's messages into local events.
 *
 * Lifetime: the connection id (an entry of scif_link_ids) holds a reference
 * on the connection from the first message until the exchange of last words
 * is over (a DISCONNECT each way, or a REJECT) or the peer is down; only
 * then is our receive ring freed, because only then has the peer promised
 * never to write into it again.  Our own last word (DISCONNECT) is posted
 * one RCU grace period after the connection closed, when no sender of ours
 * can still be writing into the peer's ring (ring.c writes inside RCU).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/io.h>
#include <linux/xarray.h>

#include "link.h"

/* Connections one peer may hold open with us (each costs memory here). */
#define SCIF_LINK_MAX_CONNS	16384

static DEFINE_XARRAY_ALLOC1(scif_link_ids);

static struct scif_link_peer *lc_peer(struct scif_link_conn *lc)
{
	return &scif_link_dev.peer[lc->peer];
}

static void scif_link_conn_disc_work(struct work_struct *work);

/* Allocate a connection with a link half; rings not set up yet. */
static struct scif_conn *scif_link_conn_new(u16 peer, int side)
{
	struct scif_link_conn *lc = kzalloc(sizeof(*lc), GFP_KERNEL_ACCOUNT);
	struct scif_conn *conn;

	if (!lc)
		return NULL;
	conn = scif_conn_alloc();
	if (!conn) {
		kfree(lc);
		return NULL;
	}
	lc->conn = conn;
	lc->peer = peer;
	lc->side = side;
	INIT_LIST_HEAD(&lc->out);
	INIT_LIST_HEAD(&lc->reap);
	INIT_LIST_HEAD(&lc->node);
	INIT_RCU_WORK(&lc->disc_work, scif_link_conn_disc_work);
	scif_link_rma_conn_init(lc);
	conn->lc = lc;
	conn->lside = side;
	/* ring[side] is the peer's receive ring, ring[!side] ours */
	conn->ring[side].kind = SCIF_RING_LINK_TX;
	conn->ring[side].size = 0;
	conn->ring[side].dead = &conn->closed;
	conn->ring[!side].kind = SCIF_RING_LINK_RX;
	conn->ring[!side].size = 0;
	return conn;
}

/* Our receive ring: an index page and 2^order data pages, as large as fits. */
static int scif_link_conn_alloc_rx(struct scif_link_conn *lc)
{
	struct scif_ring *r = &lc->conn->ring[!lc->side];
	u32 want = clamp(scif_ring_bytes(), SCIF_WIRE_RING_MIN, SCIF_WIRE_RING_MAX);
	unsigned int order = get_order(want);
	struct scif_wire_ring *ctl;

	if (lc->rx_data)
		return 0;
	lc->rx_ctl = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!lc->rx_ctl)
		return -ENOMEM;
	for (;;) {
		lc->rx_data = alloc_pages(GFP_KERNEL_ACCOUNT | __GFP_NOWARN |
					  (order ? __GFP_NORETRY : 0), order);
		if (lc->rx_data || !order)
			break;
		order--;
	}
	if (!lc->rx_data) {
		__free_page(lc->rx_ctl);
		lc->rx_ctl = NULL;
		return -ENOMEM;
	}
	lc->rx_order = order;
	ctl = page_address(lc->rx_ctl);
	/* no RMA of ours yet: issued 0, lowest in flight 1 (scif_wire.h) */
	ctl->rma_lowest = cpu_to_le64(1);
	r->remote = &ctl->head;
	r->publish = &ctl->tail;
	r->head = 0;
	r->tail = 0;
	r->size = PAGE_SIZE << order;
	/* the size before the buffer: scif_ring_space() tests ->buf */
	smp_store_release(&r->buf, page_address(lc->rx_data));
	return 0;
}

/* Describe our receive ring in m->arg[2..4]. */
static void scif_link_conn_desc(struct scif_link_conn *lc, struct scif_wire_msg *m)
{
	m->arg[2] = cpu_to_le64(page_to_phys(lc->rx_ctl));
	m->arg[3] = cpu_to_le64(page_to_phys(lc->rx_data));
	m->arg[4] = cpu_to_le64((u64)PAGE_SIZE << lc->rx_order);
}

/*
 * Map the peer's receive ring from a desc (m->arg[2..4]), checked against
 * our aperture onto the peer.  scif_link_mutex held.  Return: 0 or -EPROTO.
 */
static int scif_link_conn_map_tx(struct scif_link_conn *lc,
				 const struct scif_wire_msg *m)
{
	struct scif_link_peer *p = lc_peer(lc);
	struct scif_ring *r = &lc->conn->ring[lc->side];
	u64 ctl = le64_to_cpu(m->arg[2]), data = le64_to_cpu(m->arg[3]);
	u64 bytes = le64_to_cpu(m->arg[4]);
	struct scif_wire_ring *wr;

	if (!p->ap_va || !IS_ALIGNED(ctl, PAGE_SIZE) ||
	    !IS_ALIGNED(data, PAGE_SIZE) || !is_power_of_2(bytes) ||
	    bytes < SCIF_WIRE_RING_MIN || bytes > SCIF_WIRE_RING_MAX ||
	    !scif_link_ap_ok(p, ctl, PAGE_SIZE) || !scif_link_ap_ok(p, data, bytes))
		return -EPROTO;
	wr = p->ap_va + ctl;
	r->remote = &wr->tail;
	r->publish = &wr->head;
	r->head = 0;
	r->tail = 0;
	r->size = bytes;
	smp_store_release(&r->buf, (u8 *)p->ap_va + data);
	return 0;
}

/* Queue message bits and post what fits.  Any context but hard irq. */
static void scif_link_conn_post(struct scif_link_conn *lc, unsigned long bits)
{
	struct scif_link_peer *p = lc_peer(lc);

	spin_lock(&p->tx_lock);
	if (!test_bit(LC_DEAD, &lc->flags) && !test_bit(LC_FINISHED, &lc->flags)) {
		lc->pending |= bits;
		if (list_empty(&lc->out))
			list_add_tail(&lc->out, &p->outbox);
	}
	spin_unlock(&p->tx_lock);
	scif_link_flush(lc->peer);
}

/* The next message @lc has to post, or false.  The peer's tx_lock held. */
static bool scif_link_conn_next(struct scif_link_conn *lc, struct scif_wire_msg *m)
{
	struct scif_link_peer *p = lc_peer(lc);
	unsigned int bit;

	bit = find_first_bit(&lc->pending, LC_TX_NR);
	if (bit >= LC_TX_NR)
		return false;
	__clear_bit(bit, &lc->pending);
	m->arg[0] = cpu_to_le64(lc->peer_id);
	m->arg[1] = cpu_to_le64(lc->id);
	switch (bit) {
	case LC_TX_REQ:
		m->type = cpu_to_le16(SCIF_WIRE_MSG_CONNECT_REQ);
		m->arg[0] = cpu_to_le64(lc->src_port | (u32)lc->dst_port << 16);
		scif_link_conn_desc(lc, m);
		break;
	case LC_TX_GRANT:
		m->type = cpu_to_le16(SCIF_WIRE_MSG_CONNECT_GRANT);
		scif_link_conn_desc(lc, m);
		break;
	case LC_TX_REJECT:
		m->type = cpu_to_le16(SCIF_WIRE_MSG_CONNECT_REJECT);
		set_bit(LC_SENT_REJECT, &lc->flags);
		break;
	case LC_TX_WAKE_DATA:
	case LC_TX_WAKE_SPACE:
	case LC_TX_WAKE_RMA:
		m->type = cpu_to_le16(SCIF_WIRE_MSG_WAKE);
		m->arg[2] = cpu_to_le64(bit == LC_TX_WAKE_DATA ? SCIF_WIRE_WAKE_DATA :
					bit == LC_TX_WAKE_SPACE ? SCIF_WIRE_WAKE_SPACE :
					SCIF_WIRE_WAKE_RMA);
		break;
	case LC_TX_DISC:
		m->type = cpu_to_le16(SCIF_WIRE_MSG_DISCONNECT);
		set_bit(LC_SENT_DISC, &lc->flags);
		break;
	}
	if (test_bit(LC_SENT_REJECT, &lc->flags) ||
	    (test_bit(LC_SENT_DISC, &lc->flags) &&
	     test_bit(LC_RCVD_DISC, &lc->flags))) {
		/* our last word is out: the link work forgets the connection */
		if (list_empty(&lc->reap))
			list_add_tail(&lc->reap, &p->reap);
		scif_link_kick_work();
	}
	return true;
}

/**
 * scif_link_conn_outbox() - the next connection message for a peer
 * @p: the peer
 * @m: filled in (type and args; link.c fills the header)
 *
 * Connections leave the outbox once they have nothing more to post.
 * Context: @p's tx_lock held.
 * Return: false when the outbox is empty.
 */
bool scif_link_conn_outbox(struct scif_link_peer *p, struct scif_wire_msg *m)
{
	struct scif_link_conn *lc;

	while ((lc = list_first_entry_or_null(&p->outbox, struct scif_link_conn,
					      out))) {
		if (scif_link_conn_next(lc, m))
			return true;
		list_del_init(&lc->out);
	}
	return false;
}

/**
 * scif_link_conn_wake_rma() - tell the peer our RMAs made progress
 * @lc: the connection
 */
void scif_link_conn_wake_rma(struct scif_link_conn *lc)
{
	if (test_bit(LC_REGISTERED, &lc->flags))
		scif_link_conn_post(lc, BIT(LC_TX_WAKE_RMA));
}

static void scif_link_conn_disc_work(struct work_struct *work)
{
	struct scif_link_conn *lc = container_of(to_rcu_work(work),
						 struct scif_link_conn, disc_work);

	scif_link_conn_post(lc, BIT(LC_TX_DISC));
}

/* Forget a connection whose last words are over.  scif_link_mutex held. */
static void scif_link_conn_finish(struct scif_link_conn *lc)
{
	struct scif_link_peer *p = lc_peer(lc);
	struct scif_conn *conn = lc->conn;
	struct scif_endpt *lis;

	spin_lock(&p->tx_lock);
	set_bit(LC_FINISHED, &lc->flags);
	lc->pending = 0;
	list_del_init(&lc->out);
	list_del_init(&lc->reap);
	spin_unlock(&p->tx_lock);
	/* cheap once the work ran: a grace period only if still queued */
	if (test_bit(LC_DISC_QUEUED, &lc->flags))
		flush_rcu_work(&lc->disc_work);
	lis = lc->lis;
	lc->lis = NULL;
	if (lis) {
		/* a request still queued with the listener leaves it */
		mutex_lock(&lis->lock);
		if (!list_empty(&conn->link)) {
			list_del_init(&conn->link);
			lis->nreq--;
			scif_conn_put(conn);
		}
		mutex_unlock(&lis->lock);
		scif_ep_put(lis);
	}
	list_del_init(&lc->node);
	p->nconns--;
	scif_link_rma_conn_end(lc);
	xa_erase(&scif_link_ids, lc->id);
	clear_bit(LC_REGISTERED, &lc->flags);
	scif_conn_put(conn);	/* the id's reference */
}

/* Register @lc under a new id with its peer.  scif_link_mutex held. */
static int scif_link_conn_register(struct scif_link_conn *lc)
{
	struct scif_link_peer *p = lc_peer(lc);
	int ret;

	if (p->nconns >= SCIF_LINK_MAX_CONNS)
		return -ENOSPC;
	ret = xa_alloc(&scif_link_ids, &lc->id, lc, xa_limit_31b, GFP_KERNEL);
	if (ret)
		return ret;
	kref_get(&lc->conn->ref);
	set_bit(LC_REGISTERED, &lc->flags);
	lc->peer_inc = p->incarnation;
	list_add_tail(&lc->node, &p->conns);
	p->nconns++;
	return 0;
}

static bool scif_link_peer_usable(u16 n)
{
	struct scif_link_peer *p = &scif_link_dev.peer[n];

	return scif_link_dev.pdev && !scif_link_dev.stopping &&
	       n != scif_link_dev.self && p->up && p->ap_va;
}

/**
 * scif_link_conn_alloc() - a connector's connection to node @peer
 * @peer: the node (scif_link_target() said it is remote)
 *
 * Allocates the connection and its receive ring.  Nothing is sent before
 * scif_link_conn_start().
 *
 * Return: the connection with one reference, or NULL (no memory).
 */
struct scif_conn *scif_link_conn_alloc(u16 peer)
{
	struct scif_conn *conn = scif_link_conn_new(peer, 0);

	if (conn && scif_link_conn_alloc_rx(conn->lc)) {
		scif_conn_put(conn);
		return NULL;
	}
	return conn;
}

/**
 * scif_link_conn_start() - send a connector's request
 * @conn: from scif_link_conn_alloc(), with conn->id[] filled in
 *
 * Refuses the connection (the connector sees -ECONNREFUSED) if the node is
 * not up any more or no id is free.
 */
void scif_link_conn_start(struct scif_conn *conn)
{
	struct scif_link_conn *lc = conn->lc;
	int ret = -ENODEV;

	lc->src_port = conn->id[0].port;
	lc->dst_port = conn->id[1].port;
	mutex_lock(&scif_link_mutex);
	if (scif_link_peer_usable(lc->peer))
		ret = scif_link_conn_register(lc);
	mutex_unlock(&scif_link_mutex);
	if (ret) {
		spin_lock(&conn->lock);
		if (conn->state == SCIF_CONN_REQUESTED)
			WRITE_ONCE(conn->state, SCIF_CONN_REFUSED);
		spin_unlock(&conn->lock);
		scif_conn_wake(conn, 0, EPOLLOUT | EPOLLWRNORM);
		return;
	}
	scif_link_conn_post(lc, BIT(LC_TX_REQ));
}

/**
 * scif_link_conn_prepare() - an acceptor's receive ring, before the grant
 * @conn: a queued request from another node
 *
 * Context: the listener's lock held (serializes ACCEPTREQ callers).
 * Return: 0 or -ENOMEM (the request stays queued).
 */
int scif_link_conn_prepare(struct scif_conn *conn)
{
	return scif_link_conn_alloc_rx(conn->lc);
}

/**
 * scif_link_conn_granted() - the listener accepted a request from another node
 * @conn: the connection, just moved to ESTABLISHED, its receive ring prepared
 *
 * Context: conn->lock held, in the same section that moved the state: a
 * close decides between REJECT and DISCONNECT by what it sees here.
 */
void scif_link_conn_granted(struct scif_conn *conn)
{
	set_bit(LC_GRANTED, &conn->lc->flags);
	scif_link_conn_post(conn->lc, BIT(LC_TX_GRANT));
}

/**
 * scif_link_conn_closed() - our side is done with a connection
 * @conn: the connection, after its state left REQUESTED/ESTABLISHED
 *	(closed, or a request refused or withdrawn)
 *
 * Decides our last word once: a REJECT for a request we never granted
 * (nothing of ours was ever written into the peer's ring), else a
 * DISCONNECT one grace period from now, when no sender of ours can still be
 * inside the peer's ring.  Nothing after the peer's REJECT.  Idempotent;
 * any context that may take a spinlock.
 */
void scif_link_conn_closed(struct scif_conn *conn)
{
	struct scif_link_conn *lc = conn->lc;
	struct scif_link_peer *p = lc_peer(lc);

	if (test_bit(LC_RCVD_REJECT, &lc->flags) ||
	    test_and_set_bit(LC_FINAL_QUEUED, &lc->flags))
		return;
	if (lc->side == 1 && !test_bit(LC_GRANTED, &lc->flags)) {
		scif_link_conn_post(lc, BIT(LC_TX_REJECT));
		return;
	}
	spin_lock(&p->tx_lock);
	if (test_bit(LC_REGISTERED, &lc->flags) && !test_bit(LC_DEAD, &lc->flags) &&
	    !test_bit(LC_FINISHED, &lc->flags)) {
		set_bit(LC_DISC_QUEUED, &lc->flags);
		queue_rcu_work(system_wq, &lc->disc_work);
	}
	spin_unlock(&p->tx_lock);
}

/**
 * scif_link_conn_notify() - wake the peer's endpoint
 * @conn: the connection
 * @key: EPOLLIN (the peer's receive ring got bytes) or EPOLLOUT (its send
 *	ring got room)
 */
void scif_link_conn_notify(struct scif_conn *conn, __poll_t key)
{
	unsigned long bits = 0;

	if (key & EPOLLIN)
		bits |= BIT(LC_TX_WAKE_DATA);
	if (key & EPOLLOUT)
		bits |= BIT(LC_TX_WAKE_SPACE);
	if (bits && test_bit(LC_REGISTERED, &conn->lc->flags))
		scif_link_conn_post(conn->lc, bits);
}

/**
 * scif_link_conn_violation() - the peer broke a ring of this connection
 * @conn: the connection
 * @why: for the log
 *
 * The connection closes now; the link work drops the peer.
 */
void scif_link_conn_violation(struct scif_conn *conn, const char *why)
{
	struct scif_link_peer *p = lc_peer(conn->lc);

	pr_warn_ratelimited("node %u: %s\n", conn->lc->peer, why);
	scif_conn_disconnect(conn, !conn->lc->side);
	spin_lock(&p->tx_lock);
	p->tx_bad = true;
	spin_unlock(&p->tx_lock);
	scif_link_kick_work();
}

/**
 * scif_link_conn_free() - release the link half with its connection
 * @conn: the connection, no references left
 */
void scif_link_conn_free(struct scif_conn *conn)
{
	struct scif_link_conn *lc = conn->lc;

	WARN_ON(test_bit(LC_REGISTERED, &lc->flags));
	if (lc->lis)
		scif_ep_put(lc->lis);
	if (lc->rx_data)
		__free_pages(lc->rx_data, lc->rx_order);
	if (lc->rx_ctl)
		__free_page(lc->rx_ctl);
	conn->ring[0].buf = NULL;
	conn->ring[1].buf = NULL;
	conn->lc = NULL;
	kfree(lc);
}

/**
 * scif_link_conn_find() - the connection a message names
 * @n: the sender
 * @m: the message (arg0 our id, arg1 the sender's)
 *
 * Ids are never 0, and a connection whose peer id is still 0 is a request
 * of ours not answered yet: only its GRANT or REJECT names it (by our id).
 *
 * Context: scif_link_mutex held.
 * Return: the connection, or NULL (unknown, or already forgotten).
 */
struct scif_link_conn *scif_link_conn_find(u16 n, const struct scif_wire_msg *m)
{
	u64 dst = le64_to_cpu(m->arg[0]), src = le64_to_cpu(m->arg[1]);
	struct scif_link_conn *lc;

	if (!src || dst > U32_MAX || src > U32_MAX)
		return NULL;
	lc = dst ? xa_load(&scif_link_ids, dst) : NULL;
	if (lc && (lc->peer != n || lc->peer_id != src ||
		   test_bit(LC_FINISHED, &lc->flags)))
		return NULL;
	return lc;
}

/* CONNECT_REQ: a new request for one of our listeners. */
static int scif_link_conn_rx_req(u16 n, const struct scif_wire_msg *m)
{
	u64 ports = le64_to_cpu(m->arg[0]), src = le64_to_cpu(m->arg[1]);
	struct scif_link_conn *lc;
	struct scif_conn *conn;
	struct scif_endpt *lis;
	bool queued = false;
	int ret;

	if (ports > U32_MAX || !src || src > U32_MAX || !(ports >> 16))
		return -EPROTO;
	conn = scif_link_conn_new(n, 1);
	if (!conn)
		return 0;	/* no memory: the request is lost, not the link */
	lc = conn->lc;
	lc->peer_id = src;
	lc->src_port = ports & 0xffff;
	lc->dst_port = ports >> 16;
	conn->id[0].node = n;
	conn->id[0].port = lc->src_port;
	conn->id[1].node = scif_link_dev.self;
	conn->id[1].port = lc->dst_port;
	if (scif_link_conn_register(lc)) {
		scif_conn_put(conn);
		return 0;	/* too many: dropped, the connector waits */
	}
	scif_conn_put(conn);	/* the id's reference keeps it now */
	if (!scif_link_dev.peer[n].ap_va) {
		lis = NULL;	/* no aperture onto the connector: refuse */
		goto refuse;
	}
	ret = scif_link_conn_map_tx(lc, m);
	if (ret)
		return ret;

	lis = scif_port_find_listener(&scif_nodes[0], lc->dst_port);
	if (lis) {
		queued = scif_listener_queue(lis, conn);
		if (queued)
			lc->lis = lis;	/* keeps the reference, for withdrawals */
		else
			scif_ep_put(lis);
	}
refuse:
	if (!queued) {
		spin_lock(&conn->lock);
		conn->state = SCIF_CONN_REFUSED;
		spin_unlock(&conn->lock);
		scif_link_conn_closed(conn);
	}
	return 0;
}

/* The peer's side is over: close ours (a request is refused). */
static void scif_link_conn_remote_closed(struct scif_link_conn *lc)
{
	struct scif_conn *conn = lc->conn;
	bool requested;

	spin_lock(&conn->lock);
	requested = conn->state == SCIF_CONN_REQUESTED;
	if (requested)
		WRITE_ONCE(conn->state, SCIF_CONN_REFUSED);
	spin_unlock(&conn->lock);
	if (requested) {
		scif_conn_wake(conn, lc->side, EPOLLOUT | EPOLLWRNORM);
		scif_link_conn_closed(conn);
	} else {
		scif_conn_disconnect(conn, !lc->side);
	}
}

static bool scif_link_conn_over(struct scif_link_conn *lc)
{
	return test_bit(LC_RCVD_REJECT, &lc->flags) ||
	       test_bit(LC_SENT_REJECT, &lc->flags) ||
	       (test_bit(LC_SENT_DISC, &lc->flags) &&
		test_bit(LC_RCVD_DISC, &lc->flags));
}

/**
 * scif_link_conn_rx() - handle a connection message from node @n
 * @n: the sender (checked: up, current incarnation)
 * @m: the message, copied out of shared memory
 *
 * Context: scif_link_mutex held.
 * Return: 0, or -EPROTO: the peer broke the protocol.
 */
int scif_link_conn_rx(u16 n, const struct scif_wire_msg *m)
{
	u16 type = le16_to_cpu(m->type);
	struct scif_link_conn *lc;
	struct scif_conn *conn;
	u64 what;
	int ret;

	if (type == SCIF_WIRE_MSG_CONNECT_REQ)
		return scif_link_conn_rx_req(n, m);
	if (type == SCIF_WIRE_MSG_DISCONNECT && !le64_to_cpu(m->arg[0])) {
		/* a withdrawn request: find it by the connector's id */
		u64 src = le64_to_cpu(m->arg[1]);

		list_for_each_entry(lc, &scif_link_dev.peer[n].conns, node)
			if (lc->side == 1 && lc->peer_id == src &&
			    !test_bit(LC_FINISHED, &lc->flags))
				break;
		if (list_entry_is_head(lc, &scif_link_dev.peer[n].conns, node))
			return 0;
	} else if (type == SCIF_WIRE_MSG_CONNECT_GRANT ||
		   type == SCIF_WIRE_MSG_CONNECT_REJECT) {
		/* the connector learns the acceptor's id now */
		u64 dst = le64_to_cpu(m->arg[0]), src = le64_to_cpu(m->arg[1]);

		lc = dst <= U32_MAX ? xa_load(&scif_link_ids, dst) : NULL;
		if (!lc || lc->peer != n || lc->side != 0 ||
		    test_bit(LC_FINISHED, &lc->flags))
			return 0;
		if (lc->peer_id || !src || src > U32_MAX)
			return -EPROTO;		/* a second answer */
		lc->peer_id = src;
	} else {
		lc = scif_link_conn_find(n, m);
		if (!lc)
			return 0;	/* an ended connection */
	}
	conn = lc->conn;

	switch (type) {
	case SCIF_WIRE_MSG_CONNECT_GRANT:
		ret = scif_link_conn_map_tx(lc, m);
		if (ret)
			return ret;
		spin_lock(&conn->lock);
		if (conn->state == SCIF_CONN_REQUESTED)
			WRITE_ONCE(conn->state, SCIF_CONN_ESTABLISHED);
		spin_unlock(&conn->lock);
		scif_conn_wake(conn, 0, EPOLLOUT | EPOLLWRNORM);
		break;
	case SCIF_WIRE_MSG_CONNECT_REJECT:
		set_bit(LC_RCVD_REJECT, &lc->flags);
		scif_link_conn_remote_closed(lc);
		break;
	case SCIF_WIRE_MSG_DISCONNECT:
		if (test_and_set_bit(LC_RCVD_DISC, &lc->flags))
			return -EPROTO;
		scif_link_conn_remote_closed(lc);
		break;
	case SCIF_WIRE_MSG_WAKE:
		what = le64_to_cpu(m->arg[2]);
		if (what & ~(u64)(SCIF_WIRE_WAKE_DATA | SCIF_WIRE_WAKE_SPACE |
				  SCIF_WIRE_WAKE_RMA))
			return -EPROTO;
		if (what & SCIF_WIRE_WAKE_RMA)
			scif_link_rma_wake(lc);
		if (what & SCIF_WIRE_WAKE_DATA)
			scif_conn_wake(conn, lc->side, EPOLLIN | EPOLLRDNORM);
		if (what & SCIF_WIRE_WAKE_SPACE)
			scif_conn_wake(conn, lc->side, EPOLLOUT | EPOLLWRNORM);
		return 0;
	default:
		return -EPROTO;
	}
	if (scif_link_conn_over(lc)) {
		/* our last word may still be waiting to go out */
		spin_lock(&lc_peer(lc)->tx_lock);
		ret = lc->pending != 0;
		spin_unlock(&lc_peer(lc)->tx_lock);
		if (!ret)
			scif_link_conn_finish(lc);
	}
	return 0;
}

/**
 * scif_link_conn_reap() - forget the connections whose last word went out
 * @n: the peer
 *
 * Context: scif_link_mutex held.
 */
void scif_link_conn_reap(u16 n)
{
	struct scif_link_peer *p = &scif_link_dev.peer[n];
	struct scif_link_conn *lc;

	for (;;) {
		spin_lock(&p->tx_lock);
		lc = list_first_entry_or_null(&p->reap, struct scif_link_conn, reap);
		if (lc)
			list_del_init(&lc->reap);
		spin_unlock(&p->tx_lock);
		if (!lc)
			break;
		if (scif_link_conn_over(lc) && !test_bit(LC_FINISHED, &lc->flags))
			scif_link_conn_finish(lc);
	}
}

/**
 * scif_link_conn_peer_down() - node @n is gone: end every connection with it
 * @n: the node
 *
 * Connected endpoints drain and then see -ECONNRESET, requests are refused,
 * blocked callers wake.  After a grace period no sender of ours is inside
 * the aperture onto @n any more, and every connection is forgotten.
 *
 * Context: scif_link_mutex held; may sleep.
 */
void scif_link_conn_peer_down(u16 n)
{
	struct scif_link_peer *p = &scif_link_dev.peer[n];
	struct scif_link_conn *lc, *tmp;

	if (list_empty(&p->conns))
		return;
	list_for_each_entry(lc, &p->conns, node) {
		spin_lock(&p->tx_lock);
		set_bit(LC_DEAD, &lc->flags);
		lc->pending = 0;
		list_del_init(&lc->out);
		list_del_init(&lc->reap);
		spin_unlock(&p->tx_lock);
		scif_link_conn_remote_closed(lc);
	}
	synchronize_rcu();	/* senders inside the aperture are out */
	list_for_each_entry_safe(lc, tmp, &p->conns, node)
		scif_link_conn_finish(lc);
}

/**
 * scif_link_conn_exit() - every connection is gone at unload
 */
void scif_link_conn_exit(void)
{
	WARN_ON(!xa_empty(&scif_link_ids));
	xa_destroy(&scif_link_ids);
}
