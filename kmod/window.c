// SPDX-License-Identifier: GPL-2.0-only
/*
 * window.c - registered windows (SCIF_REG, SCIF_UNREG) and ranges.
 *
 * REG charges and pins whole pages of the caller (pin.c: FOLL_LONGTERM, the
 * user's RLIMIT_MEMLOCK and the module-wide max_pinned_pages; -EAGAIN when
 * over), then reserves the window's offsets, writes the offset back to the
 * caller and only then makes the window visible.  Without SCIF_MAP_FIXED the
 * window goes to the first free range at or above the suggested offset (or
 * above 0).  UNREG removes whole windows only; a window then lives on until
 * the RMAs, fence signals and mmaps that use it let go of it.  Its offsets
 * are free for a new window at once.
 *
 * Counters: debugfs "windows" (registered windows alive, including
 * unregistered ones still referenced) and "pinned_pages" (every pinned page,
 * including those of v* calls).
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "scif.h"

/**
 * scif_ep_rma_init() - initialize the RMA fields of a new endpoint
 * @ep: the endpoint
 */
void scif_ep_rma_init(struct scif_endpt *ep)
{
	mutex_init(&ep->rma_lock);
	INIT_LIST_HEAD(&ep->windows);
	spin_lock_init(&ep->rma_slock);
	INIT_LIST_HEAD(&ep->rma_reqs);
	INIT_LIST_HEAD(&ep->rma_signals);
	init_waitqueue_head(&ep->rma_wq);
	INIT_LIST_HEAD(&ep->rma_queue);
	INIT_LIST_HEAD(&ep->rma_sched);
}

/**
 * scif_ep_peer_get() - the peer endpoint of a connection, referenced
 * @ep: this endpoint
 * @conn: its connection
 *
 * Return: the peer with a reference, or NULL when it closed or was not
 * claimed by ACCEPTREG yet.
 */
struct scif_endpt *scif_ep_peer_get(struct scif_endpt *ep,
				    struct scif_conn *conn)
{
	struct scif_endpt *peer;

	rcu_read_lock();
	peer = rcu_dereference(conn->ep[!ep->side]);
	if (peer && !kref_get_unless_zero(&peer->ref))
		peer = NULL;
	rcu_read_unlock();
	return peer;
}

static u64 scif_window_len(const struct scif_window *w)
{
	return w->nr_pages << PAGE_SHIFT;
}

static void scif_window_release(struct kref *ref)
{
	struct scif_window *w = container_of(ref, struct scif_window, ref);

	if (w->lw)
		scif_link_win_release(w);
	if (w->pinned)
		unpin_user_pages_dirty_lock(w->pages, w->nr_pages,
					    w->prot & SCIF_PROT_WRITE);
	if (w->charged)
		scif_pin_uncharge(w->nr_pages, w->user);
	if (!w->temp)
		atomic_dec(&scif_stats.windows);
	kvfree(w->pages);
	kvfree(w->pa);
	kfree(w);
}

/**
 * scif_window_alloc() - an empty window (one reference, not in any list)
 *
 * Return: the window or NULL.
 */
struct scif_window *scif_window_alloc(void)
{
	struct scif_window *w = kzalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);

	if (!w)
		return NULL;
	kref_init(&w->ref);
	INIT_LIST_HEAD(&w->link);
	return w;
}

/**
 * scif_window_get() - take a reference on a window
 * @w: the window
 */
void scif_window_get(struct scif_window *w)
{
	kref_get(&w->ref);
}

/**
 * scif_window_put() - drop a reference on a window
 * @w: the window; the last reference releases it (process context)
 */
void scif_window_put(struct scif_window *w)
{
	kref_put(&w->ref, scif_window_release);
}

/*
 * A window of @nr_pages pinned pages from @start: charged first, so that
 * nothing is allocated for a request over the caller's limits.
 */
static int scif_window_create(unsigned long start, u64 nr_pages, int prot,
			      bool temp, struct scif_window **wp)
{
	struct scif_window *w = scif_window_alloc();
	int ret;

	if (!w)
		return -ENOMEM;
	w->nr_pages = nr_pages;
	w->prot = prot;
	w->temp = temp;
	if (!temp)
		atomic_inc(&scif_stats.windows);
	ret = scif_pin_charge(nr_pages, &w->user);
	if (ret)
		goto fail;
	w->charged = true;
	ret = -ENOMEM;
	w->pages = kvcalloc(nr_pages, sizeof(*w->pages),
			    GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!w->pages)
		goto fail;
	ret = scif_pin_user(w->pages, nr_pages, start, prot & SCIF_PROT_WRITE,
			    !temp);
	if (ret)
		goto fail;
	w->pinned = true;
	*wp = w;
	return 0;
fail:
	scif_window_put(w);
	return ret;
}

