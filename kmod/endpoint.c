// SPDX-License-Identifier: GPL-2.0-only
/*
 * endpoint.c - endpoint and connection lifecycle, state machine and poll.
 *
 * States: UNBOUND -> BOUND (bind, or auto-bind by connect) -> LISTENING, or
 * -> CONNECTING -> CONNECTED.  A connected endpoint whose connection was
 * closed by either side is "disconnected": it stays CONNECTED and its
 * conn->closed is set.  A failed non-blocking connect parks in CONNFAILED
 * until CONNECT collects the error (then BOUND).  flush/release move every
 * state to CLOSING, which releases the connection or the listener's queues.
 *
 * A connecting endpoint does not take its own lock to learn the outcome:
 * the listener's ACCEPTREQ changes conn->state and wakes it, and the
 * endpoint folds the outcome into its own state (scif_ep_resolve()) the next
 * time it looks, under its own lock.
 */
#include <linux/slab.h>
#include <linux/poll.h>
#include <linux/sched.h>

#include "scif.h"

/**
 * scif_ep_alloc() - create an unbound endpoint on @node
 * @node: the node
 *
 * Return: the endpoint with one reference, or NULL.
 */
struct scif_endpt *scif_ep_alloc(struct scif_node *node)
{
	struct scif_endpt *ep = kzalloc(sizeof(*ep), GFP_KERNEL_ACCOUNT);

	if (!ep)
		return NULL;
	kref_init(&ep->ref);
	ep->node = node;
	mutex_init(&ep->lock);
	mutex_init(&ep->send_lock);
	mutex_init(&ep->recv_lock);
	init_waitqueue_head(&ep->wq);
	INIT_LIST_HEAD(&ep->reqs);
	INIT_LIST_HEAD(&ep->pending);
	scif_ep_rma_init(ep);
	ep->state = SCIF_EP_UNBOUND;
	atomic_inc(&scif_stats.endpoints);
	return ep;
}

/**
 * scif_ep_get() - take a reference on an endpoint
 * @ep: the endpoint
 */
void scif_ep_get(struct scif_endpt *ep)
{
	kref_get(&ep->ref);
}

static void scif_ep_free(struct kref *ref)
{
	struct scif_endpt *ep = container_of(ref, struct scif_endpt, ref);

	atomic_dec(&scif_stats.endpoints);
	/* A peer may still be waking ep->wq under rcu_read_lock(). */
	kfree_rcu(ep, rcu);
}

/**
 * scif_ep_put() - drop a reference on an endpoint
 * @ep: the endpoint
 */
void scif_ep_put(struct scif_endpt *ep)
{
	kref_put(&ep->ref, scif_ep_free);
}

/**
 * scif_conn_alloc() - create a connection in the REQUESTED state
 *
 * Return: the connection with one reference, or NULL.
 */
struct scif_conn *scif_conn_alloc(void)
{
	struct scif_conn *conn = kzalloc(sizeof(*conn), GFP_KERNEL_ACCOUNT);
	u32 size = scif_ring_bytes();

	if (!conn)
		return NULL;
	kref_init(&conn->ref);
	spin_lock_init(&conn->lock);
	INIT_LIST_HEAD(&conn->link);
	conn->state = SCIF_CONN_REQUESTED;
	scif_ring_prepare(&conn->ring[0], size);
	scif_ring_prepare(&conn->ring[1], size);
	atomic_inc(&scif_stats.connections);
	return conn;
}

static void scif_conn_free(struct kref *ref)
{
	struct scif_conn *conn = container_of(ref, struct scif_conn, ref);

	if (conn->lc)
		scif_link_conn_free(conn);
	scif_ring_free(&conn->ring[0]);
	scif_ring_free(&conn->ring[1]);
	atomic_dec(&scif_stats.connections);
	kfree(conn);
}

/**
 * scif_conn_put() - drop a reference on a connection
 * @conn: the connection
 */
void scif_conn_put(struct scif_conn *conn)
{
	kref_put(&conn->ref, scif_conn_free);
}

/**
 * scif_conn_wake() - wake the endpoint on one side of a connection
 * @conn: the connection
 * @side: whose endpoint to wake
 * @key: poll events that became true
 *
 * Lockless (RCU); the data path uses it.  The side in another kernel is
 * woken by a message.
 */
