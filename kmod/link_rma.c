// SPDX-License-Identifier: GPL-2.0-only
/*
 * link_rma.c - RMA with endpoints in another kernel.
 *
 * The protocol is in scif_wire.h ("RMA").  On this side:
 *
 * Our windows (exports).  REG on a connection across the link pins the
 * pages as for a local peer, writes a page list of their physical
 * addresses into pages of ours, sends WINDOW_ADD and waits (killably) for
 * the peer's WINDOW_ADDED.  The export holds a reference on the window
 * until the peer's WINDOW_FREE (or its death): the peer may copy to and
 * from the pages, or have them mapped, until then.  UNREG sends
 * WINDOW_DEL and waits for WINDOW_DELETED (the peer's RMAs on the window
 * are over); close sends WINDOW_DEL without waiting.
 *
 * The peer's windows (imports).  A WINDOW_ADD becomes a &struct
 * scif_window with ->pa (the page addresses, each checked against the
 * aperture) in the connection's list (lc->rwins) and in the peer's
 * (peer->rwins, by window id).  RMAs, fence signals and mmaps reference it
 * like a local window; RMAs and fence signals also count in lw->busy, and
 * a WINDOW_DEL is answered once that count is 0.  The last reference sends
 * WINDOW_FREE.
 *
 * Copies through the aperture (rma.c) and fence values written into the
 * peer's windows happen inside RCU read-side sections that check the
 * window's ->dead first; when the peer goes down, every window of it is
 * marked dead, its mmaps are zapped (mmap.c), and a grace period passes
 * before the node is forgotten: nothing of ours touches the memory of a
 * later incarnation of the peer.
 *
 * Fences across the link read the peer's RMA sequence numbers from the
 * ring index page it owns (scif_wire.h); our own go into ours.
 *
 * Locking: scif_link_mutex (message handling, export state) -> lc->rw_lock
 * -> peer->tx_lock; peer->rwins' xa_lock is innermost.  Nothing here takes
 * scif_link_mutex with an mmap lock held: mmap() only takes lc->rw_lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/io.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/xarray.h>
#include <linux/sched/signal.h>

#include "link.h"

/* Export states (lw->state, under scif_link_mutex) */
enum scif_lw_state {
	LW_ADDING,	/* WINDOW_ADD sent, no answer yet */
	LW_LIVE,	/* the peer knows the window */
	LW_REFUSED,	/* the peer answered an error: never known there */
	LW_DELETING,	/* WINDOW_DEL sent */
	LW_DELETED,	/* the peer's RMAs on it are over */
	LW_GONE,	/* the peer let go (FREE) or went down */
};

/**
 * struct scif_link_win - the link state of a window (&struct scif_window.lw)
 * @remote: a window of the peer (import), else one of ours (export)
 * @win: the window (export: referenced while the id is in scif_link_wids)
 * @peer: the other node
 * @inc: the peer's session (peer->tx_inc) when the window was described
 * @id: the window id (ours for an export, the peer's for an import)
 * @conn_id: our id of the connection
 * @peer_conn_id: the peer's id of the connection
 * @state: export: &enum scif_lw_state
 * @result: export: the peer's errno for WINDOW_ADD
 * @abandoned: export: REG gave up waiting; a late success is deleted
 * @l1: export: the page list's first level until the answer (@l1_order)
 * @l1_order: see @l1
 * @l2: export: the second-level pages (@nl2 of them)
 * @nl2: see @l2
 * @del: export: the WINDOW_DEL message, until sent
 * @lc: import: the connection, while the window is in its list
 * @busy: import: RMAs and fence signals using the window
 * @del_pending: import: WINDOW_DEL received
 * @answered: import: WINDOW_DELETED (or FREE) was sent
 * @dead: import: the peer went down; no access through the aperture
 * @msg_deleted: import: the WINDOW_DELETED message, until sent
 * @msg_free: import: the WINDOW_FREE message, until sent
 */
struct scif_link_win {
	bool remote;
	struct scif_window *win;
	u16 peer;
	u32 inc;
	u32 id;
	u32 conn_id;
	u32 peer_conn_id;
	int state;
	int result;
	bool abandoned;
	struct page *l1;
	unsigned int l1_order;
	struct page **l2;
	unsigned int nl2;
	struct scif_link_msg *del;
	struct scif_link_conn *lc;
	atomic_t busy;
	bool del_pending;
	unsigned long answered;
	bool dead;
	struct scif_link_msg *msg_deleted;
	struct scif_link_msg *msg_free;
};

/* our exports by id; entries hold a window reference (scif_link_mutex) */
static DEFINE_XARRAY_ALLOC1(scif_link_wids);
static u32 scif_link_wid_next;
static DECLARE_WAIT_QUEUE_HEAD(scif_link_win_wq);