/**
 * scif_range_put() - drop the window references of a range
 * @r: the range (may be unused)
 */
void scif_range_put(struct scif_range *r)
{
	unsigned int i;

	for (i = 0; i < r->nwins; i++) {
		if (r->busy && r->wins[i]->lw)
			scif_link_win_unbusy(r->wins[i]);
		scif_window_put(r->wins[i]);
	}
	r->busy = false;
	kfree(r->wins);
	r->wins = NULL;
	r->nwins = 0;
}

/**
 * scif_range_pin_user() - pin a user buffer of a v* call as a range
 * @addr: user address, any alignment
 * @len: bytes, 1..SCIF_MAX_VLEN
 * @write: the RMA writes into the buffer
 * @r: the range to fill
 *
 * The pages are pinned short-term in a temporary window that is not part
 * of any registered space, and charged like a window's (see pin.c) until
 * the RMA completes.
 *
 * Return: 0, -EFAULT, -EAGAIN (limits), -ENOMEM or -EINTR.
 */
int scif_range_pin_user(unsigned long addr, u64 len, bool write,
			struct scif_range *r)
{
	unsigned long base = addr & PAGE_MASK;
	struct scif_window *w;
	int ret;

	if (addr + len < addr || addr + len > TASK_SIZE)
		return -EFAULT;
	r->wins = kmalloc(sizeof(*r->wins), GFP_KERNEL);
	if (!r->wins)
		return -ENOMEM;
	ret = scif_window_create(base,
				 (PAGE_ALIGN(addr + len) - base) >> PAGE_SHIFT,
				 write ? SCIF_PROT_WRITE | SCIF_PROT_READ :
				 SCIF_PROT_READ, true, &w);
	if (ret) {
		kfree(r->wins);
		r->wins = NULL;
		return ret;
	}
	w->offset = base;
	r->wins[0] = w;
	r->nwins = 1;
	r->off = addr - base;
	r->len = len;
	return 0;
}

/* The live window of @windows containing @off, or NULL.  Its lock held. */
static struct scif_window *scif_window_find(struct list_head *windows, s64 off)
{
	struct scif_window *w;

	list_for_each_entry(w, windows, link) {
		if (w->offset > off)
			break;
		if (off - w->offset < scif_window_len(w))
			return w->live ? w : NULL;
	}
	return NULL;
}

/**
 * scif_range_get_in() - reference the windows of a list covering a range
 * @windows: a registered space: windows sorted by offset
 * @lock: the mutex protecting @windows
 * @off: first byte
 * @len: bytes, > 0
 * @prot: access every window must allow (SCIF_PROT_*)
 * @busy: an RMA or fence signal takes the range (see &struct scif_range)
 * @r: the range to fill
 *
 * The range may span adjacent windows.
 *
 * Return: 0, -ENXIO (not fully registered), -EACCES (protection) or
 * -ENOMEM.
 */
int scif_range_get_in(struct list_head *windows, struct mutex *lock, s64 off,
		      u64 len, int prot, bool busy, struct scif_range *r)
{
	struct scif_window *first, *w;
	unsigned int n = 0, i = 0;
	bool denied = false;
	s64 end;
	int ret;

	if (off < 0 || !len || len > SCIF_OFFSET_END ||
	    (u64)off > SCIF_OFFSET_END - len)
		return -ENXIO;
	end = off + len;
	mutex_lock(lock);
	first = scif_window_find(windows, off);
	ret = -ENXIO;
	if (!first)
		goto out;
	w = first;
	for (;;) {
		n++;
		denied |= (w->prot & prot) != prot;
		if (w->offset + (s64)scif_window_len(w) >= end)
			break;
		if (list_is_last(&w->link, windows))
			goto out;
		w = list_next_entry(w, link);
		if (!w->live || w->offset != list_prev_entry(w, link)->offset +
		    (s64)scif_window_len(list_prev_entry(w, link)))
			goto out;
	}
	ret = -EACCES;
	if (denied)
		goto out;
	ret = -ENOMEM;
	r->wins = kmalloc_array(n, sizeof(*r->wins), GFP_KERNEL);
	if (!r->wins)
		goto out;
	for (w = first; i < n; i++, w = list_next_entry(w, link)) {
		kref_get(&w->ref);
		if (busy && w->lw)
			scif_link_win_busy(w);
		r->wins[i] = w;
	}
	r->nwins = n;
	r->off = off - first->offset;
	r->len = len;
	r->busy = busy;
	ret = 0;
out:
	mutex_unlock(lock);
	return ret;
}

