// SPDX-License-Identifier: GPL-2.0-only
/*
 * fence.c - RMA fences (SCIF_FENCE_MARK, SCIF_FENCE_WAIT, SCIF_FENCE_SIGNAL).
 *
 * Each endpoint numbers the RMAs it initiates (1, 2, ...).  A mark stands
 * for "every RMA numbered up to N": FENCE_MARK returns the last number
 * issued by this endpoint (SCIF_FENCE_INIT_SELF) or by its peer, whose RMAs
 * all target this endpoint's windows (SCIF_FENCE_INIT_PEER).  The mark is
 * an s32: bits 0-30 are N modulo 2^31, bit 31 is set for a peer mark (so
 * peer marks are negative).  A mark is invalid (-EINVAL) when it names a
 * number not issued yet.  FENCE_WAIT returns once the lowest RMA still in
 * flight is above N; RMAs complete out of order across channels, which is
 * why the lowest one is tracked rather than a count.
 *
 * FENCE_SIGNAL is asynchronous, as in mainline: it returns at once and the
 * 64-bit value(s) are written (a single 8-byte store where aligned) once
 * every RMA issued so far by the chosen side completed; at once if none is
 * in flight.  A pending signal holds its target windows and is counted in
 * debugfs "rma_inflight".  A later FENCE_WAIT on a mark taken after the
 * signal does not wait for the signal itself, only for the RMAs before it.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "scif.h"

#define SCIF_MARK_PEER		0x80000000U
#define SCIF_MARK_SEQ		0x7fffffffU
#define SCIF_SIGNAL_USIZE	offsetofend(struct scifioctl_fence_signal, flags)

/**
 * struct scif_fence_sig - a pending FENCE_SIGNAL
 * @link: entry in the waited-for endpoint's ->rma_signals
 * @seq: written once every RMA up to @seq completed
 * @local: where @lval goes (unused range if not SCIF_SIGNAL_LOCAL)
 * @remote: where @rval goes (unused range if not SCIF_SIGNAL_REMOTE)
 * @lval: local value
 * @rval: remote value
 */
struct scif_fence_sig {
	struct list_head link;
	u64 seq;
	struct scif_range local;
	struct scif_range remote;
	u64 lval;
	u64 rval;
};

/**
 * scif_fence_collect() - move the signals whose RMAs completed to @ready
 * @ep: the endpoint whose RMAs they wait for, ep->rma_slock held
 * @ready: list to add them to
 */
void scif_fence_collect(struct scif_endpt *ep, struct list_head *ready)
{
	struct scif_fence_sig *sig, *tmp;
	u64 lowest = scif_rma_lowest(ep);

	list_for_each_entry_safe(sig, tmp, &ep->rma_signals, link) {
		if (sig->seq >= lowest)
			break;		/* the list is in sequence order */
		list_move_tail(&sig->link, ready);
	}
}

/* A signal is done with: its windows, its memory, its count. */
static void scif_fence_free(struct scif_fence_sig *sig)
{
	scif_range_put(&sig->local);
	scif_range_put(&sig->remote);
	kfree(sig);
	atomic_dec(&scif_stats.rma_inflight);
}

/**
 * scif_fence_collect_list() - move the signals of a list that are due
 * @sigs: signals (any order), their lock held
 * @lowest: the lowest RMA still in flight of the side they wait for
 * @ready: list to add them to
 *
 * Return: how many moved.
 */
unsigned int scif_fence_collect_list(struct list_head *sigs, u64 lowest,
				     struct list_head *ready)
{
	struct scif_fence_sig *sig, *tmp;
	unsigned int n = 0;

	list_for_each_entry_safe(sig, tmp, sigs, link) {
		if (sig->seq >= lowest)
			continue;
		list_move_tail(&sig->link, ready);
		n++;
	}
	return n;
}

/**
 * scif_fence_discard() - free signals that will never be due
 * @sigs: the signals (a private list)
 *
 * Return: how many.
 */