static struct scif_link_peer *lw_peer(const struct scif_link_win *lw)
{
	return &scif_link_dev.peer[lw->peer];
}

static u32 scif_link_session(u16 n)
{
	struct scif_link_peer *p = &scif_link_dev.peer[n];
	u32 inc;

	spin_lock(&p->tx_lock);
	inc = p->tx_inc;
	spin_unlock(&p->tx_lock);
	return inc;
}

/* Fill the header fields of a window message about @lw. */
static void scif_link_win_msg(struct scif_link_win *lw, struct scif_link_msg *msg,
			      u16 type, u64 arg3)
{
	memset(&msg->m, 0, sizeof(msg->m));
	msg->inc = lw->inc;
	msg->m.type = cpu_to_le16(type);
	msg->m.arg[0] = cpu_to_le64(lw->peer_conn_id);
	msg->m.arg[1] = cpu_to_le64(lw->conn_id);
	msg->m.arg[2] = cpu_to_le64(lw->id);
	msg->m.arg[3] = cpu_to_le64(arg3);
}

/* Fill and post a window message (ownership of @msg passes). */
static void scif_link_win_post(struct scif_link_win *lw,
			       struct scif_link_msg *msg, u16 type, u64 arg3)
{
	scif_link_win_msg(lw, msg, type, arg3);
	scif_link_post_msg(lw->peer, msg);
}

/**
 * scif_link_rma_conn_init() - the RMA half of a new link connection
 * @lc: the connection
 */
void scif_link_rma_conn_init(struct scif_link_conn *lc)
{
	mutex_init(&lc->rw_lock);
	INIT_LIST_HEAD(&lc->rwins);
	spin_lock_init(&lc->sig_lock);
	INIT_LIST_HEAD(&lc->signals);
	atomic_set(&lc->want, 0);
}

/* ---- our windows ------------------------------------------------------ */

static void scif_link_plist_free(struct scif_link_win *lw)
{
	unsigned int i;

	if (lw->l2) {
		for (i = 0; i < lw->nl2; i++)
			if (lw->l2[i])
				__free_page(lw->l2[i]);
		kvfree(lw->l2);
		lw->l2 = NULL;
	}
	if (lw->l1) {
		__free_pages(lw->l1, lw->l1_order);
		lw->l1 = NULL;
	}
}

/* The two-level page list of @w (scif_wire.h, "RMA"). */
static int scif_link_plist_build(struct scif_link_win *lw, struct scif_window *w)
{
	unsigned int i, j;
	__le64 *l1, *l2;
	u64 pg = 0;

	lw->nl2 = DIV_ROUND_UP(w->nr_pages, SCIF_WIRE_PLIST_PER_PAGE);
	lw->l2 = kvcalloc(lw->nl2, sizeof(*lw->l2), GFP_KERNEL_ACCOUNT);
	if (!lw->l2)
		return -ENOMEM;
	lw->l1_order = get_order(lw->nl2 * sizeof(u64));
	lw->l1 = alloc_pages(GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN,
			     lw->l1_order);
	if (!lw->l1)
		return -ENOMEM;
	l1 = page_address(lw->l1);
	for (i = 0; i < lw->nl2; i++) {
		lw->l2[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!lw->l2[i])
			return -ENOMEM;
		l1[i] = cpu_to_le64(page_to_phys(lw->l2[i]));
		l2 = page_address(lw->l2[i]);
		for (j = 0; j < SCIF_WIRE_PLIST_PER_PAGE && pg < w->nr_pages; j++)
			l2[j] = cpu_to_le64(page_to_phys(w->pages[pg++]));
	}
	return 0;
}

/* The export is over: forget the id and drop its window reference. */
static void scif_link_export_end(struct scif_link_win *lw, struct scif_window *w,
				 int state)
{
	lockdep_assert_held(&scif_link_mutex);
	lw->state = state;
	xa_erase(&scif_link_wids, lw->id);
	scif_link_plist_free(lw);
	wake_up_all(&scif_link_win_wq);
	scif_window_put(w);
}

/* Stop exporting @lw's window.  scif_link_mutex held. */
static void scif_link_export_del(struct scif_link_win *lw)
{
	struct scif_link_msg *msg;

	switch (lw->state) {
	case LW_ADDING:
		lw->abandoned = true;
		break;
	case LW_LIVE:
		lw->state = LW_DELETING;
		msg = lw->del;
		lw->del = NULL;
		scif_link_win_post(lw, msg, SCIF_WIRE_MSG_WINDOW_DEL, 0);
		break;
	default:
		break;
	}
}

/**
 * scif_link_win_export() - describe a new window to the peer
 * @conn: a connection across the link
 * @w: the window, pinned, its offset chosen, not live yet
 *
 * Return: 0 once the peer knows the window, or -ENOMEM, -ECONNRESET (the
 * connection or the node ended), -EINTR (killed while waiting), or the
 * peer's error.
 */