/**
 * scif_range_get() - reference the windows of @ep covering a range
 * @ep: the endpoint whose registered space is looked up
 * @off: first byte
 * @len: bytes, > 0
 * @prot: access every window must allow (SCIF_PROT_*)
 * @r: the range to fill
 *
 * Return: see scif_range_get_in().
 */
int scif_range_get(struct scif_endpt *ep, s64 off, u64 len, int prot,
		   struct scif_range *r)
{
	return scif_range_get_in(&ep->windows, &ep->rma_lock, off, len, prot,
				 false, r);
}

/* Does [off, off + len) overlap a registered window?  rma_lock held. */
static bool scif_space_busy(struct scif_endpt *ep, s64 off, u64 len,
			    struct scif_window **after)
{
	struct scif_window *w;

	*after = NULL;
	list_for_each_entry(w, &ep->windows, link) {
		if (w->offset >= off + (s64)len)
			break;
		if (w->offset + (s64)scif_window_len(w) > off)
			return true;
		*after = w;
	}
	return false;
}

/* First free range of @len bytes at or above @from.  rma_lock held. */
static s64 scif_space_find(struct scif_endpt *ep, s64 from, u64 len)
{
	struct scif_window *w;
	s64 cand = from;

	list_for_each_entry(w, &ep->windows, link) {
		s64 wend = w->offset + scif_window_len(w);

		if (wend <= cand)
			continue;
		if (w->offset >= cand + (s64)len)
			break;
		cand = wend;
	}
	if ((u64)cand > SCIF_OFFSET_END - len)
		return -1;
	return cand;
}

/* Place @w at @off (or pick an offset) in @ep's space.  rma_lock held. */
static int scif_window_insert(struct scif_endpt *ep, struct scif_window *w,
			      s64 off, bool fixed)
{
	u64 len = scif_window_len(w);
	struct scif_window *after;

	if (!fixed) {
		s64 o = scif_space_find(ep, off, len);

		if (o < 0 && off)
			o = scif_space_find(ep, 0, len);
		if (o < 0)
			return -ENOMEM;
		off = o;
	}
	if (scif_space_busy(ep, off, len, &after))
		return -EADDRINUSE;
	w->offset = off;
	if (after)
		list_add(&w->link, &after->link);
	else
		list_add(&w->link, &ep->windows);
	return 0;
}

/**
 * scif_ioctl_reg() - SCIF_REG
 * @ep: the endpoint
 * @arg: user &struct scifioctl_reg; out_offset is written back
 *
 * Return: 0 or -EINVAL (alignment, flags, prot, length, offset), -EFAULT,
 * -ENOTCONN, -ECONNRESET, -EADDRINUSE (SCIF_MAP_FIXED overlap), -EAGAIN
 * (RLIMIT_MEMLOCK), -ENOMEM, -EINTR.
 */
int scif_ioctl_reg(struct scif_endpt *ep, struct scifioctl_reg __user *arg)
{
	struct scifioctl_reg reg;
	struct scif_window *w, *after;
	struct scif_conn *conn;
	bool fixed;
	int ret;

	if (copy_from_user(&reg, arg, sizeof(reg)))
		return -EFAULT;
	fixed = reg.flags & SCIF_MAP_FIXED;
	if (!reg.len || !PAGE_ALIGNED(reg.addr) || !PAGE_ALIGNED(reg.len) ||
	    reg.len > SCIF_MAX_WINDOW ||
	    (reg.prot & ~(SCIF_PROT_READ | SCIF_PROT_WRITE)) ||
	    (reg.flags & ~SCIF_MAP_FIXED) || reg.offset < 0 ||
	    (fixed && !PAGE_ALIGNED(reg.offset)) ||
	    (fixed && (u64)reg.offset > SCIF_OFFSET_END - reg.len))
		return -EINVAL;
	if (reg.addr + reg.len < reg.addr || reg.addr + reg.len > TASK_SIZE)
		return -EFAULT;
	if (!fixed)
		reg.offset = min_t(u64, PAGE_ALIGN(reg.offset), SCIF_OFFSET_END);
	ret = scif_ep_live_conn(ep, &conn);
	if (ret)
		return ret;
	if (fixed) {
		/* Fail early, before pinning; checked again at insertion. */
		mutex_lock(&ep->rma_lock);
		ret = scif_space_busy(ep, reg.offset, reg.len, &after) ?
			-EADDRINUSE : 0;
		mutex_unlock(&ep->rma_lock);
		if (ret)
			return ret;
	}

	ret = scif_window_create(reg.addr, reg.len >> PAGE_SHIFT, reg.prot,
				 false, &w);
	if (ret)
		return ret;

	/*
	 * The window goes in the list (which owns the creation reference) but
	 * stays invisible until the caller has its offset: a failed copy-out
	 * then takes back a window nobody else can have used.  Teardown may
	 * still take it from the list meanwhile: hold our own reference.
	 */
	mutex_lock(&ep->rma_lock);
	ret = ep->rma_closed ? -ECONNRESET :
		scif_window_insert(ep, w, reg.offset, fixed);
	if (!ret)
		kref_get(&w->ref);
	mutex_unlock(&ep->rma_lock);
	if (ret) {
		scif_window_put(w);
		return ret;
	}
	/* across the link: the peer knows the window before REG returns */
	ret = conn->lc ? scif_link_win_export(conn, w) : 0;
	if (!ret)
		ret = put_user(w->offset, &arg->out_offset);
	mutex_lock(&ep->rma_lock);
	if (!ret) {
		w->live = true;
	} else if (!ep->rma_closed) {
		list_del_init(&w->link);
		scif_window_put(w);	/* the list's; ours is still held */
	}
	mutex_unlock(&ep->rma_lock);
	if (ret && w->lw)
		scif_link_win_unexport(w, false);
	scif_window_put(w);
	return ret;
}

