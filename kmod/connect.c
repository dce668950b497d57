// SPDX-License-Identifier: GPL-2.0-only
/*
 * connect.c - bind, listen, connect and the two-step accept.
 *
 * A connect creates the connection (conn, side 0) and queues it with the
 * listener of the destination port.  The connect completes when the
 * listener's ACCEPTREQ takes the request off the queue (as in mainline, where
 * the accepting side grants the request): ACCEPTREQ moves conn->state to
 * ESTABLISHED and wakes the connector.  From then on both sides can send,
 * even before the accepted side is claimed by ACCEPTREG; bytes simply queue
 * in the ring.
 *
 * ACCEPTREQ hands out an opaque handle: a per-module random cookie in the
 * high 32 bits and an id of scif_pending_ids in the low 32 bits.  Only the
 * process that accepted may claim it, with ACCEPTREG on a fresh endpoint of
 * the same node.  Until then the accepted side (&struct scif_pending) is
 * owned by the listener and torn down with it.
 *
 * Non-blocking connect (O_NONBLOCK on the file): once the request has been
 * started CONNECT returns -EINPROGRESS (also when the outcome is already
 * known), poll reports EPOLLOUT when the outcome is known, and the next
 * CONNECT returns it: 0 with self filled in, or the error (-ECONNREFUSED).
 * A CONNECT while the request is still queued returns -EALREADY.
 */
#include <linux/slab.h>
#include <linux/sched.h>
#include <linux/random.h>
#include <linux/uaccess.h>
#include <linux/capability.h>
#include <linux/poll.h>

#include "scif.h"

DEFINE_MUTEX(scif_pending_lock);
static DEFINE_XARRAY_ALLOC1(scif_pending_ids);
static u32 scif_handle_cookie;

/**
 * scif_pending_init() - pick the handle cookie
 */
void scif_pending_init(void)
{
	scif_handle_cookie = get_random_u32() | 1;
}

/**
 * scif_pending_exit() - nothing may be pending at unload
 */
void scif_pending_exit(void)
{
	WARN_ON(!xa_empty(&scif_pending_ids));
	xa_destroy(&scif_pending_ids);
}

/**
 * scif_bind() - SCIF_BIND
 * @ep: the endpoint
 * @uport: user pointer to an int: the port (low 16 bits; 0 = any), written
 *	back with the port bound
 *
 * Return: 0 or -EFAULT, -EISCONN, -EINVAL, -EACCES, -ENOSPC, -ENOMEM.
 */