int scif_link_win_export(struct scif_conn *conn, struct scif_window *w)
{
	struct scif_link_conn *lc = conn->lc;
	struct scif_link_msg *add;
	struct scif_link_win *lw;
	int ret;

	lw = kzalloc(sizeof(*lw), GFP_KERNEL_ACCOUNT);
	if (!lw)
		return -ENOMEM;
	w->lw = lw;	/* freed with the window */
	lw->del = kzalloc(sizeof(*lw->del), GFP_KERNEL);
	add = kzalloc(sizeof(*add), GFP_KERNEL);
	lw->state = LW_REFUSED;
	if (!lw->del || !add || scif_link_plist_build(lw, w)) {
		kfree(add);
		return -ENOMEM;
	}

	mutex_lock(&scif_link_mutex);
	ret = -ECONNRESET;
	if (smp_load_acquire(&conn->closed) || !lc->peer_id ||
	    !scif_link_dev.peer[lc->peer].up)
		goto unlock;
	ret = xa_alloc_cyclic(&scif_link_wids, &lw->id, lw, xa_limit_31b,
			      &scif_link_wid_next, GFP_KERNEL);
	if (ret < 0)
		goto unlock;
	lw->peer = lc->peer;
	lw->inc = scif_link_session(lc->peer);
	lw->conn_id = lc->id;
	lw->peer_conn_id = lc->peer_id;
	lw->state = LW_ADDING;
	lw->win = w;
	scif_window_get(w);	/* the export's */
	scif_link_win_msg(lw, add, SCIF_WIRE_MSG_WINDOW_ADD, w->offset);
	add->m.arg[4] = cpu_to_le64(w->nr_pages);
	add->m.arg[5] = cpu_to_le64(page_to_phys(lw->l1) |
				    (w->prot & SCIF_WIRE_PROT_MASK));
	scif_link_post_msg(lw->peer, add);
	add = NULL;
	mutex_unlock(&scif_link_mutex);

	ret = wait_event_killable(scif_link_win_wq,
				  READ_ONCE(lw->state) != LW_ADDING);
	mutex_lock(&scif_link_mutex);
	if (ret)
		ret = -EINTR;
	else if (lw->state == LW_LIVE)
		ret = 0;
	else if (lw->state == LW_REFUSED)
		ret = -lw->result;
	else
		ret = -ECONNRESET;
	if (ret)
		scif_link_export_del(lw);
unlock:
	mutex_unlock(&scif_link_mutex);
	kfree(add);
	return ret;
}

static bool scif_link_export_settled(struct scif_link_win *lw)
{
	int state = READ_ONCE(lw->state);

	return state != LW_LIVE && state != LW_DELETING && state != LW_ADDING;
}

/**
 * scif_link_win_unexport() - our window leaves the peer's view
 * @w: an exported window, already out of its endpoint's list
 * @wait: wait (killably) until the peer's RMAs on it are over
 *
 * The pages stay pinned until the peer has let go of the window.
 * Idempotent.
 */
void scif_link_win_unexport(struct scif_window *w, bool wait)
{
	struct scif_link_win *lw = w->lw;

	mutex_lock(&scif_link_mutex);
	scif_link_export_del(lw);
	mutex_unlock(&scif_link_mutex);
	if (wait && READ_ONCE(lw->state) != LW_ADDING)
		wait_event_killable(scif_link_win_wq, scif_link_export_settled(lw));
}

/* ---- the peer's windows ------------------------------------------------- */

/**
 * scif_link_win_busy() - an RMA or fence signal takes a window
 * @w: a window with ->lw, its list's lock held
 */
void scif_link_win_busy(struct scif_window *w)
{
	if (w->lw->remote)
		atomic_inc(&w->lw->busy);
}

/* Post an import's preallocated message (none once the peer is down). */
static void scif_link_import_say(struct scif_link_win *lw,
				 struct scif_link_msg **slot, u16 type)
{
	struct scif_link_msg *msg = *slot;

	*slot = NULL;
	if (!READ_ONCE(lw->dead))
		scif_link_win_post(lw, msg, type, 0);
	else
		kfree(msg);
}

static void scif_link_import_answer(struct scif_link_win *lw)
{

	if (!test_and_set_bit(0, &lw->answered))
		scif_link_import_say(lw, &lw->msg_deleted, SCIF_WIRE_MSG_WINDOW_DELETED);
}

/**
 * scif_link_win_unbusy() - an RMA or fence signal lets go of a window
 * @w: a window with ->lw
 */
void scif_link_win_unbusy(struct scif_window *w)
{
	struct scif_link_win *lw = w->lw;

	if (lw->remote && atomic_dec_and_test(&lw->busy) &&
	    READ_ONCE(lw->del_pending))
		scif_link_import_answer(lw);
}