/**
 * scif_ioctl_unreg() - SCIF_UNREG
 * @ep: the endpoint
 * @arg: user &struct scifioctl_unreg
 *
 * Unregisters the windows lying entirely inside the range; a window only
 * partly inside makes the call fail without unregistering anything.  Works
 * after the peer closed (the windows are still ours).
 *
 * Return: 0 or -EFAULT, -EINVAL (alignment, length, a window cut),
 * -ENOTCONN, -ENXIO (no window in the range).
 */
int scif_ioctl_unreg(struct scif_endpt *ep, struct scifioctl_unreg __user *arg)
{
	struct scifioctl_unreg u;
	struct scif_window *w, *tmp;
	LIST_HEAD(gone);
	s64 end;
	int ret = 0;

	if (copy_from_user(&u, arg, sizeof(u)))
		return -EFAULT;
	if (u.offset < 0 || !u.len || !PAGE_ALIGNED(u.offset) ||
	    !PAGE_ALIGNED(u.len) || u.len > SCIF_OFFSET_END ||
	    (u64)u.offset > SCIF_OFFSET_END - u.len)
		return -EINVAL;
	if (!scif_ep_data_conn(ep))
		return -ENOTCONN;
	end = u.offset + u.len;

	mutex_lock(&ep->rma_lock);
	list_for_each_entry(w, &ep->windows, link) {
		s64 wend = w->offset + scif_window_len(w);

		if (w->offset >= end)
			break;
		if (wend <= u.offset || !w->live)
			continue;
		if (w->offset < u.offset || wend > end) {
			ret = -EINVAL;
			break;
		}
	}
	if (!ret) {
		list_for_each_entry_safe(w, tmp, &ep->windows, link) {
			if (w->offset >= end)
				break;
			if (w->offset >= u.offset && w->live)
				list_move_tail(&w->link, &gone);
		}
		if (list_empty(&gone))
			ret = -ENXIO;
	}
	mutex_unlock(&ep->rma_lock);

	/* the peer's RMAs on them end first (link_rma.c) */
	list_for_each_entry_safe(w, tmp, &gone, link)
		if (w->lw)
			scif_link_win_unexport(w, false);
	list_for_each_entry_safe(w, tmp, &gone, link) {
		list_del_init(&w->link);
		if (w->lw)
			scif_link_win_unexport(w, true);
		scif_window_put(w);
	}
	return ret;
}

/**
 * scif_windows_teardown() - unregister every window of a closing endpoint
 * @ep: the endpoint
 *
 * No window can be registered afterwards.  Idempotent.
 */
void scif_windows_teardown(struct scif_endpt *ep)
{
	struct scif_window *w, *tmp;
	LIST_HEAD(gone);

	mutex_lock(&ep->rma_lock);
	ep->rma_closed = true;
	list_splice_init(&ep->windows, &gone);
	mutex_unlock(&ep->rma_lock);
	list_for_each_entry_safe(w, tmp, &gone, link) {
		list_del_init(&w->link);
		if (w->lw)
			scif_link_win_unexport(w, false);
		scif_window_put(w);
	}
}
