// SPDX-License-Identifier: GPL-2.0-only
/*
 * msg.c - SCIF_SEND, SCIF_RECV and SCIF_GET_NODEIDS.
 *
 * Messaging is a byte stream through the connection's rings.  flags 0 is
 * non-blocking: as many bytes as can move now, possibly 0 ("would block",
 * not -EAGAIN).  SCIF_SEND_BLOCK / SCIF_RECV_BLOCK wait until all len bytes
 * moved; an interrupted or reset call returns the partial count if any byte
 * moved.  After the peer closed, recv returns the queued bytes and then
 * -ECONNRESET; send returns -ECONNRESET.
 *
 * Each direction's user threads are serialized by a mutex held for the
 * whole call (a blocking send is therefore atomic with respect to other
 * sends on the same endpoint; a non-blocking send may wait for a concurrent
 * blocking one to finish).  Peers are woken only on the transitions that
 * matter: empty -> non-empty for the reader, full -> not full for the
 * writer.
 */
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <linux/minmax.h>

#include "scif.h"

/* The user structure minus the tail padding, so 32-bit callers work too. */
#define SCIF_MSG_USIZE		offsetofend(struct scifioctl_msg, out_len)
#define SCIF_NODEIDS_USIZE	offsetofend(struct scifioctl_node_ids, len)

static long scif_do_send(struct scif_endpt *ep, struct scif_conn *conn,
			 const char __user *buf, u32 len, bool block)
{
	struct scif_ring *r = &conn->ring[ep->side];
	long ret = 0, n;
	u32 done = 0;
	bool woke;

	if (mutex_lock_interruptible(&ep->send_lock))
		return -ERESTARTSYS;
	for (;;) {
		if (smp_load_acquire(&conn->closed)) {
			ret = -ECONNRESET;
			break;
		}
		if (done == len)
			break;
		n = scif_ring_write(r, buf + done, len - done, &woke);
		if (n == -EPROTO) {
			scif_link_conn_violation(conn, "bad receive ring tail");
			n = -ECONNRESET;
		}
		if (n < 0) {
			ret = n;
			break;
		}
		if (n) {
			done += n;
			if (woke)
				scif_conn_wake(conn, !ep->side,
					       EPOLLIN | EPOLLRDNORM);
			cond_resched();
			continue;
		}
		if (!block)
			break;
		ret = wait_event_interruptible(ep->wq, scif_ring_space(r) ||
					       READ_ONCE(conn->closed));
		if (ret)
			break;
	}
	mutex_unlock(&ep->send_lock);
	return done ? done : ret;
}

static long scif_do_recv(struct scif_endpt *ep, struct scif_conn *conn,
			 char __user *buf, u32 len, bool block)
{
	struct scif_ring *r = &conn->ring[!ep->side];
	long ret = 0, n;
	u32 done = 0;
	bool woke;

	if (mutex_lock_interruptible(&ep->recv_lock))
		return -ERESTARTSYS;
	while (done < len) {
		n = scif_ring_read(r, buf + done, len - done, &woke);
		if (n == -EPROTO) {
			scif_link_conn_violation(conn, "bad send ring head");
			n = -ECONNRESET;
		}
		if (n < 0) {
			ret = n;
			break;
		}
		if (n) {
			done += n;
			if (woke)
				scif_conn_wake(conn, !ep->side,
					       EPOLLOUT | EPOLLWRNORM);
			cond_resched();
			continue;
		}
		if (smp_load_acquire(&conn->closed)) {
			/* Bytes sent before the close are visible now. */
			if (scif_ring_used(r))
				continue;
			ret = -ECONNRESET;
			break;
		}
		if (!block)
			break;
		ret = wait_event_interruptible(ep->wq, scif_ring_used(r) ||
					       READ_ONCE(conn->closed));
		if (ret)
			break;
	}
	mutex_unlock(&ep->recv_lock);
	return done ? done : ret;
}

static int scif_msg(struct scif_endpt *ep, struct scifioctl_msg __user *arg,
		    bool send)
{
	struct scifioctl_msg m;
	struct scif_conn *conn;
	long ret;

	if (copy_from_user(&m, arg, SCIF_MSG_USIZE))
		return -EFAULT;
	/* SCIF_SEND_BLOCK and SCIF_RECV_BLOCK are the same bit. */
	if (m.len < 0 || (m.flags & ~SCIF_SEND_BLOCK))
		return -EINVAL;
	conn = scif_ep_data_conn(ep);
	if (!conn)
		return -ENOTCONN;
	if (send)
		ret = scif_do_send(ep, conn, u64_to_user_ptr(m.msg), m.len,
				   m.flags & SCIF_SEND_BLOCK);
	else
		ret = scif_do_recv(ep, conn, u64_to_user_ptr(m.msg), m.len,
				   m.flags & SCIF_RECV_BLOCK);
	if (ret < 0)
		return ret;
	if (put_user((s32)ret, &arg->out_len))
		return -EFAULT;
	return 0;
}

/**
 * scif_send() - SCIF_SEND
 * @ep: the endpoint
 * @arg: user &struct scifioctl_msg; out_len is written back
 *
 * Return: 0 or -EFAULT, -EINVAL, -ENOTCONN, -ECONNRESET, -ENOMEM,
 * -ERESTARTSYS.
 */
int scif_send(struct scif_endpt *ep, struct scifioctl_msg __user *arg)
{
	return scif_msg(ep, arg, true);
}

/**
 * scif_recv() - SCIF_RECV
 * @ep: the endpoint
 * @arg: user &struct scifioctl_msg; out_len is written back
 *
 * Return: 0 or -EFAULT, -EINVAL, -ENOTCONN, -ECONNRESET, -ERESTARTSYS.
 */
int scif_recv(struct scif_endpt *ep, struct scifioctl_msg __user *arg)
{
	return scif_msg(ep, arg, false);
}

/**
 * scif_get_nodeids() - SCIF_GET_NODEIDS
 * @ep: the endpoint
 * @arg: user &struct scifioctl_node_ids
 *
 * Writes at most len node ids (never more), this endpoint's node to *self,
 * and the number of online nodes to len.
 *
 * Return: 0 or -EFAULT, -EINVAL (len < 0).
 */
int scif_get_nodeids(struct scif_endpt *ep,
		     struct scifioctl_node_ids __user *arg)
{
	struct scifioctl_node_ids req;
	u16 __user *nodes;
	u32 i, n;
	int ret;

	if (copy_from_user(&req, arg, SCIF_NODEIDS_USIZE))
		return -EFAULT;
	if (req.len < 0)
		return -EINVAL;
	ret = scif_link_get_nodeids(ep, &req, arg);
	if (ret != -ENOENT)
		return ret;
	nodes = u64_to_user_ptr(req.nodes);
	n = min_t(u32, req.len, scif_nr_nodes);
	for (i = 0; i < n; i++)
		if (put_user((u16)i, nodes + i))
			return -EFAULT;
	if (put_user(ep->node->id, (u16 __user *)u64_to_user_ptr(req.self)))
		return -EFAULT;
	if (put_user((s32)scif_nr_nodes, &arg->len))
		return -EFAULT;
	return 0;
}