/**
 * scif_link_win_release() - the last reference to a window with ->lw went
 * @w: the window
 */
void scif_link_win_release(struct scif_window *w)
{
	struct scif_link_win *lw = w->lw;

	if (lw->remote) {
		xa_cmpxchg(&lw_peer(lw)->rwins, lw->id, w, NULL, 0);
		scif_link_import_say(lw, &lw->msg_free, SCIF_WIRE_MSG_WINDOW_FREE);
		kfree(lw->msg_deleted);
		atomic_long_sub(w->nr_pages, &lw_peer(lw)->import_pages);
		atomic_dec(&scif_stats.peer_windows);
	} else {
		scif_link_plist_free(lw);
		kfree(lw->del);
	}
	kfree(lw);
	w->lw = NULL;
}

/* Take an import out of its connection's list.  scif_link_mutex held. */
static void scif_link_import_hide(struct scif_window *w)
{
	struct scif_link_conn *lc = w->lw->lc;

	if (!lc)
		return;
	mutex_lock(&lc->rw_lock);
	list_del_init(&w->link);
	w->lw->lc = NULL;
	mutex_unlock(&lc->rw_lock);
	scif_window_put(w);	/* the list's */
}

/**
 * scif_link_rma_conn_end() - a link connection is forgotten
 * @lc: the connection
 *
 * Its windows of the peer leave its list (mmaps may keep them), and its
 * INIT_PEER fence signals are dropped (the peer's RMAs will not complete).
 * Context: scif_link_mutex held.
 */
void scif_link_rma_conn_end(struct scif_link_conn *lc)
{
	struct scif_window *w;
	unsigned int n;
	LIST_HEAD(sigs);

	for (;;) {
		mutex_lock(&lc->rw_lock);
		w = list_first_entry_or_null(&lc->rwins, struct scif_window, link);
		if (w)
			scif_window_get(w);
		mutex_unlock(&lc->rw_lock);
		if (!w)
			break;
		scif_link_import_hide(w);
		scif_window_put(w);
	}
	spin_lock(&lc->sig_lock);
	list_splice_init(&lc->signals, &sigs);
	spin_unlock(&lc->sig_lock);
	n = scif_fence_discard(&sigs);
	atomic_sub(n, &lc->want);
}

/* Insert @w into lc->rwins by offset.  -EPROTO if it overlaps. */
static int scif_link_import_insert(struct scif_link_conn *lc,
				   struct scif_window *w)
{
	u64 len = w->nr_pages << PAGE_SHIFT;
	struct scif_window *o;
	struct list_head *pos = &lc->rwins;
	int ret = 0;

	mutex_lock(&lc->rw_lock);
	list_for_each_entry(o, &lc->rwins, link) {
		if (o->offset >= w->offset + (s64)len) {
			pos = &o->link;
			break;
		}
		if (o->offset + (s64)(o->nr_pages << PAGE_SHIFT) > w->offset) {
			ret = -EPROTO;
			break;
		}
	}
	if (!ret) {
		list_add_tail(&w->link, pos);
		w->lw->lc = lc;
	}
	mutex_unlock(&lc->rw_lock);
	return ret;
}

/* Answer a WINDOW_ADD we could not take (no memory, connection closed). */
static void scif_link_import_refuse(u16 n, const struct scif_wire_msg *m,
				    int err)
{
	struct scif_link_msg *msg = kzalloc(sizeof(*msg), GFP_KERNEL);

	if (!msg)
		return;		/* the owner's REG waits; killable */
	msg->inc = scif_link_session(n);
	msg->m.type = cpu_to_le16(SCIF_WIRE_MSG_WINDOW_ADDED);
	msg->m.arg[0] = m->arg[1];
	msg->m.arg[1] = m->arg[0];
	msg->m.arg[2] = m->arg[2];
	msg->m.arg[3] = cpu_to_le64(-err);
	scif_link_post_msg(n, msg);
}

/* Copy the page list of a WINDOW_ADD out of the aperture, validated. */
static int scif_link_import_plist(struct scif_link_peer *p, u64 l1, u64 nr,
				  u64 *pa)
{
	u64 nl2 = DIV_ROUND_UP(nr, SCIF_WIRE_PLIST_PER_PAGE);
	u64 i, j, pg = 0, l2, e;
	__le64 *v;

	if (!IS_ALIGNED(l1, PAGE_SIZE) || !scif_link_ap_ok(p, l1, nl2 * sizeof(u64)))
		return -EPROTO;
	for (i = 0; i < nl2; i++) {
		v = p->ap_va + l1;
		l2 = le64_to_cpu(READ_ONCE(v[i]));
		if (!IS_ALIGNED(l2, PAGE_SIZE) || !scif_link_ap_ok(p, l2, PAGE_SIZE))
			return -EPROTO;
		v = p->ap_va + l2;
		for (j = 0; j < SCIF_WIRE_PLIST_PER_PAGE && pg < nr; j++) {
			e = le64_to_cpu(READ_ONCE(v[j]));
			if (!IS_ALIGNED(e, PAGE_SIZE) || !scif_link_ap_ok(p, e, PAGE_SIZE))
				return -EPROTO;
			pa[pg++] = e;
		}
		cond_resched();
	}
	return 0;
}