unsigned int scif_fence_discard(struct list_head *sigs)
{
	struct scif_fence_sig *sig, *tmp;
	unsigned int n = 0;

	list_for_each_entry_safe(sig, tmp, sigs, link) {
		list_del(&sig->link);
		scif_fence_free(sig);
		n++;
	}
	return n;
}

/**
 * scif_fence_fire() - write the values of ready signals and free them
 * @ready: signals from scif_fence_collect()
 */
void scif_fence_fire(struct list_head *ready)
{
	struct scif_fence_sig *sig, *tmp;

	list_for_each_entry_safe(sig, tmp, ready, link) {
		list_del(&sig->link);
		smp_wmb();	/* the RMAs' data before the values */
		if (sig->local.nwins)
			scif_range_store(&sig->local, &sig->lval, sizeof(u64));
		if (sig->remote.nwins)
			scif_range_store(&sig->remote, &sig->rval, sizeof(u64));
		scif_fence_free(sig);
	}
}

/*
 * The endpoint whose RMAs a fence is about: @ep or its peer (referenced).
 * Return: 0 with *t set (NULL: a peer not claimed yet, no RMAs), or
 * -ECONNRESET.
 */
static int scif_fence_target(struct scif_endpt *ep, struct scif_conn *conn,
			     bool peer, struct scif_endpt **t)
{
	if (!peer) {
		scif_ep_get(ep);
		*t = ep;
		return 0;
	}
	*t = scif_ep_peer_get(ep, conn);
	if (!*t && smp_load_acquire(&conn->closed))
		return -ECONNRESET;
	return 0;
}

/**
 * scif_fence_mark() - mark the RMAs issued so far
 * @ep: the endpoint
 * @flags: SCIF_FENCE_INIT_SELF or SCIF_FENCE_INIT_PEER
 * @umark: where to write the mark
 *
 * Return: 0 or -EINVAL, -EFAULT, -ENOTCONN, -ECONNRESET.
 */
int scif_fence_mark(struct scif_endpt *ep, int flags, s32 __user *umark)
{
	bool peer = flags == SCIF_FENCE_INIT_PEER;
	struct scif_conn *conn;
	struct scif_endpt *t;
	u64 seq = 0;
	int ret;

	if (flags != SCIF_FENCE_INIT_SELF && flags != SCIF_FENCE_INIT_PEER)
		return -EINVAL;
	ret = scif_ep_live_conn(ep, &conn);
	if (ret)
		return ret;
	if (peer && conn->lc) {
		/* the peer's RMAs, numbered in another kernel */
		ret = scif_link_peer_issued(conn, &seq);
		if (ret)
			return ret;
		goto out;
	}
	ret = scif_fence_target(ep, conn, peer, &t);
	if (ret)
		return ret;
	if (t) {
		spin_lock(&t->rma_slock);
		seq = t->rma_seq;
		spin_unlock(&t->rma_slock);
		scif_ep_put(t);
	}
out:
	if (put_user((s32)((seq & SCIF_MARK_SEQ) | (peer ? SCIF_MARK_PEER : 0)),
		     umark))
		return -EFAULT;
	return 0;
}

/**
 * scif_ioctl_fence_mark() - SCIF_FENCE_MARK
 * @ep: the endpoint
 * @arg: user &struct scifioctl_fence_mark; the mark goes to *mark
 *
 * Return: 0 or -EINVAL, -EFAULT, -ENOTCONN, -ECONNRESET.
 */
int scif_ioctl_fence_mark(struct scif_endpt *ep,
			  struct scifioctl_fence_mark __user *arg)
{
	struct scifioctl_fence_mark m;

	if (copy_from_user(&m, arg, sizeof(m)))
		return -EFAULT;
	return scif_fence_mark(ep, m.flags, u64_to_user_ptr(m.mark));
}