int scif_bind(struct scif_endpt *ep, int __user *uport)
{
	int val, ret;
	u16 port;

	if (get_user(val, uport))
		return -EFAULT;
	port = (u16)val;

	mutex_lock(&ep->lock);
	scif_ep_resolve(ep);
	switch (ep->state) {
	case SCIF_EP_UNBOUND:
		ret = 0;
		break;
	case SCIF_EP_CONNECTED:
	case SCIF_EP_CONNECTING:
		ret = -EISCONN;
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (!ret && port && port < SCIF_ADMIN_PORT_END &&
	    !capable(CAP_SYS_ADMIN))
		ret = -EACCES;
	if (!ret)
		ret = scif_port_bind(ep->node, &port);
	if (!ret) {
		ep->port = port;
		ep->state = SCIF_EP_BOUND;
	}
	mutex_unlock(&ep->lock);

	if (!ret && put_user((int)port, uport))
		ret = -EFAULT;
	return ret;
}

/**
 * scif_listen() - SCIF_LISTEN
 * @ep: the endpoint
 * @backlog: queue limit (> 0; capped at SCIF_MAX_BACKLOG)
 *
 * Return: 0 or -EINVAL (not bound, bad backlog), -EISCONN.
 */
int scif_listen(struct scif_endpt *ep, int backlog)
{
	int ret = 0;

	mutex_lock(&ep->lock);
	scif_ep_resolve(ep);
	switch (ep->state) {
	case SCIF_EP_BOUND:
		break;
	case SCIF_EP_LISTENING:
	case SCIF_EP_CONNECTED:
	case SCIF_EP_CONNECTING:
		ret = -EISCONN;
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (!ret && backlog <= 0)
		ret = -EINVAL;
	if (!ret)
		ret = scif_port_set_listener(ep->node, ep->port, ep);
	if (!ret) {
		ep->backlog = min(backlog, SCIF_MAX_BACKLOG);
		ep->state = SCIF_EP_LISTENING;
	}
	mutex_unlock(&ep->lock);
	return ret;
}

/* Refuse a request nobody accepted; the caller owns the queue reference. */
static void scif_conn_refuse(struct scif_conn *conn)
{
	struct scif_endpt *cep;

	spin_lock(&conn->lock);
	if (conn->state == SCIF_CONN_REQUESTED)
		conn->state = SCIF_CONN_REFUSED;
	cep = rcu_dereference_protected(conn->ep[0], lockdep_is_held(&conn->lock));
	if (cep)
		wake_up_interruptible_poll(&cep->wq, EPOLLOUT | EPOLLWRNORM);
	spin_unlock(&conn->lock);
	if (conn->lc)
		scif_link_conn_closed(conn);	/* the connector is told */
}

/**
 * scif_connect_cancel() - withdraw a queued connection request
 * @ep: a connecting endpoint (or one being closed)
 * @expect: only cancel if @ep's connection is this one; NULL for any
 *
 * Takes the request off the listener's queue if it is still there and marks
 * it refused unless the listener accepted it already.
 */
void scif_connect_cancel(struct scif_endpt *ep, struct scif_conn *expect)
{
	struct scif_endpt *lis;
	struct scif_conn *conn;
	bool dequeued = false;

	mutex_lock(&ep->lock);
	conn = ep->conn;
	if (!conn || (expect && conn != expect)) {
		mutex_unlock(&ep->lock);
		return;
	}
	kref_get(&conn->ref);
	lis = ep->connect_lis;
	ep->connect_lis = NULL;
	mutex_unlock(&ep->lock);

	if (lis) {
		mutex_lock(&lis->lock);
		if (!list_empty(&conn->link)) {
			list_del_init(&conn->link);
			lis->nreq--;
			dequeued = true;
		}
		mutex_unlock(&lis->lock);
		scif_ep_put(lis);
	}
	spin_lock(&conn->lock);
	if (conn->state == SCIF_CONN_REQUESTED)
		conn->state = SCIF_CONN_REFUSED;
	spin_unlock(&conn->lock);
	if (conn->lc && READ_ONCE(conn->state) == SCIF_CONN_REFUSED)
		scif_link_conn_closed(conn);	/* the request is withdrawn */
	if (dequeued)
		scif_conn_put(conn);	/* the queue's reference */
	scif_conn_put(conn);
}

/**
 * scif_listener_queue() - queue a connection request with a listener
 * @lis: the listener (referenced by the caller)
 * @conn: the request, REQUESTED; the queue takes its own reference
 *
 * Return: true if queued, false if @lis is not listening or its backlog is
 * full (the caller refuses the request).
 */
bool scif_listener_queue(struct scif_endpt *lis, struct scif_conn *conn)
{
	bool queued = false;

	mutex_lock(&lis->lock);
	if (lis->state == SCIF_EP_LISTENING && lis->nreq < lis->backlog) {
		kref_get(&conn->ref);
		list_add_tail(&conn->link, &lis->reqs);
		lis->nreq++;
		queued = true;
		wake_up_interruptible_poll(&lis->wq, EPOLLIN | EPOLLRDNORM);
	}
	mutex_unlock(&lis->lock);
	return queued;
}

static bool scif_conn_decided(struct scif_conn *conn)
{
	return READ_ONCE(conn->state) != SCIF_CONN_REQUESTED;
}

/* Fill in the local port id of a connected endpoint for user space. */
static int scif_connect_done(struct scif_endpt *ep,
			     struct scifioctl_connect __user *arg)
{
	struct scif_port_id self = {
		.node = scif_node_public_id(ep->node),
		.port = ep->port,
	};

	return copy_to_user(&arg->self, &self, sizeof(self)) ? -EFAULT : 0;
}

/**
 * scif_connect() - SCIF_CONNECT
 * @ep: the endpoint
 * @arg: user &struct scifioctl_connect; self is written back
 * @nonblock: the file has O_NONBLOCK
 *
 * Return: 0, -EINPROGRESS (non-blocking), or -EFAULT, -EISCONN,
 * -EOPNOTSUPP, -EALREADY, -ENODEV, -EINVAL, -ECONNREFUSED, -ENOSPC,
 * -ENOMEM, -ERESTARTSYS.
 */
int scif_connect(struct scif_endpt *ep, struct scifioctl_connect __user *arg,
		 bool nonblock)
{
	struct scifioctl_connect req;
	struct scif_node *dst = NULL;
	struct scif_endpt *lis;
	struct scif_conn *conn;
	bool queued = false;
	int ret, target;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;

	mutex_lock(&ep->lock);
	scif_ep_resolve(ep);
	switch (ep->state) {
	case SCIF_EP_UNBOUND:
	case SCIF_EP_BOUND:
		ret = 0;
		break;
	case SCIF_EP_CONNFAILED:
		/* Collect the result of a non-blocking connect. */
		ret = ep->connect_err;
		ep->state = SCIF_EP_BOUND;
		mutex_unlock(&ep->lock);
		return ret;
	case SCIF_EP_CONNECTED:
		if (ep->connect_async) {
			ep->connect_async = false;
			mutex_unlock(&ep->lock);
			return scif_connect_done(ep, arg);
		}
		ret = -EISCONN;
		break;
	case SCIF_EP_LISTENING:
		ret = -EOPNOTSUPP;
		break;
	case SCIF_EP_CONNECTING:
		ret = -EALREADY;
		break;
	default:
		ret = -EINVAL;
		break;
	}
	/* a local node, or one in another kernel (link.c) */
	target = scif_link_target(req.peer.node);
	if (target == -ENOENT && req.peer.node < scif_nr_nodes)
		dst = &scif_nodes[req.peer.node];
	else if (target == 0)
		dst = &scif_nodes[0];
	if (!ret && !dst && target != 1)
		ret = -ENODEV;
	if (!ret && !req.peer.port)
		ret = -EINVAL;
	if (ret) {
		mutex_unlock(&ep->lock);
		return ret;
	}

	conn = dst ? scif_conn_alloc() : scif_link_conn_alloc(req.peer.node);
	if (!conn) {
		mutex_unlock(&ep->lock);
		return -ENOMEM;
	}
	if (!ep->port) {
		u16 port = 0;

		ret = scif_port_bind(ep->node, &port);
		if (ret) {
			mutex_unlock(&ep->lock);
			scif_conn_put(conn);
			return ret;
		}
		ep->port = port;
		ep->state = SCIF_EP_BOUND;
	}
	conn->id[0].node = scif_node_public_id(ep->node);
	conn->id[0].port = ep->port;
	conn->id[1] = req.peer;
	rcu_assign_pointer(conn->ep[0], ep);
	ep->conn = conn;
	ep->side = 0;
	ep->state = SCIF_EP_CONNECTING;
	ep->connect_async = nonblock;
	/*
	 * Our own reference: once ep->lock is dropped, another thread's poll
	 * or ioctl may resolve a refusal and drop ep->conn's reference.
	 */
	kref_get(&conn->ref);
	mutex_unlock(&ep->lock);

	if (!dst) {
		/* across the link: the answer comes as a message */
		scif_link_conn_start(conn);
		goto wait;
	}

	/* Queue the request with the listener, if there is one with room. */
	lis = scif_port_find_listener(dst, req.peer.port);
	if (lis)
		queued = scif_listener_queue(lis, conn);

	mutex_lock(&ep->lock);
	if (queued && ep->state == SCIF_EP_CONNECTING) {
		ep->connect_lis = lis;	/* for cancelling; keeps the reference */
		lis = NULL;
	}
	mutex_unlock(&ep->lock);
	if (lis)
		scif_ep_put(lis);
	if (!queued)
		scif_conn_refuse(conn);

wait:
	if (nonblock) {
		scif_conn_put(conn);
		return -EINPROGRESS;
	}

	ret = wait_event_interruptible(ep->wq, scif_conn_decided(conn) ||
				       READ_ONCE(ep->state) == SCIF_EP_CLOSING);
	if (ret)
		scif_connect_cancel(ep, conn);
	scif_conn_put(conn);

	mutex_lock(&ep->lock);
	scif_ep_resolve(ep);
	switch (ep->state) {
	case SCIF_EP_CONNECTED:
		ret = 0;	/* accepted, even if a signal came in too */
		break;
	case SCIF_EP_BOUND:
		if (!ret)
			ret = ep->connect_err;
		break;
	default:
		/* Closed under us by flush. */
		ret = -ECONNRESET;
		break;
	}
	mutex_unlock(&ep->lock);
	if (!ret)
		ret = scif_connect_done(ep, arg);
	return ret;
}

static void scif_pending_destroy(struct scif_pending *p)
{
	scif_conn_disconnect(p->conn, 1);
	scif_conn_put(p->conn);
	scif_port_put(p->node, p->port);
	put_pid(p->tgid);
	kfree(p);
	atomic_dec(&scif_stats.endpoints);
}

/*
 * The request at the head of @lis's queue, referenced, with the connector's
 * port id; requests whose connector gave up are dropped on the way.
 * Return: 0, -EINVAL (not listening), -EAGAIN (empty), -ENOMEM.
 * lis->lock held.
 */
static int scif_accept_peek(struct scif_endpt *lis, struct scif_conn **connp,
			    struct scif_port_id *peer)
{
	struct scif_conn *conn;
	bool live;

	for (;;) {
		if (lis->state != SCIF_EP_LISTENING)
			return -EINVAL;
		conn = list_first_entry_or_null(&lis->reqs, struct scif_conn,
						link);
		if (!conn)
			return -EAGAIN;
		spin_lock(&conn->lock);
		live = conn->state == SCIF_CONN_REQUESTED;
		spin_unlock(&conn->lock);
		/* a request from another kernel: our receive ring first */
		if (live && conn->lc && scif_link_conn_prepare(conn))
			return -ENOMEM;
		if (live)
			break;
		list_del_init(&conn->link);
		lis->nreq--;
		scif_conn_put(conn);
	}
	kref_get(&conn->ref);
	*peer = conn->id[0];
	*connp = conn;
	return 0;
}

/*
 * Grant @conn if it is still the live head of @lis's queue.  Its queue
 * reference then belongs to the caller.  lis->lock held.
 */
static bool scif_accept_grant(struct scif_endpt *lis, struct scif_conn *conn)
{
	struct scif_endpt *cep;
	bool granted;

	if (lis->state != SCIF_EP_LISTENING ||
	    list_first_entry_or_null(&lis->reqs, struct scif_conn, link) != conn)
		return false;
	spin_lock(&conn->lock);
	granted = conn->state == SCIF_CONN_REQUESTED;
	if (granted) {
		WRITE_ONCE(conn->state, SCIF_CONN_ESTABLISHED);
		if (conn->lc)
			scif_link_conn_granted(conn);
		cep = rcu_dereference_protected(conn->ep[0],
						lockdep_is_held(&conn->lock));
		if (cep)
			wake_up_interruptible_poll(&cep->wq,
						   EPOLLOUT | EPOLLWRNORM);
	}
	spin_unlock(&conn->lock);
	if (granted) {
		list_del_init(&conn->link);
		lis->nreq--;
	}
	return granted;
}

/**
 * scif_accept_req() - SCIF_ACCEPTREQ
 * @lis: the listening endpoint
 * @arg: user &struct scifioctl_accept: flags in; peer and endpt out
 *
 * The handle and the connector's id are written to the caller before
 * anything changes hands: the id is reserved first, the head request is
 * looked at, its result copied out, and only then is the request granted
 * and the pending connection published under the reserved id (if the head
 * changed meanwhile, it starts over).  A failed copy-out leaves the request
 * queued for the next ACCEPTREQ: nothing is lost and nothing needs taking
 * back.
 *
 * Return: 0 or -EFAULT, -EINVAL (flags, not listening), -EAGAIN (no request
 * and no SCIF_ACCEPT_SYNC), -ERESTARTSYS, -ENOMEM, -EBUSY (no free id).
 */
int scif_accept_req(struct scif_endpt *lis, struct scifioctl_accept __user *arg)
{
	struct scifioctl_accept req;
	struct scif_pending *p;
	struct scif_conn *conn;
	bool granted;
	int ret;
	u32 id;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags & ~SCIF_ACCEPT_SYNC)
		return -EINVAL;

	p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	if (!p)
		return -ENOMEM;
	mutex_lock(&scif_pending_lock);
	ret = xa_alloc(&scif_pending_ids, &id, NULL, xa_limit_31b, GFP_KERNEL);
	mutex_unlock(&scif_pending_lock);
	if (ret) {
		kfree(p);
		return ret;
	}
	req.endpt = ((u64)scif_handle_cookie << 32) | id;

	for (;;) {
		mutex_lock(&lis->lock);
		ret = scif_accept_peek(lis, &conn, &req.peer);
		mutex_unlock(&lis->lock);
		if (ret == -EAGAIN && (req.flags & SCIF_ACCEPT_SYNC)) {
			ret = wait_event_interruptible(lis->wq,
				READ_ONCE(lis->nreq) ||
				READ_ONCE(lis->state) != SCIF_EP_LISTENING);
			if (ret)
				goto out;
			continue;
		}
		if (ret)
			goto out;

		if (copy_to_user(arg, &req, sizeof(req))) {
			scif_conn_put(conn);
			ret = -EFAULT;
			goto out;
		}

		mutex_lock(&lis->lock);
		granted = scif_accept_grant(lis, conn);
		if (granted)
			break;
		mutex_unlock(&lis->lock);
		scif_conn_put(conn);	/* the head changed: look again */
	}

	/* conn's queue reference now belongs to the pending endpoint. */
	scif_conn_put(conn);
	conn->id[1].node = scif_node_public_id(lis->node);
	conn->id[1].port = lis->port;
	scif_port_get(lis->node, lis->port);
	p->node = lis->node;
	p->port = lis->port;
	p->conn = conn;
	p->tgid = get_pid(task_tgid(current));
	p->id = id;
	atomic_inc(&scif_stats.endpoints);
	mutex_lock(&scif_pending_lock);
	/* Replaces the reserved entry: no allocation, cannot fail. */
	xa_store(&scif_pending_ids, id, p, GFP_KERNEL);
	list_add_tail(&p->link, &lis->pending);
	mutex_unlock(&scif_pending_lock);
	mutex_unlock(&lis->lock);
	return 0;

out:
	mutex_lock(&scif_pending_lock);
	xa_erase(&scif_pending_ids, id);
	mutex_unlock(&scif_pending_lock);
	kfree(p);
	return ret;
}

/**
 * scif_accept_reg() - SCIF_ACCEPTREG
 * @ep: a fresh (never bound) endpoint of the listener's node
 * @arg: user pointer to the u64 handle returned by ACCEPTREQ
 *
 * Turns @ep into the accepted, connected endpoint.
 *
 * Return: 0 or -EFAULT, -EINVAL (bad, foreign or claimed handle; @ep not
 * fresh or on another node).
 */
int scif_accept_reg(struct scif_endpt *ep, u64 __user *arg)
{
	struct scif_pending *p;
	struct scif_conn *conn;
	u64 handle;
	int ret = -EINVAL;

	if (get_user(handle, arg))
		return -EFAULT;
	if ((u32)(handle >> 32) != scif_handle_cookie)
		return -EINVAL;

	mutex_lock(&ep->lock);
	if (ep->state != SCIF_EP_UNBOUND)
		goto unlock;

	mutex_lock(&scif_pending_lock);
	p = xa_load(&scif_pending_ids, (u32)handle);
	if (p && p->tgid == task_tgid(current) && p->node == ep->node) {
		xa_erase(&scif_pending_ids, p->id);
		list_del(&p->link);
	} else {
		p = NULL;
	}
	mutex_unlock(&scif_pending_lock);
	if (!p)
		goto unlock;

	conn = p->conn;
	ep->port = p->port;
	ep->conn = conn;
	ep->side = 1;
	spin_lock(&conn->lock);
	rcu_assign_pointer(conn->ep[1], ep);
	spin_unlock(&conn->lock);
	ep->state = SCIF_EP_CONNECTED;
	smp_store_release(&ep->dconn, conn);
	put_pid(p->tgid);
	kfree(p);
	atomic_dec(&scif_stats.endpoints);	/* now counted as @ep */
	ret = 0;
unlock:
	mutex_unlock(&ep->lock);
	return ret;
}

/**
 * scif_listener_teardown() - stop listening
 * @lis: a listener that was just moved to CLOSING
 *
 * Refuses the queued requests (their connects fail with -ECONNREFUSED) and
 * tears down accepted endpoints no file has claimed (their peers see a
 * disconnect).
 */
void scif_listener_teardown(struct scif_endpt *lis)
{
	struct scif_pending *p, *ptmp;
	struct scif_conn *conn;
	LIST_HEAD(pend);

	scif_port_set_listener(lis->node, lis->port, NULL);

	/*
	 * Requests leave the queue one by one under lis->lock, so that a
	 * connector cancelling concurrently (also under lis->lock) never sees
	 * a request on a private list.
	 */
	mutex_lock(&lis->lock);
	while (!list_empty(&lis->reqs)) {
		conn = list_first_entry(&lis->reqs, struct scif_conn, link);
		list_del_init(&conn->link);
		lis->nreq--;
		scif_conn_refuse(conn);
		scif_conn_put(conn);
	}
	mutex_unlock(&lis->lock);

	mutex_lock(&scif_pending_lock);
	list_for_each_entry_safe(p, ptmp, &lis->pending, link) {
		xa_erase(&scif_pending_ids, p->id);
		list_move_tail(&p->link, &pend);
	}
	mutex_unlock(&scif_pending_lock);

	list_for_each_entry_safe(p, ptmp, &pend, link) {
		list_del(&p->link);
		scif_pending_destroy(p);
	}
}