/* WINDOW_ADD: a window of the peer on connection @lc. */
static int scif_link_rma_rx_add(u16 n, struct scif_link_conn *lc,
				const struct scif_wire_msg *m)
{
	struct scif_link_peer *p = &scif_link_dev.peer[n];
	u64 id = le64_to_cpu(m->arg[2]), off = le64_to_cpu(m->arg[3]);
	u64 nr = le64_to_cpu(m->arg[4]), list = le64_to_cpu(m->arg[5]);
	struct scif_link_win *lw;
	struct scif_window *w;
	int ret;

	if (p->ap_va && nr > p->aperture_bytes >> PAGE_SHIFT) {
		/* more pages than the peer has RAM: not worth our memory */
		scif_link_import_refuse(n, m, -ENOMEM);
		return 0;
	}
	if (!id || id > U32_MAX || !IS_ALIGNED(off, PAGE_SIZE) || !nr ||
	    (list & ~PAGE_MASK & ~(u64)SCIF_WIRE_PROT_MASK) ||
	    nr > SCIF_MAX_WINDOW >> PAGE_SHIFT || off >= SCIF_OFFSET_END ||
	    SCIF_OFFSET_END - off < nr << PAGE_SHIFT || !p->ap_va)
		return -EPROTO;
	if (smp_load_acquire(&lc->conn->closed)) {
		scif_link_import_refuse(n, m, -ECONNRESET);
		return 0;
	}
	lw = kzalloc(sizeof(*lw), GFP_KERNEL_ACCOUNT);
	if (!lw) {
		scif_link_import_refuse(n, m, -ENOMEM);
		return 0;
	}
	lw->remote = true;
	lw->peer = n;
	lw->inc = scif_link_session(n);
	lw->id = id;
	lw->conn_id = lc->id;
	lw->peer_conn_id = lc->peer_id;
	/* not known until accepted: nothing to answer, no FREE */
	lw->dead = true;
	set_bit(0, &lw->answered);
	w = scif_window_alloc();
	if (!w) {
		kfree(lw);
		scif_link_import_refuse(n, m, -ENOMEM);
		return 0;
	}
	w->temp = true;		/* not one of our registered windows */
	w->lw = lw;
	atomic_inc(&scif_stats.peer_windows);
	if (atomic_long_add_return(nr, &p->import_pages) >
	    SCIF_LINK_IMPORT_RAMS * (p->aperture_bytes >> PAGE_SHIFT)) {
		atomic_long_sub(nr, &p->import_pages);
		scif_window_put(w);
		scif_link_import_refuse(n, m, -ENOMEM);
		return 0;
	}
	w->nr_pages = nr;	/* the release gives them back */
	lw->msg_deleted = kzalloc(sizeof(*lw->msg_deleted), GFP_KERNEL);
	lw->msg_free = kzalloc(sizeof(*lw->msg_free), GFP_KERNEL);
	w->pa = kvmalloc_array(nr, sizeof(*w->pa), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!lw->msg_deleted || !lw->msg_free || !w->pa) {
		scif_window_put(w);
		scif_link_import_refuse(n, m, -ENOMEM);
		return 0;
	}
	w->offset = off;
	w->prot = list & SCIF_WIRE_PROT_MASK;
	w->live = true;
	ret = scif_link_import_plist(p, list & PAGE_MASK, nr, w->pa);
	if (ret) {
		scif_window_put(w);
		return ret;
	}
	lw->dead = false;
	clear_bit(0, &lw->answered);
	ret = xa_insert(&p->rwins, id, w, GFP_KERNEL);
	if (ret == -EBUSY)
		ret = -EPROTO;	/* the peer reused a live id */
	if (!ret) {
		ret = scif_link_import_insert(lc, w);
		if (ret)
			xa_erase(&p->rwins, id);
	}
	if (ret) {
		lw->dead = true;
		set_bit(0, &lw->answered);
		scif_window_put(w);
		if (ret != -EPROTO) {
			scif_link_import_refuse(n, m, ret);
			return 0;
		}
		return ret;
	}
	/* the list's reference is the allocation's */
	scif_link_import_refuse(n, m, 0);
	return 0;
}

/* The import the peer names by id, referenced, or NULL. */
static struct scif_window *scif_link_import_get(struct scif_link_peer *p, u64 id)
{
	struct scif_window *w;