void scif_conn_wake(struct scif_conn *conn, int side, __poll_t key)
{
	struct scif_endpt *ep;

	if (conn->lc && side != conn->lside) {
		scif_link_conn_notify(conn, key);
		return;
	}
	rcu_read_lock();
	ep = rcu_dereference(conn->ep[side]);
	if (ep)
		wake_up_interruptible_poll(&ep->wq, key);
	rcu_read_unlock();
}

/**
 * scif_conn_disconnect() - side @side leaves the connection
 * @conn: the connection
 * @side: the side that closes
 *
 * Marks the connection closed (there is no half-close), detaches the side's
 * endpoint and wakes the peer, which drains its queued bytes and then sees
 * -ECONNRESET and EPOLLHUP.  A peer in another kernel is told by a
 * message.  Idempotent.
 */
void scif_conn_disconnect(struct scif_conn *conn, int side)
{
	struct scif_endpt *peer;

	spin_lock(&conn->lock);
	if (conn->state == SCIF_CONN_REQUESTED ||
	    conn->state == SCIF_CONN_ESTABLISHED)
		conn->state = SCIF_CONN_CLOSED;
	smp_store_release(&conn->closed, true);
	rcu_assign_pointer(conn->ep[side], NULL);
	peer = rcu_dereference_protected(conn->ep[!side],
					 lockdep_is_held(&conn->lock));
	if (peer) {
		wake_up_interruptible_poll(&peer->wq,
					   EPOLLIN | EPOLLOUT | EPOLLHUP | EPOLLERR);
		wake_up_all(&peer->rma_wq);	/* its fence waiters */
	}
	spin_unlock(&conn->lock);
	if (conn->lc)
		scif_link_conn_closed(conn);
}

/**
 * scif_ep_resolve() - fold the outcome of a connect into the endpoint state
 * @ep: the endpoint, ep->lock held
 *
 * A CONNECTING endpoint becomes CONNECTED once its request was accepted,
 * or BOUND (blocking) / CONNFAILED (non-blocking) once it was refused.
 */
void scif_ep_resolve(struct scif_endpt *ep)
{
	struct scif_conn *conn = ep->conn;
	enum scif_conn_state cs;
	struct scif_endpt *lis;

	lockdep_assert_held(&ep->lock);
	if (ep->state != SCIF_EP_CONNECTING)
		return;
	spin_lock(&conn->lock);
	cs = conn->state;
	spin_unlock(&conn->lock);
	if (cs == SCIF_CONN_REQUESTED)
		return;

	lis = ep->connect_lis;
	ep->connect_lis = NULL;
	if (lis)
		scif_ep_put(lis);

	if (cs == SCIF_CONN_ESTABLISHED || cs == SCIF_CONN_CLOSED) {
		/* Accepted (and maybe already closed again by the peer). */
		ep->state = SCIF_EP_CONNECTED;
		smp_store_release(&ep->dconn, conn);
		return;
	}
	/* Refused: forget the connection, keep the port. */
	ep->conn = NULL;
	spin_lock(&conn->lock);
	rcu_assign_pointer(conn->ep[0], NULL);
	spin_unlock(&conn->lock);
	scif_conn_put(conn);
	ep->connect_err = -ECONNREFUSED;
	ep->state = ep->connect_async ? SCIF_EP_CONNFAILED : SCIF_EP_BOUND;
	ep->connect_async = false;
}

/**
 * scif_ep_data_conn() - the connection to send and receive on
 * @ep: the endpoint
 *
 * Return: the connection once @ep is (or was) connected, else NULL.  The
 * pointer stays valid until the file is released.
 */
struct scif_conn *scif_ep_data_conn(struct scif_endpt *ep)
{
	struct scif_conn *conn = smp_load_acquire(&ep->dconn);

	if (conn)
		return conn;
	mutex_lock(&ep->lock);
	scif_ep_resolve(ep);
	mutex_unlock(&ep->lock);
	return smp_load_acquire(&ep->dconn);
}

/**
 * scif_ep_live_conn() - the connection of an endpoint that RMA may use now
 * @ep: the endpoint
 * @connp: where to put the connection
 *
 * Return: 0, -ENOTCONN (never connected) or -ECONNRESET (the connection
 * is closed).
 */
