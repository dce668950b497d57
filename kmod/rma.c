// SPDX-License-Identifier: GPL-2.0-only
/*
 * rma.c - the RMA copy engine (SCIF_READFROM, SCIF_WRITETO, SCIF_VREADFROM,
 * SCIF_VWRITETO).
 *
 * An RMA copies between this endpoint's registered space (or, for the v*
 * calls, a user buffer pinned for the duration) and the peer's registered
 * space.  Both ranges are resolved to window references up front, so an
 * UNREG or close during the copy never frees pages under it.
 *
 * Where the copy runs:
 *  - SCIF_RMA_SYNC, SCIF_RMA_USECPU, or at most SCIF_RMA_INLINE bytes: in
 *    the calling thread, before the ioctl returns (a CPU copy, or the
 *    dmaengine channel for SYNC without USECPU when there is one);
 *  - otherwise on one of SCIF_NR_CHANS "DMA channels": work items of an
 *    unbound workqueue, so requests complete out of line and in any order.
 *    A channel copies with the dmaengine DMA_MEMCPY channel when the
 *    machine has one, else with the CPU.  Each endpoint queues its
 *    requests on its own list, and the channels serve the endpoints with
 *    queued requests round-robin, one request at a time: an endpoint with
 *    a long queue delays another endpoint by at most one request per
 *    channel, never by its whole queue.  An endpoint with
 *    SCIF_RMA_MAX_QUEUED RMAs queued already copies the next ones inline:
 *    that bounds the memory (and pinned v* buffers) a caller can tie up.
 *
 * Close: a live process's close waits (killably) until its RMAs complete,
 * as SCIF's close does.  When the process is dying (it exits, is killed,
 * or gets killed while it waits), the endpoint's queued RMAs are cancelled
 * at once and only copies already running are waited for; they stop at
 * their next check once the connection is reset.
 *
 * SCIF_RMA_ORDERED: the destination's last cache line (or partial line) is
 * written after everything else, behind a write barrier.  SCIF_RMA_USECACHE
 * is accepted and ignored (no registration cache).  O_NONBLOCK is ignored.
 *
 * Every RMA holds references on its endpoint, its connection and the
 * windows it touches, and is counted in debugfs "rma_inflight" until it
 * completes.  A queued RMA whose connection was reset is cancelled; a
 * running one stops at the next page boundary check (-ECONNRESET).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dmaengine.h>
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "scif.h"

#define SCIF_NR_CHANS		4
#define SCIF_RMA_INLINE		4096	/* copies this small run inline */
#define SCIF_RMA_LINE		64	/* the cache line of SCIF_RMA_ORDERED */
#define SCIF_RMA_CHECK		16	/* chunks between reset/signal checks */
#define SCIF_RMA_MAX_QUEUED	64	/* per endpoint; more run inline */
#define SCIF_RMA_FLAGS		(SCIF_RMA_USECPU | SCIF_RMA_USECACHE | \
				 SCIF_RMA_SYNC | SCIF_RMA_ORDERED)
/* The user structure minus the tail padding, so 32-bit callers work too. */
#define SCIF_COPY_USIZE		offsetofend(struct scifioctl_copy, flags)

static bool dma = true;
module_param(dma, bool, 0444);
MODULE_PARM_DESC(dma, "use a dmaengine DMA_MEMCPY channel if there is one (default true)");

/**
 * struct scif_rma_req - one RMA
 * @link: entry in the initiator's ->rma_reqs
 * @qlink: entry in a channel's queue
 * @ep: the initiating endpoint (a reference)
 * @conn: its connection (a reference)
 * @seq: sequence number in @ep
 * @flags: SCIF_RMA_* flags
 * @queued: runs on a channel (counted in ep->rma_queued)
 * @src: source range
 * @dst: destination range
 */
struct scif_rma_req {
	struct list_head link;
	struct list_head qlink;
	struct scif_endpt *ep;
	struct scif_conn *conn;
	u64 seq;
	int flags;
	bool queued;
	struct scif_range src;
	struct scif_range dst;
};

/**
 * struct scif_chan - a worker "DMA channel"
 * @work: serves the endpoints of scif_sched_eps until none is left
 */