	if (!id || id > U32_MAX)
		return NULL;
	xa_lock(&p->rwins);
	w = xa_load(&p->rwins, id);
	if (w && !kref_get_unless_zero(&w->ref))
		w = NULL;
	xa_unlock(&p->rwins);
	return w;
}

/* WINDOW_DEL: the peer unregistered one of its windows. */
static int scif_link_rma_rx_del(u16 n, const struct scif_wire_msg *m)
{
	struct scif_window *w = scif_link_import_get(&scif_link_dev.peer[n],
						      le64_to_cpu(m->arg[2]));
	struct scif_link_win *lw;

	if (!w)
		return 0;	/* already let go: our FREE answers it */
	lw = w->lw;
	if (lw->del_pending) {
		scif_window_put(w);
		return -EPROTO;
	}
	scif_link_import_hide(w);
	WRITE_ONCE(lw->del_pending, true);
	smp_mb();	/* del_pending before busy; see scif_link_win_unbusy() */
	if (!atomic_read(&lw->busy))
		scif_link_import_answer(lw);
	scif_window_put(w);
	return 0;
}

/* Our export the peer names by id, or NULL.  scif_link_mutex held. */
static struct scif_link_win *scif_link_export_find(u16 n, u64 id)
{
	struct scif_link_win *lw;

	if (!id || id > U32_MAX)
		return NULL;
	lw = xa_load(&scif_link_wids, id);
	return lw && lw->peer == n ? lw : NULL;
}

/* Answers about our windows: ADDED, DELETED, FREE. */
static int scif_link_rma_rx_answer(u16 n, u16 type, const struct scif_wire_msg *m)
{
	struct scif_link_win *lw = scif_link_export_find(n, le64_to_cpu(m->arg[2]));
	u64 err = le64_to_cpu(m->arg[3]);

	if (!lw)
		return 0;
	switch (type) {
	case SCIF_WIRE_MSG_WINDOW_ADDED:
		/* REG returns it: a user's errno, never ERESTARTSYS and co */
		if (lw->state != LW_ADDING || err >= ERESTARTSYS)
			return -EPROTO;
		scif_link_plist_free(lw);
		if (err) {
			lw->result = err;
			break;	/* refused: ends below */
		}
		lw->state = LW_LIVE;
		if (lw->abandoned)
			scif_link_export_del(lw);
		wake_up_all(&scif_link_win_wq);
		return 0;
	case SCIF_WIRE_MSG_WINDOW_DELETED:
		if (lw->state != LW_DELETING)
			return -EPROTO;
		lw->state = LW_DELETED;
		wake_up_all(&scif_link_win_wq);
		return 0;
	case SCIF_WIRE_MSG_WINDOW_FREE:
		if (lw->state == LW_ADDING)
			return -EPROTO;
		break;
	}
	scif_link_export_end(lw, lw->win, type == SCIF_WIRE_MSG_WINDOW_FREE ?
			     LW_GONE : LW_REFUSED);
	return 0;
}

/**
 * scif_link_rma_rx() - handle a window message from node @n
 * @n: the sender (up, current incarnation)
 * @m: the message, copied out of shared memory
 *
 * Context: scif_link_mutex held.
 * Return: 0, or -EPROTO: the peer broke the protocol.
 */
int scif_link_rma_rx(u16 n, const struct scif_wire_msg *m)
{
	u16 type = le16_to_cpu(m->type);
	struct scif_link_conn *lc;

	switch (type) {
	case SCIF_WIRE_MSG_WINDOW_ADD:
		lc = scif_link_conn_find(n, m);
		if (!lc) {
			scif_link_import_refuse(n, m, -ECONNRESET);
			return 0;
		}
		return scif_link_rma_rx_add(n, lc, m);
	case SCIF_WIRE_MSG_WINDOW_DEL:
		return scif_link_rma_rx_del(n, m);
	default:
		return scif_link_rma_rx_answer(n, type, m);
	}
}

/**
 * scif_link_rma_peer_down() - node @n is gone: end every window with it
 * @n: the node
 *
 * Its windows here are dead (no access through the aperture after the
 * grace period below) and unmapped; ours are released to their owners.
 * Context: scif_link_mutex held; may sleep.
 */
void scif_link_rma_peer_down(u16 n)
{
	struct scif_link_peer *p = &scif_link_dev.peer[n];
	struct scif_link_win *lw;
	struct scif_window *w;
	unsigned long i;
	bool any = false;

	xa_lock(&p->rwins);
	xa_for_each(&p->rwins, i, w) {
		WRITE_ONCE(w->lw->dead, true);
		/* its ids end with it (an mmap may keep the window) */
		__xa_erase(&p->rwins, i);
		any = true;
	}
	xa_unlock(&p->rwins);
	if (any) {
		scif_mmap_zap_node(n);
		synchronize_rcu();	/* copies through the aperture are out */
	}
	xa_for_each(&scif_link_wids, i, lw)
		if (lw->peer == n)
			scif_link_export_end(lw, lw->win, LW_GONE);
}