int scif_ep_live_conn(struct scif_endpt *ep, struct scif_conn **connp)
{
	struct scif_conn *conn = scif_ep_data_conn(ep);

	if (!conn)
		return -ENOTCONN;
	if (smp_load_acquire(&conn->closed))
		return -ECONNRESET;
	*connp = conn;
	return 0;
}

static __poll_t scif_conn_poll(struct scif_endpt *ep, struct scif_conn *conn)
{
	int side = ep->side;
	__poll_t mask = 0;
	bool closed = smp_load_acquire(&conn->closed);

	if (scif_ring_used(&conn->ring[!side]))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (closed)
		mask |= EPOLLHUP;
	else if (scif_ring_space(&conn->ring[side]))
		mask |= EPOLLOUT | EPOLLWRNORM;
	return mask;
}

/**
 * scif_ep_poll() - poll events of an endpoint in its current state
 * @ep: the endpoint
 *
 * listening: EPOLLIN when requests are queued; connecting: nothing until
 * the outcome is known, then EPOLLOUT; connected/disconnected: EPOLLIN with
 * bytes queued, EPOLLOUT with send space (connected only), EPOLLHUP once
 * disconnected; a failed non-blocking connect: EPOLLOUT (the result waits
 * to be collected); any other state: EPOLLERR.
 *
 * Return: the event mask.
 */
__poll_t scif_ep_poll(struct scif_endpt *ep)
{
	struct scif_conn *conn = smp_load_acquire(&ep->dconn);
	__poll_t mask;

	if (conn)
		return scif_conn_poll(ep, conn);

	mutex_lock(&ep->lock);
	scif_ep_resolve(ep);
	switch (ep->state) {
	case SCIF_EP_LISTENING:
		mask = ep->nreq ? EPOLLIN | EPOLLRDNORM : 0;
		break;
	case SCIF_EP_CONNECTING:
		mask = 0;
		break;
	case SCIF_EP_CONNECTED:
		mask = scif_conn_poll(ep, ep->dconn);
		break;
	case SCIF_EP_CONNFAILED:
		mask = EPOLLOUT | EPOLLWRNORM;
		break;
	default:
		mask = EPOLLERR;
		break;
	}
	mutex_unlock(&ep->lock);
	return mask;
}

/**
 * scif_ep_shutdown() - close an endpoint's connection or listener
 * @ep: the endpoint
 *
 * Called by flush (the owner closes its fd) and by release.  Moves the
 * endpoint to CLOSING, disconnects its connection, cancels a pending
 * connect, or stops listening (refusing queued requests and tearing down
 * accepted but unregistered endpoints).  A connected endpoint first stops
 * taking RMAs, wakes its FENCE_WAIT callers and lets its in-flight RMAs
 * complete (killable); its windows are unregistered after the disconnect.
 * The objects themselves are freed by scif_ep_release().  Idempotent.
 */
void scif_ep_shutdown(struct scif_endpt *ep)
{
	enum scif_ep_state old;

	mutex_lock(&ep->lock);
	old = ep->state;
	ep->state = SCIF_EP_CLOSING;
	mutex_unlock(&ep->lock);

	switch (old) {
	case SCIF_EP_LISTENING:
		scif_listener_teardown(ep);
		break;
	case SCIF_EP_CONNECTING:
		scif_connect_cancel(ep, NULL);
		scif_conn_disconnect(ep->conn, ep->side);
		break;
	case SCIF_EP_CONNECTED:
		scif_rma_quiesce(ep);
		scif_conn_disconnect(ep->conn, ep->side);
		break;
	default:
		break;
	}
	scif_windows_teardown(ep);
	wake_up_interruptible_all(&ep->wq);
}

/**
 * scif_ep_release() - final teardown when the file goes away
 * @ep: the endpoint; no other thread can use it any more
 */
void scif_ep_release(struct scif_endpt *ep)
{
	scif_ep_shutdown(ep);
	/* RMAs use ep->conn: they must be gone before it is released. */
	scif_rma_drain(ep);

	if (ep->connect_lis) {
		scif_ep_put(ep->connect_lis);
		ep->connect_lis = NULL;
	}
	if (ep->conn) {
		scif_conn_disconnect(ep->conn, ep->side);
		scif_conn_put(ep->conn);
		ep->conn = NULL;
		ep->dconn = NULL;
	}
	if (ep->port) {
		scif_port_put(ep->node, ep->port);
		ep->port = 0;
	}
	scif_ep_put(ep);
}