/* The full sequence number of a mark, against the last one issued. */
static int scif_mark_decode_seq(u64 issued, u32 mark, u64 *seq)
{
	u64 diff;

	diff = (issued - mark) & SCIF_MARK_SEQ;
	if (diff > issued)
		return -EINVAL;
	*seq = issued - diff;
	return 0;
}

/* The full sequence number of a mark, or -EINVAL if not issued yet. */
static int scif_mark_decode(struct scif_endpt *t, u32 mark, u64 *seq)
{
	u64 issued = 0;

	if (t) {
		spin_lock(&t->rma_slock);
		issued = t->rma_seq;
		spin_unlock(&t->rma_slock);
	}
	return scif_mark_decode_seq(issued, mark, seq);
}

static bool scif_fence_link_wake(struct scif_endpt *ep, struct scif_conn *conn,
				 u64 seq)
{
	return scif_link_peer_done(conn, seq) || READ_ONCE(ep->rma_closing) ||
	       smp_load_acquire(&conn->closed);
}

/* FENCE_WAIT on the RMAs of a peer in another kernel. */
static int scif_fence_wait_link(struct scif_endpt *ep, struct scif_conn *conn,
				u32 mark)
{
	u64 issued, seq;
	int ret;

	ret = scif_link_peer_issued(conn, &issued);
	if (!ret)
		ret = scif_mark_decode_seq(issued, mark, &seq);
	if (ret)
		return ret;
	scif_link_want(conn, 1);
	ret = wait_event_interruptible(ep->rma_wq,
				       scif_fence_link_wake(ep, conn, seq));
	scif_link_want(conn, -1);
	if (ret)
		return ret;
	if (READ_ONCE(ep->rma_closing) || !scif_link_peer_done(conn, seq) ||
	    scif_link_peer_cancelled(conn))
		return -ECONNRESET;
	return 0;
}

static bool scif_fence_wake(struct scif_endpt *ep, struct scif_endpt *t,
			    struct scif_conn *conn, u64 seq)
{
	return !t || scif_rma_done(t, seq) || READ_ONCE(ep->rma_closing) ||
	       smp_load_acquire(&conn->closed);
}

/**
 * scif_ioctl_fence_wait() - SCIF_FENCE_WAIT
 * @ep: the endpoint
 * @mark: the mark, passed by value
 *
 * Waits interruptibly.  Returns -ECONNRESET when this endpoint is closed
 * (by another thread) during the wait, or when the connection is reset
 * before the marked RMAs completed or after one of them was cancelled.
 *
 * Return: 0 or -EINVAL (not a mark), -ENOTCONN, -ECONNRESET, -ERESTARTSYS.
 */
int scif_ioctl_fence_wait(struct scif_endpt *ep, int mark)
{
	bool peer = (u32)mark & SCIF_MARK_PEER;
	struct scif_conn *conn;
	struct scif_endpt *t;
	u64 seq;
	int ret;

	conn = scif_ep_data_conn(ep);
	if (!conn)
		return -ENOTCONN;
	if (peer && conn->lc)
		return scif_fence_wait_link(ep, conn, (u32)mark & SCIF_MARK_SEQ);
	ret = scif_fence_target(ep, conn, peer, &t);
	if (ret)
		return ret;
	ret = scif_mark_decode(t, (u32)mark & SCIF_MARK_SEQ, &seq);
	if (ret || !t)
		goto out;
	ret = wait_event_interruptible(ep->rma_wq,
				       scif_fence_wake(ep, t, conn, seq));
	if (ret)
		goto out;
	if (READ_ONCE(ep->rma_closing) || !scif_rma_done(t, seq) ||
	    READ_ONCE(t->rma_cancelled))
		ret = -ECONNRESET;
out:
	if (t)
		scif_ep_put(t);
	return ret;
}