/**
 * scif_link_win_va() - where a page of a peer's window is in our aperture
 * @w: a window with ->pa
 * @pg: the page
 *
 * Context: inside rcu_read_lock(), for as long as the address is used.
 * Return: the address, or NULL once the peer is down.
 */
void *scif_link_win_va(const struct scif_window *w, u64 pg)
{
	void *ap;

	if (READ_ONCE(w->lw->dead))
		return NULL;
	ap = READ_ONCE(scif_link_dev.peer[w->lw->peer].ap_va);
	return ap ? ap + w->pa[pg] : NULL;
}

/**
 * scif_link_win_pfn() - the page frame of a page of a peer's window
 * @w: a window with ->pa
 * @pg: the page
 *
 * Return: the pfn in our aperture, or 0 when the peer is down.
 */
unsigned long scif_link_win_pfn(const struct scif_window *w, u64 pg)
{
	struct scif_link_peer *p = &scif_link_dev.peer[w->lw->peer];

	if (READ_ONCE(w->lw->dead) || !READ_ONCE(p->ap_va))
		return 0;
	return PHYS_PFN(p->ap_phys + w->pa[pg]);
}

/**
 * scif_link_win_node() - the node a peer's window lives on
 * @w: a window with ->pa
 *
 * Return: the node id.
 */
u16 scif_link_win_node(const struct scif_window *w)
{
	return w->lw->peer;
}

/**
 * scif_link_range_get() - reference the peer's windows covering a range
 * @conn: a connection across the link
 * @off: first byte in the peer's registered space
 * @len: bytes
 * @prot: access every window must allow
 * @busy: for an RMA or fence signal (see &struct scif_range)
 * @r: the range to fill
 *
 * Return: see scif_range_get_in().
 */
int scif_link_range_get(struct scif_conn *conn, s64 off, u64 len, int prot,
			bool busy, struct scif_range *r)
{
	return scif_range_get_in(&conn->lc->rwins, &conn->lc->rw_lock, off, len,
				 prot, busy, r);
}

/* ---- fences across the link ---------------------------------------------- */

/* Our receive ring's index page: where we publish, the peer wants. */
static struct scif_wire_ring *scif_link_own_page(struct scif_conn *conn)
{
	return page_address(conn->lc->rx_ctl);
}

/*
 * The peer's receive ring's index page, through the aperture: where the
 * peer publishes.  Inside rcu_read_lock(); NULL once the connection closed
 * (the aperture may go after a grace period).
 */
static struct scif_wire_ring *scif_link_peer_page(struct scif_conn *conn)
{
	__le32 *head = conn->ring[conn->lside].publish;

	if (smp_load_acquire(&conn->closed) || !head)
		return NULL;
	return container_of(head, struct scif_wire_ring, head);
}

/**
 * scif_link_rma_publish() - publish our RMA sequence numbers to the peer
 * @conn: a connection across the link
 * @issued: our last sequence number issued
 * @lowest: our lowest in flight, or @issued + 1
 * @cancelled: an asynchronous RMA of ours failed
 *
 * Context: the endpoint's rma_slock held (the values go out in order).
 */
void scif_link_rma_publish(struct scif_conn *conn, u64 issued, u64 lowest,
			   bool cancelled)
{
	struct scif_wire_ring *own = scif_link_own_page(conn);

	WRITE_ONCE(own->rma_issued, cpu_to_le64(issued));
	smp_wmb();	/* a reader never sees lowest beyond issued + 1 */
	WRITE_ONCE(own->rma_lowest, cpu_to_le64(lowest));
	if (cancelled)
		WRITE_ONCE(own->rma_cancelled, cpu_to_le32(1));
}

/**
 * scif_link_rma_progress() - our RMAs completed: wake the peer if it waits
 * @conn: a connection across the link (after scif_link_rma_publish())
 */
void scif_link_rma_progress(struct scif_conn *conn)
{
	smp_mb();	/* our rma_lowest before the peer's want */
	if (READ_ONCE(scif_link_own_page(conn)->rma_want))
		scif_link_conn_wake_rma(conn->lc);
}

/**
 * scif_link_peer_issued() - the peer's last RMA sequence number
 * @conn: a connection across the link
 * @issued: where to put it
 *
 * Return: 0 or -ECONNRESET.
 */
