/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scif.h - private definitions of the scif module.
 *
 * Object model
 * ------------
 * A &struct scif_node is one SCIF node of the platform (node 0 is /dev/scif,
 * node N is /dev/scifN); each has its own port table.
 *
 * A &struct scif_endpt is created per open() of a node device.  It is
 * reference counted (kref): the file holds one reference, a connecting
 * endpoint holds one on the listener it queued a request with, and lookups
 * take temporary ones.  Endpoints are freed after an RCU grace period because
 * the peer of a connection wakes ->wq through an RCU-protected pointer.
 *
 * A &struct scif_conn is one connection: two byte rings (ring[s] carries the
 * bytes sent by side s; side 0 is the connecting endpoint, side 1 the accepted
 * one) and the connection state.  It is shared by both endpoints (kref).
 *
 * A &struct scif_pending is an accepted connection that ACCEPTREQ handed out
 * as an opaque id but that no file has claimed yet with ACCEPTREG.  It is
 * owned by its listener and torn down with it.
 *
 * Lock order (outermost first); one endpoint's ->lock is never held while
 * another endpoint's ->lock is taken:
 *
 *   ep->lock (mutex; the endpoint's state, or a listener's queues)
 *     node->port_lock (mutex; port table and port->listener)
 *       scif_pending_lock (mutex; the pending-id xarray, listeners' lists)
 *         conn->lock (spinlock; conn->state, conn->ep[])
 *           ep->wq.lock (inside wake_up)
 *
 * ep->send_lock and ep->recv_lock (mutexes) serialize the user threads of
 * each direction; they are taken outside everything else and never nested
 * with ep->lock.  The rings themselves are single-producer single-consumer
 * and lockless (acquire/release on head and tail).
 *
 * The RMA half
 * ------------
 * A &struct scif_window is a registered window: pinned user pages at an
 * offset of its endpoint's registered address space.  It is reference
 * counted (kref): the endpoint's window list holds one reference until
 * UNREG or close, and in-flight RMAs, pending fence signals and mmaps of
 * the window hold their own.  The pages are unpinned at the last put, which
 * may happen in any process context (never under a spinlock).  A window
 * does not point back to its endpoint.
 *
 * A &struct scif_range is a byte range over adjacent windows, with a
 * reference on each.  RMAs (&struct scif_rma_req), fence signals and mmaps
 * all work on ranges.
 *
 * Every RMA gets a sequence number from its initiating endpoint and sits in
 * that endpoint's ->rma_reqs list (ascending sequence) until it completes;
 * fences compare a mark with the lowest incomplete sequence.  An in-flight
 * RMA holds a reference on its endpoint; the endpoint's flush and release
 * wait for its RMAs to drain before the connection goes.
 *
 * RMA locks, never nested across endpoints:
 *
 *   ep->rma_lock (mutex; the window list)
 *   ep->rma_slock (spinlock; sequence numbers, ->rma_reqs, ->rma_signals)
 *     ep->rma_wq.lock (inside wake_up)
 *
 * ep->rma_lock is taken without any other scif lock held; ep->rma_slock is
 * innermost.
 */
#ifndef _SCIF_PRIV_H
#define _SCIF_PRIV_H

#include <linux/types.h>
#include <linux/cdev.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/xarray.h>
#include <linux/list.h>
#include <linux/rcupdate.h>
#include <linux/atomic.h>
#include <linux/scif_ioctl.h>

#include "scif_api.h"

struct scif_endpt;
struct scif_link_conn;
struct scif_link_win;
struct scif_fence_sig;
struct user_struct;
struct page;

/**
 * struct scif_port - one bound port of a node
 * @refs: endpoints using the port (the binder plus its accepted endpoints)
 * @listener: the listening endpoint on this port, or NULL
 */
struct scif_port {
	unsigned int refs;
	struct scif_endpt *listener;
};

/**
 * struct scif_node - one SCIF node (a device node of this module)
 * @id: node id (0 for /dev/scif)
 * @port_lock: protects @ports and the &struct scif_port contents
 * @ports: port number -> &struct scif_port
 * @port_next: where automatic port assignment continues
 * @cdev: the character device
 * @dev: the device in the scif class
 */
struct scif_node {
	u16 id;
	struct mutex port_lock;
	struct xarray ports;
	u32 port_next;
	struct cdev cdev;
	struct device *dev;
};

/* What a ring is to this kernel (&struct scif_ring.kind). */
enum scif_ring_kind {
	SCIF_RING_LOCAL,	/* both ends in this kernel */
	SCIF_RING_LINK_RX,	/* our receive ring in our RAM; the peer writes */
	SCIF_RING_LINK_TX,	/* the peer's receive ring, through the aperture */
};

/**
 * struct scif_ring - single-producer single-consumer byte ring
 * @buf: storage, @size bytes: allocated on first use (kvmalloc) for a local
 *	ring; our RAM (LINK_RX) or the aperture (LINK_TX) for link rings
 * @size: power of two
 * @kind: &enum scif_ring_kind
 * @head: bytes ever produced (written by the producer only; for LINK_RX
 *	unused: the peer's head is read from @remote)
 * @tail: bytes ever consumed (written by the consumer only; for LINK_TX
 *	unused: the peer's tail is read from @remote)
 * @remote: link rings: the other side's index in shared memory (LINK_RX:
 *	head, LINK_TX: tail); untrusted, validated at each read
 * @publish: link rings: where our own index is published (LINK_RX: tail,
 *	LINK_TX: head)
 * @dead: LINK_TX: the connection's ->closed; nothing is written into the
 *	aperture once it is set (see scif_link_conn_quiesce())
 */
struct scif_ring {
	u8 *buf;
	u32 size;
	enum scif_ring_kind kind;
	u32 head ____cacheline_aligned_in_smp;
	u32 tail ____cacheline_aligned_in_smp;
	__le32 *remote;
	__le32 *publish;
	const bool *dead;
};

/* Connection states (conn->state, under conn->lock). */
enum scif_conn_state {
	SCIF_CONN_REQUESTED,	/* queued with a listener */
	SCIF_CONN_ESTABLISHED,	/* accepted */
	SCIF_CONN_REFUSED,	/* listener refused or went away */
	SCIF_CONN_CLOSED,	/* one side closed (or cancelled the request) */
};

/**
 * struct scif_conn - a connection between two endpoints
 * @ref: references (connector, listener queue, accepted side)
 * @lock: protects @state and @ep
 * @state: &enum scif_conn_state
 * @closed: set (release) once the connection is torn down; read locklessly
 * @ep: the endpoint of each side, RCU-protected, NULL once it closed (and for
 *	side 1 until ACCEPTREG)
 * @id: port id of each side
 * @link: entry in the listener's request queue
 * @ring: ring[s] carries the bytes sent by side s
 * @lc: the link half of a connection with another kernel (link_conn.c),
 *	else NULL; the peer's side has no endpoint here (ep[] is NULL there)
 * @lside: with @lc, the side this kernel holds
 */
struct scif_conn {
	struct kref ref;
	spinlock_t lock;
	enum scif_conn_state state;
	bool closed;
	struct scif_endpt __rcu *ep[2];
	struct scif_port_id id[2];
	struct list_head link;
	struct scif_ring ring[2];
	struct scif_link_conn *lc;
	int lside;
};

/* Endpoint states (ep->state, under ep->lock). */
enum scif_ep_state {
	SCIF_EP_UNBOUND,
	SCIF_EP_BOUND,
	SCIF_EP_LISTENING,
	SCIF_EP_CONNECTING,
	SCIF_EP_CONNECTED,	/* also "disconnected" once conn->closed */
	SCIF_EP_CONNFAILED,	/* non-blocking connect failed, not collected */
	SCIF_EP_CLOSING,	/* closed by flush/release */
};

/**
 * struct scif_endpt - an endpoint (one per open file)
 * @ref: references
 * @rcu: deferred free
 * @node: the node this endpoint lives on
 * @lock: protects the fields below up to @dconn
 * @wq: all waiters and pollers of this endpoint
 * @state: &enum scif_ep_state
 * @port: bound port, 0 if none
 * @owner: files_struct of the opener (compared only, never dereferenced)
 * @reqs: listener: queued connection requests (&struct scif_conn)
 * @nreq: listener: number of queued requests
 * @backlog: listener: queue limit
 * @pending: listener: accepted, unregistered connections
 * @conn: connector/accepted: the connection (a reference)
 * @side: index of this endpoint in @conn
 * @connect_lis: connecting: the listener the request was queued with (ref)
 * @connect_err: CONNFAILED: the result to report
 * @connect_async: a non-blocking connect's result was not collected yet
 * @dconn: @conn, published (release) once connected; data path reads it
 * @send_lock: serializes senders
 * @recv_lock: serializes receivers
 * @rma_lock: protects @windows and @rma_closed
 * @windows: registered windows, sorted by offset
 * @rma_closed: the endpoint closed: no new windows
 * @rma_slock: protects the fields below
 * @rma_seq: sequence number of the last RMA issued
 * @rma_reqs: RMAs in flight, ascending sequence
 * @rma_signals: fence signals waiting for RMAs of this endpoint
 * @rma_queued: RMAs of this endpoint queued to the channels
 * @rma_closing: the endpoint is closing: no new RMAs
 * @rma_cancelled: an asynchronous RMA failed or was cancelled
 * @rma_wq: fence waiters and the drain at close
 * @rma_queue: RMAs waiting for a channel (rma.c's scheduler lock)
 * @rma_sched: entry in the scheduler's round-robin list while @rma_queue
 *	is not empty (rma.c's scheduler lock)
 */
struct scif_endpt {
	struct kref ref;
	struct rcu_head rcu;
	struct scif_node *node;
	struct mutex lock;
	wait_queue_head_t wq;
	enum scif_ep_state state;
	u16 port;
	void *owner;
	struct list_head reqs;
	int nreq;
	int backlog;
	struct list_head pending;
	struct scif_conn *conn;
	int side;
	struct scif_endpt *connect_lis;
	int connect_err;
	bool connect_async;
	struct scif_conn *dconn;
	struct mutex send_lock;
	struct mutex recv_lock;
	struct mutex rma_lock;
	struct list_head windows;
	bool rma_closed;
	spinlock_t rma_slock;
	u64 rma_seq;
	struct list_head rma_reqs;
	struct list_head rma_signals;
	unsigned int rma_queued;
	bool rma_closing;
	bool rma_cancelled;
	wait_queue_head_t rma_wq;
	struct list_head rma_queue;
	struct list_head rma_sched;
};

/**
 * struct scif_window - a registered window (or a v* call's pinned buffer)
 * @ref: references (see the top of this file)
 * @link: entry in the endpoint's ->windows while registered
 * @offset: first byte in the registered address space (for a temporary
 *	window of a v* call: the page-aligned user address)
 * @nr_pages: number of pinned pages
 * @prot: SCIF_PROT_READ and/or SCIF_PROT_WRITE
 * @temp: a v* call's buffer (not counted in debugfs "windows")
 * @live: registered and visible: REG has delivered its offset.  Until then
 *	the window only reserves its offsets; lookups, UNREG and mmap do not
 *	see it (under the endpoint's rma_lock)
 * @pinned: @pages holds pinned pages (to unpin at release)
 * @charged: @nr_pages are charged (scif_pin_charge())
 * @user: the user the pages are charged to (referenced), or NULL
 * @pages: the pinned pages
 * @pa: a window of a peer in another kernel (link_rma.c): the physical
 *	address of each page in the peer's RAM (validated: inside our
 *	aperture onto the peer); @pages is NULL, nothing is pinned here
 * @lw: with a connection across the link: the window's link state
 *	(link_rma.c), else NULL
 */
struct scif_window {
	struct kref ref;
	struct list_head link;
	s64 offset;
	u64 nr_pages;
	int prot;
	bool temp;
	bool live;
	bool pinned;
	bool charged;
	struct user_struct *user;
	struct page **pages;
	u64 *pa;
	struct scif_link_win *lw;
};

/**
 * struct scif_range - a byte range over adjacent windows
 * @wins: the windows, in offset order, one reference each
 * @nwins: number of windows (0: the range is unused)
 * @off: first byte, relative to wins[0]->offset
 * @len: length in bytes
 * @busy: an RMA or fence signal holds the range: a peer's windows in it
 *	count it as in flight (link_rma.c)
 */
struct scif_range {
	struct scif_window **wins;
	unsigned int nwins;
	u64 off;
	u64 len;
	bool busy;
};

/**
 * struct scif_pending - an accepted connection not yet claimed by ACCEPTREG
 * @id: the id in scif_pending_ids
 * @tgid: the process that accepted it (only it may claim it; referenced,
 *	so a later process with the same pid is not it)
 * @node: node of the listener
 * @port: the listener's port (a port reference is held)
 * @conn: the connection (a reference), side 1
 * @link: entry in the listener's ->pending list
 */
struct scif_pending {
	u32 id;
	struct pid *tgid;
	struct scif_node *node;
	u16 port;
	struct scif_conn *conn;
	struct list_head link;
};

/* main.c */
extern unsigned int scif_nr_nodes;
extern struct scif_node *scif_nodes;
unsigned int scif_ring_bytes(void);

/* debugfs.c: counters shown under /sys/kernel/debug/scif/ */
struct scif_stats {
	atomic_t endpoints;
	atomic_t connections;
	atomic_t windows;
	atomic_t pinned_pages;
	atomic_t rma_inflight;
	atomic_t peer_windows;
};
extern struct scif_stats scif_stats;
void scif_debugfs_init(void);
void scif_debugfs_exit(void);

/* node.c */
int scif_nodes_init(unsigned int nr);
void scif_nodes_exit(void);
int scif_port_bind(struct scif_node *node, u16 *port);
void scif_port_get(struct scif_node *node, u16 port);
void scif_port_put(struct scif_node *node, u16 port);
int scif_port_set_listener(struct scif_node *node, u16 port,
			   struct scif_endpt *ep);
struct scif_endpt *scif_port_find_listener(struct scif_node *node, u16 port);

/* ring.c */
int scif_ring_prepare(struct scif_ring *r, u32 size);
void scif_ring_free(struct scif_ring *r);
u32 scif_ring_used(const struct scif_ring *r);
u32 scif_ring_space(const struct scif_ring *r);
long scif_ring_write(struct scif_ring *r, const char __user *src, u32 len,
		     bool *was_empty);
long scif_ring_read(struct scif_ring *r, char __user *dst, u32 len,
		    bool *was_full);

/* endpoint.c */
struct scif_endpt *scif_ep_alloc(struct scif_node *node);
void scif_ep_get(struct scif_endpt *ep);
void scif_ep_put(struct scif_endpt *ep);
void scif_ep_shutdown(struct scif_endpt *ep);
void scif_ep_release(struct scif_endpt *ep);
void scif_ep_resolve(struct scif_endpt *ep);
struct scif_conn *scif_ep_data_conn(struct scif_endpt *ep);
int scif_ep_live_conn(struct scif_endpt *ep, struct scif_conn **connp);
struct scif_conn *scif_conn_alloc(void);
void scif_conn_put(struct scif_conn *conn);
void scif_conn_disconnect(struct scif_conn *conn, int side);
void scif_conn_wake(struct scif_conn *conn, int side, __poll_t key);
__poll_t scif_ep_poll(struct scif_endpt *ep);

/* connect.c */
extern struct mutex scif_pending_lock;
int scif_bind(struct scif_endpt *ep, int __user *uport);
int scif_listen(struct scif_endpt *ep, int backlog);
int scif_connect(struct scif_endpt *ep, struct scifioctl_connect __user *arg,
		 bool nonblock);
bool scif_listener_queue(struct scif_endpt *lis, struct scif_conn *conn);
int scif_accept_req(struct scif_endpt *ep, struct scifioctl_accept __user *arg);
int scif_accept_reg(struct scif_endpt *ep, u64 __user *arg);
void scif_connect_cancel(struct scif_endpt *ep, struct scif_conn *expect);
void scif_listener_teardown(struct scif_endpt *ep);
void scif_pending_init(void);
void scif_pending_exit(void);

/* msg.c */
int scif_send(struct scif_endpt *ep, struct scifioctl_msg __user *arg);
int scif_recv(struct scif_endpt *ep, struct scifioctl_msg __user *arg);
int scif_get_nodeids(struct scif_endpt *ep,
		     struct scifioctl_node_ids __user *arg);

/* window.c, rma.c, fence.c, mmap.c: the RMA half */
#define SCIF_OFFSET_END		(1ULL << 62)	/* registered space: [0, END) */
#define SCIF_MAX_WINDOW		(1ULL << 36)	/* bytes per window */
#define SCIF_MAX_VLEN		(1ULL << 32)	/* bytes per v* call */

void scif_ep_rma_init(struct scif_endpt *ep);
void scif_windows_teardown(struct scif_endpt *ep);
struct scif_endpt *scif_ep_peer_get(struct scif_endpt *ep,
				    struct scif_conn *conn);
int scif_range_get(struct scif_endpt *ep, s64 off, u64 len, int prot,
		   struct scif_range *r);
int scif_range_get_in(struct list_head *windows, struct mutex *lock, s64 off,
		      u64 len, int prot, bool busy, struct scif_range *r);
struct scif_window *scif_window_alloc(void);
void scif_window_get(struct scif_window *w);
void scif_window_put(struct scif_window *w);
int scif_range_pin_user(unsigned long addr, u64 len, bool write,
			struct scif_range *r);
void scif_range_put(struct scif_range *r);
int scif_pin_charge(u64 nr_pages, struct user_struct **userp);
void scif_pin_uncharge(u64 nr_pages, struct user_struct *user);
int scif_pin_user(struct page **pages, u64 nr_pages, unsigned long start,
		  bool write, bool longterm);
int scif_rma_init(void);
void scif_rma_exit(void);
void scif_rma_quiesce(struct scif_endpt *ep);
void scif_rma_drain(struct scif_endpt *ep);
void scif_range_store(struct scif_range *r, const void *buf, size_t len);
u64 scif_rma_lowest(struct scif_endpt *ep);
bool scif_rma_done(struct scif_endpt *ep, u64 seq);
void scif_fence_collect(struct scif_endpt *ep, struct list_head *ready);
void scif_fence_fire(struct list_head *ready);
unsigned int scif_fence_collect_list(struct list_head *sigs, u64 lowest,
				     struct list_head *ready);
unsigned int scif_fence_discard(struct list_head *sigs);
int scif_fence_mark(struct scif_endpt *ep, int flags, s32 __user *mark);
int scif_ioctl_reg(struct scif_endpt *ep, struct scifioctl_reg __user *arg);
int scif_ioctl_unreg(struct scif_endpt *ep, struct scifioctl_unreg __user *arg);
int scif_ioctl_copy(struct scif_endpt *ep, unsigned int cmd,
		    struct scifioctl_copy __user *arg);
int scif_ioctl_fence_mark(struct scif_endpt *ep,
			  struct scifioctl_fence_mark __user *arg);
int scif_ioctl_fence_wait(struct scif_endpt *ep, int mark);
int scif_ioctl_fence_signal(struct scif_endpt *ep,
			    struct scifioctl_fence_signal __user *arg);
int scif_mmap(struct scif_endpt *ep, struct vm_area_struct *vma);
void scif_mmap_zap_node(u16 node);

/* fops.c */
extern const struct file_operations scif_fops;

/* link.c: nodes in other kernels, over ivshmem (scif_wire.h) */
int scif_link_init(void);
void scif_link_exit(void);
int scif_link_get_nodeids(struct scif_endpt *ep, struct scifioctl_node_ids *req,
			  struct scifioctl_node_ids __user *arg);
u16 scif_node_public_id(const struct scif_node *node);
int scif_link_target(u16 node);

/* link_conn.c: connections with nodes in other kernels */
struct scif_conn *scif_link_conn_alloc(u16 peer);
void scif_link_conn_start(struct scif_conn *conn);
int scif_link_conn_prepare(struct scif_conn *conn);
void scif_link_conn_granted(struct scif_conn *conn);
void scif_link_conn_closed(struct scif_conn *conn);
void scif_link_conn_notify(struct scif_conn *conn, __poll_t key);
void scif_link_conn_violation(struct scif_conn *conn, const char *why);
void scif_link_conn_free(struct scif_conn *conn);

/* link_rma.c: RMA with endpoints in other kernels */
int scif_link_win_export(struct scif_conn *conn, struct scif_window *w);
void scif_link_win_unexport(struct scif_window *w, bool wait);
void scif_link_win_release(struct scif_window *w);
void scif_link_win_busy(struct scif_window *w);
void scif_link_win_unbusy(struct scif_window *w);
int scif_link_range_get(struct scif_conn *conn, s64 off, u64 len, int prot,
			bool busy, struct scif_range *r);
void *scif_link_win_va(const struct scif_window *w, u64 pg);
unsigned long scif_link_win_pfn(const struct scif_window *w, u64 pg);
u16 scif_link_win_node(const struct scif_window *w);
void scif_link_rma_publish(struct scif_conn *conn, u64 issued, u64 lowest,
			   bool cancelled);
void scif_link_rma_progress(struct scif_conn *conn);
int scif_link_peer_issued(struct scif_conn *conn, u64 *issued);
bool scif_link_peer_done(struct scif_conn *conn, u64 seq);
bool scif_link_peer_cancelled(struct scif_conn *conn);
void scif_link_want(struct scif_conn *conn, int delta);
int scif_link_fence_queue(struct scif_conn *conn, struct list_head *link,
			  u64 *seq);

#endif /* _SCIF_PRIV_H */