/**
 * scif_ioctl_fence_signal() - SCIF_FENCE_SIGNAL
 * @ep: the endpoint
 * @arg: user &struct scifioctl_fence_signal
 *
 * Asynchronous: see the top of this file.  The targets must be registered
 * and writable (SCIF_PROT_WRITE) 8-byte ranges at 4-byte-aligned offsets;
 * they may span two adjacent windows.
 *
 * Return: 0 or -EFAULT, -EINVAL (flags, alignment), -ENOTCONN, -ECONNRESET,
 * -ENXIO (not registered), -EACCES (not writable), -ENOMEM.
 */
int scif_ioctl_fence_signal(struct scif_endpt *ep,
			    struct scifioctl_fence_signal __user *arg)
{
	struct scifioctl_fence_signal s;
	struct scif_endpt *peer, *t;
	struct scif_fence_sig *sig;
	struct scif_conn *conn;
	int init, where, ret;
	LIST_HEAD(ready);

	if (copy_from_user(&s, arg, SCIF_SIGNAL_USIZE))
		return -EFAULT;
	init = s.flags & (SCIF_FENCE_INIT_SELF | SCIF_FENCE_INIT_PEER);
	where = s.flags & (SCIF_SIGNAL_LOCAL | SCIF_SIGNAL_REMOTE);
	if ((s.flags & ~(init | where)) || !where ||
	    (init != SCIF_FENCE_INIT_SELF && init != SCIF_FENCE_INIT_PEER) ||
	    ((where & SCIF_SIGNAL_LOCAL) && (s.loff & 3)) ||
	    ((where & SCIF_SIGNAL_REMOTE) && (s.roff & 3)))
		return -EINVAL;
	ret = scif_ep_live_conn(ep, &conn);
	if (ret)
		return ret;
	sig = kzalloc(sizeof(*sig), GFP_KERNEL);
	if (!sig)
		return -ENOMEM;
	sig->lval = s.lval;
	sig->rval = s.rval;
	peer = scif_ep_peer_get(ep, conn);
	if (where & SCIF_SIGNAL_LOCAL) {
		ret = scif_range_get(ep, s.loff, sizeof(u64), SCIF_PROT_WRITE,
				     &sig->local);
		if (ret)
			goto fail;
	}
	if (where & SCIF_SIGNAL_REMOTE) {
		ret = -ENXIO;
		if (conn->lc)
			ret = scif_link_range_get(conn, s.roff, sizeof(u64),
						  SCIF_PROT_WRITE, true,
						  &sig->remote);
		else if (peer)
			ret = scif_range_get(peer, s.roff, sizeof(u64),
					     SCIF_PROT_WRITE, &sig->remote);
		if (ret)
			goto fail;
	}
	ret = -ECONNRESET;
	if (!peer && smp_load_acquire(&conn->closed))
		goto fail;

	atomic_inc(&scif_stats.rma_inflight);
	if (conn->lc && init == SCIF_FENCE_INIT_PEER) {
		/* waits for the RMAs of a peer in another kernel */
		ret = scif_link_fence_queue(conn, &sig->link, &sig->seq);
		if (ret < 0) {
			atomic_dec(&scif_stats.rma_inflight);
			goto fail;
		}
		if (ret)
			return 0;
		list_add(&sig->link, &ready);
		scif_fence_fire(&ready);
		return 0;
	}
	t = init == SCIF_FENCE_INIT_SELF ? ep : peer;
	if (t) {
		spin_lock(&t->rma_slock);
		if (!list_empty(&t->rma_reqs)) {
			sig->seq = t->rma_seq;
			list_add_tail(&sig->link, &t->rma_signals);
			sig = NULL;
		}
		spin_unlock(&t->rma_slock);
	}
	if (sig) {
		list_add(&sig->link, &ready);
		scif_fence_fire(&ready);
	}
	if (peer)
		scif_ep_put(peer);
	return 0;

fail:
	if (peer)
		scif_ep_put(peer);
	scif_range_put(&sig->local);
	scif_range_put(&sig->remote);
	kfree(sig);
	return ret;
}