struct scif_chan {
	struct work_struct work;
};

/*
 * scif_sched_lock protects every endpoint's ->rma_queue and ->rma_sched and
 * the list of endpoints with queued requests (round-robin order).  It is
 * innermost: taken with nothing else held, never around a wake-up.
 */
static DEFINE_SPINLOCK(scif_sched_lock);
static LIST_HEAD(scif_sched_eps);
static struct scif_chan scif_chans[SCIF_NR_CHANS];
static atomic_t scif_chan_next;
static struct workqueue_struct *scif_rma_wq;
static struct dma_chan *scif_dma;

/* A position in a range: window, page in the window, byte in the page. */
struct scif_cursor {
	struct scif_window **w;
	unsigned int wi;
	u64 pg;
	unsigned int po;
};

static void scif_cursor_init(struct scif_cursor *c, const struct scif_range *r)
{
	c->w = r->wins;
	c->wi = 0;
	c->pg = r->off >> PAGE_SHIFT;
	c->po = offset_in_page(r->off);
}

static struct page *scif_cursor_page(const struct scif_cursor *c)
{
	return c->w[c->wi]->pages[c->pg];
}

/* The cursor is in a window of a peer in another kernel (link_rma.c). */
static bool scif_cursor_remote(const struct scif_cursor *c)
{
	return c->w[c->wi]->pa;
}

/*
 * The kernel address of the cursor's byte: a local page mapped, or the
 * aperture (inside rcu_read_lock(); NULL once the peer is down).
 */
static void *scif_cursor_map(const struct scif_cursor *c)
{
	struct scif_window *w = c->w[c->wi];
	void *p;

	if (w->pa) {
		p = scif_link_win_va(w, c->pg);
		return p ? p + c->po : NULL;
	}
	return kmap_local_page(w->pages[c->pg]) + c->po;
}

static void scif_cursor_unmap(const struct scif_cursor *c, void *p)
{
	if (!scif_cursor_remote(c))
		kunmap_local(p);
}

static void scif_cursor_advance(struct scif_cursor *c, unsigned int n)
{
	c->po += n;
	if (c->po < PAGE_SIZE)
		return;
	c->po = 0;
	if (++c->pg == c->w[c->wi]->nr_pages) {
		c->wi++;
		c->pg = 0;
	}
}

/* One dmaengine memcpy, waited for.  Return: 0, or an error (use the CPU). */
static int scif_dma_chunk(struct page *dp, unsigned int dpo, struct page *sp,
			  unsigned int spo, unsigned int n)
{
	struct device *dev = scif_dma->device->dev;
	struct dma_async_tx_descriptor *tx;
	dma_addr_t src, dst;
	dma_cookie_t cookie;
	int ret = -EIO;

	src = dma_map_page(dev, sp, spo, n, DMA_TO_DEVICE);
	if (dma_mapping_error(dev, src))
		return -ENOMEM;
	dst = dma_map_page(dev, dp, dpo, n, DMA_FROM_DEVICE);
	if (dma_mapping_error(dev, dst)) {
		dma_unmap_page(dev, src, n, DMA_TO_DEVICE);
		return -ENOMEM;
	}
	tx = dmaengine_prep_dma_memcpy(scif_dma, dst, src, n, DMA_CTRL_ACK);
	if (tx) {
		cookie = dmaengine_submit(tx);
		if (!dma_submit_error(cookie) &&
		    dma_sync_wait(scif_dma, cookie) == DMA_COMPLETE)
			ret = 0;
	}
	dma_unmap_page(dev, dst, n, DMA_FROM_DEVICE);
	dma_unmap_page(dev, src, n, DMA_TO_DEVICE);
	return ret;
}

static void scif_copy_chunk(struct page *dp, unsigned int dpo, struct page *sp,
			    unsigned int spo, unsigned int n, bool use_dma)
{
	void *s, *d;

	if (use_dma && !scif_dma_chunk(dp, dpo, sp, spo, n))
		return;
	s = kmap_local_page(sp);
	d = kmap_local_page(dp);
	if (sp == dp)
		memmove(d + dpo, s + spo, n);
	else
		memcpy(d + dpo, s + spo, n);
	kunmap_local(d);
	kunmap_local(s);
}