int scif_link_peer_issued(struct scif_conn *conn, u64 *issued)
{
	struct scif_wire_ring *wr;
	int ret = -ECONNRESET;

	rcu_read_lock();
	wr = scif_link_peer_page(conn);
	if (wr) {
		*issued = le64_to_cpu(READ_ONCE(wr->rma_issued));
		ret = 0;
	}
	rcu_read_unlock();
	return ret;
}

/**
 * scif_link_peer_done() - have the peer's RMAs up to @seq completed?
 * @conn: a connection across the link
 * @seq: a sequence number of the peer's
 *
 * Return: true if so (false once the connection closed).
 */
bool scif_link_peer_done(struct scif_conn *conn, u64 seq)
{
	struct scif_wire_ring *wr;
	bool done = false;

	rcu_read_lock();
	wr = scif_link_peer_page(conn);
	if (wr)
		done = !seq || le64_to_cpu(READ_ONCE(wr->rma_lowest)) > seq;
	rcu_read_unlock();
	return done;
}

/**
 * scif_link_peer_cancelled() - did an asynchronous RMA of the peer fail?
 * @conn: a connection across the link
 *
 * Return: true if so, or once the connection closed.
 */
bool scif_link_peer_cancelled(struct scif_conn *conn)
{
	struct scif_wire_ring *wr;
	bool bad = true;

	rcu_read_lock();
	wr = scif_link_peer_page(conn);
	if (wr)
		bad = READ_ONCE(wr->rma_cancelled) != 0;
	rcu_read_unlock();
	return bad;
}

/**
 * scif_link_want() - count a waiter on the peer's RMAs (or drop one)
 * @conn: a connection across the link
 * @delta: +1 or -1
 *
 * The peer sends WAKE_RMA on progress while the count is not 0.
 */
void scif_link_want(struct scif_conn *conn, int delta)
{
	struct scif_link_conn *lc = conn->lc;
	struct scif_wire_ring *wr;
	int v;

	/* count and store together: two callers must not store out of order */
	spin_lock(&lc->sig_lock);
	v = atomic_add_return(delta, &lc->want);
	rcu_read_lock();
	wr = scif_link_peer_page(conn);
	if (wr)
		WRITE_ONCE(wr->rma_want, cpu_to_le32(v > 0));
	rcu_read_unlock();
	spin_unlock(&lc->sig_lock);
	smp_mb();	/* our want before the peer's rma_lowest */
}

/**
 * scif_link_fence_queue() - queue an INIT_PEER fence signal
 * @conn: a connection across the link
 * @link: the signal's list entry (&struct scif_fence_sig.link)
 * @seq: set to the peer's last RMA issued, the one the signal waits for
 *
 * Return: 1 if queued, 0 if the peer's RMAs up to *@seq are done already
 * (fire it now), -ECONNRESET.
 */
int scif_link_fence_queue(struct scif_conn *conn, struct list_head *link,
			  u64 *seq)
{
	struct scif_link_conn *lc = conn->lc;
	int ret = scif_link_peer_issued(conn, seq);

	if (ret)
		return ret;
	scif_link_want(conn, 1);
	if (scif_link_peer_done(conn, *seq)) {
		scif_link_want(conn, -1);
		return 0;
	}
	spin_lock(&lc->sig_lock);
	list_add_tail(link, &lc->signals);
	spin_unlock(&lc->sig_lock);
	/* a WAKE may have come between the check and the queueing */
	scif_link_rma_wake(lc);
	return 1;
}

/**
 * scif_link_rma_wake() - the peer's RMAs made progress (WAKE_RMA)
 * @lc: the connection
 *
 * Fires the INIT_PEER signals that are due and wakes fence waiters.
 */
void scif_link_rma_wake(struct scif_link_conn *lc)
{
	struct scif_conn *conn = lc->conn;
	struct scif_endpt *ep;
	struct scif_wire_ring *wr;
	unsigned int n = 0;
	u64 lowest = 0;
	LIST_HEAD(ready);

	rcu_read_lock();
	wr = scif_link_peer_page(conn);
	if (wr)
		lowest = le64_to_cpu(READ_ONCE(wr->rma_lowest));
	rcu_read_unlock();
	if (wr) {
		spin_lock(&lc->sig_lock);
		n = scif_fence_collect_list(&lc->signals, lowest, &ready);
		spin_unlock(&lc->sig_lock);
	}
	if (n) {
		smp_rmb();	/* the peer's data before our signal values */
		scif_fence_fire(&ready);
		scif_link_want(conn, -(int)n);
	}
	rcu_read_lock();
	ep = rcu_dereference(conn->ep[lc->side]);
	if (ep)
		wake_up_all(&ep->rma_wq);
	rcu_read_unlock();
}

/**
 * scif_link_rma_exit() - nothing is exported any more at unload
 */
void scif_link_rma_exit(void)
{
	WARN_ON(!xa_empty(&scif_link_wids));
	xa_destroy(&scif_link_wids);
}