/*
 * One chunk to or from a peer's window in another kernel, through the
 * aperture: the CPU copies, inside RCU (see link_rma.c).
 */
static int scif_copy_link_chunk(struct scif_cursor *d, struct scif_cursor *s,
				unsigned int n)
{
	void *sp, *dp = NULL;

	rcu_read_lock();
	sp = scif_cursor_map(s);
	if (sp)
		dp = scif_cursor_map(d);
	if (dp) {
		memcpy(dp, sp, n);
		scif_cursor_unmap(d, dp);
	}
	if (sp)
		scif_cursor_unmap(s, sp);
	rcu_read_unlock();
	return dp ? 0 : -ECONNRESET;
}

/* Copy @n bytes from @s to @d, page by page. */
static int scif_copy_span(struct scif_cursor *d, struct scif_cursor *s, u64 n,
			  struct scif_conn *conn, bool use_dma)
{
	unsigned int step, k = 0;
	int ret;

	while (n) {
		step = min3((u64)(PAGE_SIZE - d->po), (u64)(PAGE_SIZE - s->po), n);
		if (scif_cursor_remote(d) || scif_cursor_remote(s)) {
			ret = scif_copy_link_chunk(d, s, step);
			if (ret)
				return ret;
		} else {
			scif_copy_chunk(scif_cursor_page(d), d->po,
					scif_cursor_page(s), s->po, step, use_dma);
		}
		scif_cursor_advance(d, step);
		scif_cursor_advance(s, step);
		n -= step;
		if (++k % SCIF_RMA_CHECK)
			continue;
		if (smp_load_acquire(&conn->closed))
			return -ECONNRESET;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

static int scif_rma_copy(struct scif_rma_req *req, bool use_dma)
{
	struct scif_cursor s, d;
	u64 len = req->dst.len, head = len;
	int ret;

	scif_cursor_init(&s, &req->src);
	scif_cursor_init(&d, &req->dst);
	if (req->flags & SCIF_RMA_ORDERED) {
		u64 start = req->dst.wins[0]->offset + req->dst.off;
		u64 last = round_down(start + len - 1, SCIF_RMA_LINE);

		head = last > start ? last - start : 0;
	}
	ret = scif_copy_span(&d, &s, head, req->conn, use_dma);
	if (!ret && head < len) {
		wmb();	/* everything else before the last line */
		ret = scif_copy_span(&d, &s, len - head, req->conn, use_dma);
	}
	wmb();	/* the data before the completion (and fence signals) */
	return ret;
}

/**
 * scif_rma_lowest() - the lowest sequence number still in flight
 * @ep: the endpoint, ep->rma_slock held
 *
 * Return: that number, or the next one to be issued when nothing is.
 */
u64 scif_rma_lowest(struct scif_endpt *ep)
{
	struct scif_rma_req *req;

	lockdep_assert_held(&ep->rma_slock);
	req = list_first_entry_or_null(&ep->rma_reqs, struct scif_rma_req,
				       link);
	return req ? req->seq : ep->rma_seq + 1;
}

/**
 * scif_rma_done() - have all RMAs of @ep up to @seq completed?
 * @ep: the endpoint
 * @seq: a sequence number
 *
 * Return: true if so.
 */
bool scif_rma_done(struct scif_endpt *ep, u64 seq)
{
	bool done;

	spin_lock(&ep->rma_slock);
	done = scif_rma_lowest(ep) > seq;
	spin_unlock(&ep->rma_slock);
	return done;
}

static void scif_rma_complete(struct scif_rma_req *req, int result,
			      bool async)
{
	struct scif_endpt *ep = req->ep, *peer;
	LIST_HEAD(ready);

	scif_range_put(&req->src);
	scif_range_put(&req->dst);
	spin_lock(&ep->rma_slock);
	list_del(&req->link);
	if (req->queued)
		ep->rma_queued--;
	if (result && async)
		ep->rma_cancelled = true;
	scif_fence_collect(ep, &ready);
	if (req->conn->lc)
		scif_link_rma_publish(req->conn, ep->rma_seq,
				      scif_rma_lowest(ep), ep->rma_cancelled);
	spin_unlock(&ep->rma_slock);
	scif_fence_fire(&ready);
	if (req->conn->lc)
		scif_link_rma_progress(req->conn);

	wake_up_all(&ep->rma_wq);
	rcu_read_lock();
	peer = rcu_dereference(req->conn->ep[!ep->side]);
	if (peer)
		wake_up_all(&peer->rma_wq);	/* its INIT_PEER fences */
	rcu_read_unlock();
	atomic_dec(&scif_stats.rma_inflight);
	scif_conn_put(req->conn);
	scif_ep_put(ep);
	kfree(req);
}

/* The next request: the first of the endpoint whose turn it is. */
static struct scif_rma_req *scif_sched_next(void)
{
	struct scif_rma_req *req = NULL;
	struct scif_endpt *ep;

	spin_lock(&scif_sched_lock);
	ep = list_first_entry_or_null(&scif_sched_eps, struct scif_endpt,
				      rma_sched);
	if (ep) {
		req = list_first_entry(&ep->rma_queue, struct scif_rma_req,
				       qlink);
		list_del_init(&req->qlink);
		if (list_empty(&ep->rma_queue))
			list_del_init(&ep->rma_sched);
		else
			list_move_tail(&ep->rma_sched, &scif_sched_eps);
	}
	spin_unlock(&scif_sched_lock);
	return req;
}

static void scif_sched_add(struct scif_rma_req *req)
{
	struct scif_endpt *ep = req->ep;

	spin_lock(&scif_sched_lock);
	list_add_tail(&req->qlink, &ep->rma_queue);
	if (list_empty(&ep->rma_sched))
		list_add_tail(&ep->rma_sched, &scif_sched_eps);
	spin_unlock(&scif_sched_lock);
	queue_work(scif_rma_wq,
		   &scif_chans[(unsigned int)atomic_inc_return(&scif_chan_next) %
			       SCIF_NR_CHANS].work);
}

/* Complete every queued (not running) request of @ep with -ECONNRESET. */
static void scif_rma_cancel(struct scif_endpt *ep)
{
	struct scif_rma_req *req, *tmp;
	LIST_HEAD(gone);

	spin_lock(&scif_sched_lock);
	list_splice_init(&ep->rma_queue, &gone);
	list_del_init(&ep->rma_sched);
	spin_unlock(&scif_sched_lock);
	list_for_each_entry_safe(req, tmp, &gone, qlink) {
		list_del_init(&req->qlink);
		scif_rma_complete(req, -ECONNRESET, true);
	}
}

static void scif_chan_work(struct work_struct *work)
{
	struct scif_rma_req *req;
	int ret;

	for (;;) {
		req = scif_sched_next();
		if (!req)
			break;
		if (smp_load_acquire(&req->conn->closed))
			ret = -ECONNRESET;
		else
			ret = scif_rma_copy(req, scif_dma &&
					    !(req->flags & SCIF_RMA_USECPU));
		scif_rma_complete(req, ret, true);
		cond_resched();
	}
}

/*
 * Give @req a sequence number and count it in flight; @async: it may go to
 * a channel (decided here, against the endpoint's queue limit).
 */
static int scif_rma_issue(struct scif_rma_req *req, bool async)
{
	struct scif_endpt *ep = req->ep;

	spin_lock(&ep->rma_slock);
	if (ep->rma_closing) {
		spin_unlock(&ep->rma_slock);
		return -ECONNRESET;
	}
	if (async && ep->rma_queued < SCIF_RMA_MAX_QUEUED) {
		ep->rma_queued++;
		req->queued = true;
	}
	req->seq = ++ep->rma_seq;
	list_add_tail(&req->link, &ep->rma_reqs);
	if (req->conn->lc)
		scif_link_rma_publish(req->conn, ep->rma_seq,
				      scif_rma_lowest(ep), ep->rma_cancelled);
	spin_unlock(&ep->rma_slock);
	atomic_inc(&scif_stats.rma_inflight);
	scif_ep_get(ep);
	kref_get(&req->conn->ref);
	return 0;
}

/* Resolve both ranges of a copy ioctl into @req. */
static int scif_rma_prepare(struct scif_endpt *ep, struct scif_conn *conn,
			    unsigned int cmd, const struct scifioctl_copy *c,
			    struct scif_rma_req *req)
{
	bool virt = cmd == SCIF_VREADFROM || cmd == SCIF_VWRITETO;
	bool write = cmd == SCIF_WRITETO || cmd == SCIF_VWRITETO;
	struct scif_range *local = write ? &req->src : &req->dst;
	struct scif_range *remote = write ? &req->dst : &req->src;
	struct scif_endpt *peer;
	int ret;

	if (!virt) {
		ret = scif_range_get(ep, c->loffset, c->len,
				     write ? SCIF_PROT_READ : SCIF_PROT_WRITE,
				     local);
		if (ret)
			return ret;
	}
	if (conn->lc) {
		/* the peer's windows, in another kernel */
		ret = scif_link_range_get(conn, c->roffset, c->len,
					  write ? SCIF_PROT_WRITE : SCIF_PROT_READ,
					  true, remote);
		if (ret == -ENXIO && smp_load_acquire(&conn->closed))
			ret = -ECONNRESET;
		if (ret)
			return ret;
	} else {
		peer = scif_ep_peer_get(ep, conn);
		if (!peer)
			return smp_load_acquire(&conn->closed) ? -ECONNRESET : -ENXIO;
		ret = scif_range_get(peer, c->roffset, c->len,
				     write ? SCIF_PROT_WRITE : SCIF_PROT_READ,
				     remote);
		scif_ep_put(peer);
		if (ret)
			return ret;
	}
	if (virt)
		ret = scif_range_pin_user(c->addr, c->len, !write, local);
	return ret;
}

/**
 * scif_ioctl_copy() - the four RMA copy ioctls
 * @ep: the endpoint
 * @cmd: SCIF_READFROM, SCIF_WRITETO, SCIF_VREADFROM or SCIF_VWRITETO
 * @arg: user &struct scifioctl_copy
 *
 * Return: 0 once the copy completed or was queued (see the top of this
 * file), or -EFAULT, -EINVAL (flags, len 0, a v* len over SCIF_MAX_VLEN),
 * -ENOTCONN, -ECONNRESET, -ENXIO (a range not fully registered, or
 * negative), -EACCES (protection), -ENOMEM, -EINTR.
 */
int scif_ioctl_copy(struct scif_endpt *ep, unsigned int cmd,
		    struct scifioctl_copy __user *arg)
{
	bool virt = cmd == SCIF_VREADFROM || cmd == SCIF_VWRITETO;
	struct scif_rma_req *req;
	struct scifioctl_copy c;
	struct scif_conn *conn;
	int ret;

	if (copy_from_user(&c, arg, SCIF_COPY_USIZE))
		return -EFAULT;
	if ((c.flags & ~SCIF_RMA_FLAGS) || !c.len ||
	    (virt && c.len > SCIF_MAX_VLEN))
		return -EINVAL;
	ret = scif_ep_live_conn(ep, &conn);
	if (ret)
		return ret;

	req = kzalloc(sizeof(*req), GFP_KERNEL);
	if (!req)
		return -ENOMEM;
	req->ep = ep;
	req->conn = conn;
	req->flags = c.flags;
	ret = scif_rma_prepare(ep, conn, cmd, &c, req);
	if (!ret)
		ret = scif_rma_issue(req, scif_rma_wq && c.len > SCIF_RMA_INLINE &&
				     !(c.flags & (SCIF_RMA_SYNC | SCIF_RMA_USECPU)));
	if (ret) {
		scif_range_put(&req->src);
		scif_range_put(&req->dst);
		kfree(req);
		return ret;
	}

	if (!req->queued) {
		ret = scif_rma_copy(req, scif_dma &&
				    !(c.flags & SCIF_RMA_USECPU));
		scif_rma_complete(req, ret, false);
		return ret;
	}
	scif_sched_add(req);
	return 0;
}

/**
 * scif_range_store() - write a kernel buffer into a range
 * @r: the destination range, at least @len bytes
 * @buf: the bytes
 * @len: how many
 *
 * An aligned 8-byte store within one page is a single 64-bit write.
 */
void scif_range_store(struct scif_range *r, const void *buf, size_t len)
{
	struct scif_cursor c;
	unsigned int step;
	void *p;

	scif_cursor_init(&c, r);
	while (len) {
		step = min_t(size_t, PAGE_SIZE - c.po, len);
		rcu_read_lock();	/* a peer's window: see link_rma.c */
		p = scif_cursor_map(&c);
		if (p && step == sizeof(u64) && IS_ALIGNED(c.po, sizeof(u64)))
			WRITE_ONCE(*(u64 *)p, *(const u64 *)buf);
		else if (p)
			memcpy(p, buf, step);
		if (p)
			scif_cursor_unmap(&c, p);
		rcu_read_unlock();
		buf += step;
		len -= step;
		scif_cursor_advance(&c, step);
	}
}

static bool scif_rma_idle(struct scif_endpt *ep)
{
	bool idle;

	spin_lock(&ep->rma_slock);
	idle = list_empty(&ep->rma_reqs);
	spin_unlock(&ep->rma_slock);
	return idle;
}

static void scif_rma_close(struct scif_endpt *ep)
{
	spin_lock(&ep->rma_slock);
	ep->rma_closing = true;
	spin_unlock(&ep->rma_slock);
	wake_up_all(&ep->rma_wq);	/* FENCE_WAIT returns -ECONNRESET */
}

/**
 * scif_rma_quiesce() - stop new RMAs and let those in flight complete
 * @ep: the endpoint (flush: its owner closes it)
 *
 * Wakes FENCE_WAIT callers.  A live caller waits for the RMAs in flight,
 * killably.  A dying one (exiting: its SIGKILL, if any, is already
 * consumed, so a killable wait would not end) or one killed while waiting
 * cancels the queued RMAs instead; the disconnect that follows stops the
 * running ones.
 */
void scif_rma_quiesce(struct scif_endpt *ep)
{
	scif_rma_close(ep);
	if (!(current->flags & PF_EXITING) &&
	    !wait_event_killable(ep->rma_wq, scif_rma_idle(ep)))
		return;
	scif_rma_cancel(ep);
}

/**
 * scif_rma_drain() - wait until no RMA of @ep is in flight
 * @ep: the endpoint (release; the connection is already reset, so running
 *	RMAs stop soon)
 *
 * Queued RMAs are cancelled, not waited for behind other endpoints' work.
 */
void scif_rma_drain(struct scif_endpt *ep)
{
	scif_rma_close(ep);
	scif_rma_cancel(ep);
	wait_event(ep->rma_wq, scif_rma_idle(ep));
}

/**
 * scif_rma_init() - start the channels; find a dmaengine channel
 *
 * Return: 0 or -ENOMEM.
 */
int scif_rma_init(void)
{
	dma_cap_mask_t mask;
	struct dma_chan *chan;
	int i;

	for (i = 0; i < SCIF_NR_CHANS; i++)
		INIT_WORK(&scif_chans[i].work, scif_chan_work);
	scif_rma_wq = alloc_workqueue("scif_dma", WQ_UNBOUND, SCIF_NR_CHANS);
	if (!scif_rma_wq)
		return -ENOMEM;
	if (dma) {
		dma_cap_zero(mask);
		dma_cap_set(DMA_MEMCPY, mask);
		chan = dma_request_chan_by_mask(&mask);
		if (!IS_ERR_OR_NULL(chan)) {
			scif_dma = chan;
			pr_info("RMA uses DMA channel %s\n", dma_chan_name(chan));
		}
	}
	return 0;
}

/**
 * scif_rma_exit() - stop the channels (no endpoint is left)
 */
void scif_rma_exit(void)
{
	destroy_workqueue(scif_rma_wq);
	scif_rma_wq = NULL;
	if (scif_dma) {
		dma_release_channel(scif_dma);
		scif_dma = NULL;
	}
}
