// SPDX-License-Identifier: GPL-2.0-only
/*
 * ring.c - the byte ring of one direction of a connection.
 *
 * One producer (the sending endpoint, its senders serialized by its
 * send_lock) and one consumer (the receiving endpoint, serialized by its
 * recv_lock).  head and tail are free-running u32 counters; the producer
 * publishes data with a release store of head, the consumer frees space with
 * a release store of tail.  User memory is copied straight into and out of
 * the ring, in at most two segments, with no lock held other than the
 * caller's mutex.
 *
 * The storage is allocated by the first write, so idle connections cost
 * little.  @buf is published before the first head update that covers it,
 * so a consumer that sees bytes also sees the buffer.
 *
 * Link rings (scif_wire.h, "Connections") are the two halves of a ring that
 * joins two kernels: the receiver (LINK_RX) reads its own RAM and the
 * sender's head from shared memory; the sender (LINK_TX) writes through the
 * aperture and reads the receiver's tail from shared memory.  Those indices
 * come from the other kernel: every read is validated, and a bad one makes
 * the call fail with -EPROTO (the caller drops the link).  The sender never
 * sleeps or faults while it writes into the aperture: it copies with page
 * faults disabled inside an RCU read-side section that first checks that
 * the connection is not closed, so that once a connection is closed and a
 * grace period has passed, nothing of ours lands in the peer's RAM.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/pagemap.h>
#include <linux/rcupdate.h>

#include "scif.h"

/* Longest copy into the aperture inside one RCU read-side section. */
#define SCIF_RING_TX_CHUNK	(128U << 10)

/**
 * scif_ring_prepare() - set the size of an unused local ring
 * @r: the ring (zeroed)
 * @size: power of two
 *
 * Return: 0.
 */
int scif_ring_prepare(struct scif_ring *r, u32 size)
{
	r->size = size;
	r->kind = SCIF_RING_LOCAL;
	r->head = 0;
	r->tail = 0;
	r->buf = NULL;
	return 0;
}

/**
 * scif_ring_free() - release the storage of a ring nobody uses any more
 * @r: the ring
 *
 * Link rings' storage belongs to link_conn.c.
 */
void scif_ring_free(struct scif_ring *r)
{
	if (r->kind == SCIF_RING_LOCAL)
		kvfree(r->buf);
	r->buf = NULL;
}

/* The consumer's view of head. */
static u32 scif_ring_load_head(const struct scif_ring *r)
{
	if (r->kind == SCIF_RING_LINK_RX)
		return le32_to_cpu(smp_load_acquire(r->remote));
	return smp_load_acquire(&r->head);
}

/* The producer's view of tail. */
static u32 scif_ring_load_tail(const struct scif_ring *r)
{
	if (r->kind == SCIF_RING_LINK_TX)
		return le32_to_cpu(smp_load_acquire(r->remote));
	return smp_load_acquire(&r->tail);
}

static void scif_ring_store_head(struct scif_ring *r, u32 head)
{
	smp_store_release(&r->head, head);
	if (r->kind == SCIF_RING_LINK_TX)
		smp_store_release(r->publish, cpu_to_le32(head));
}

static void scif_ring_store_tail(struct scif_ring *r, u32 tail)
{
	smp_store_release(&r->tail, tail);
	if (r->kind == SCIF_RING_LINK_RX)
		smp_store_release(r->publish, cpu_to_le32(tail));
}

/**
 * scif_ring_used() - bytes queued, as seen by the consumer
 * @r: the ring
 *
 * Return: the number of bytes that can be read (0 if the peer's index of a
 * link ring is invalid; the next read reports it).
 */
u32 scif_ring_used(const struct scif_ring *r)
{
	u32 used = scif_ring_load_head(r) - READ_ONCE(r->tail);

	return used <= r->size ? used : 0;
}

/**
 * scif_ring_space() - free bytes, as seen by the producer
 * @r: the ring
 *
 * Return: the number of bytes that can be written (0 if the peer's index
 * of a link ring is invalid; the next write reports it).
 */
u32 scif_ring_space(const struct scif_ring *r)
{
	u32 used;

	if (r->kind != SCIF_RING_LOCAL && !smp_load_acquire(&r->buf))
		return 0;	/* a link ring not described yet */
	used = READ_ONCE(r->head) - scif_ring_load_tail(r);
	return used <= r->size ? r->size - used : 0;
}

/*
 * Copy into the aperture: no sleeping, no faulting, and only while the
 * connection is open.  Return: bytes copied (may be short when @src faults),
 * or -ECONNRESET.
 */
static long scif_ring_tx_copy(struct scif_ring *r, u32 off,
			      const char __user *src, u32 n)
{
	unsigned long left;

	rcu_read_lock();
	if (READ_ONCE(*r->dead)) {
		rcu_read_unlock();
		return -ECONNRESET;
	}
	pagefault_disable();
	left = __copy_from_user_inatomic(r->buf + off, src, n);
	pagefault_enable();
	rcu_read_unlock();
	return n - left;
}

static long scif_ring_write_link(struct scif_ring *r, const char __user *src,
				 u32 len, bool *was_empty)
{
	u32 head = r->head, used, n, off, done = 0;
	long c;

	if (!smp_load_acquire(&r->buf))
		return 0;
	used = head - scif_ring_load_tail(r);
	if (used > r->size)
		return -EPROTO;
	n = min3(len, r->size - used, SCIF_RING_TX_CHUNK);
	if (!n)
		return 0;
	while (done < n) {
		off = (head + done) & (r->size - 1);
		c = min(n - done, r->size - off);
		c = scif_ring_tx_copy(r, off, src + done, c);
		if (c < 0)
			return done ? done : c;
		if (c) {
			done += c;
			continue;
		}
		/* the source faulted: fault it in, outside RCU, and retry */
		if (fault_in_readable(src + done, min(n - done, r->size - off)) ==
		    min(n - done, r->size - off)) {
			if (!done)
				return -EFAULT;
			break;
		}
	}
	/* publish inside RCU too: never after a close and its grace period */
	rcu_read_lock();
	if (READ_ONCE(*r->dead)) {
		rcu_read_unlock();
		return -ECONNRESET;
	}
	scif_ring_store_head(r, head + done);
	rcu_read_unlock();
	smp_mb();
	*was_empty = scif_ring_load_tail(r) == head;
	return done;
}

/**
 * scif_ring_write() - copy user bytes into the ring (producer side)
 * @r: the ring
 * @src: user buffer
 * @len: at most this many bytes
 * @was_empty: set when the consumer had drained everything before this
 *	write, i.e. it may be waiting and must be woken
 *
 * Return: bytes written (0 if the ring is full), -EFAULT if nothing could
 * be copied because of a bad address, -ENOMEM, and for a link ring
 * -ECONNRESET (closed meanwhile) or -EPROTO (the peer's index is invalid).
 */
long scif_ring_write(struct scif_ring *r, const char __user *src, u32 len,
		     bool *was_empty)
{
	u32 head = r->head, space, n, off, first, left;

	*was_empty = false;
	if (r->kind == SCIF_RING_LINK_TX)
		return scif_ring_write_link(r, src, len, was_empty);
	space = scif_ring_space(r);
	n = min(len, space);
	if (!n)
		return 0;
	if (!r->buf) {
		u8 *buf = kvmalloc(r->size, GFP_KERNEL_ACCOUNT);

		if (!buf)
			return -ENOMEM;
		/* Published by the release store of head below. */
		r->buf = buf;
	}
	off = head & (r->size - 1);
	first = min(n, r->size - off);
	left = copy_from_user(r->buf + off, src, first);
	if (left) {
		n = first - left;
	} else if (n > first) {
		left = copy_from_user(r->buf, src + first, n - first);
		n -= left;
	}
	if (!n)
		return -EFAULT;
	scif_ring_store_head(r, head + n);
	/* Pairs with the barrier in scif_ring_read(): see who must wake. */
	smp_mb();
	*was_empty = scif_ring_load_tail(r) == head;
	return n;
}

/**
 * scif_ring_read() - copy queued bytes to user memory (consumer side)
 * @r: the ring
 * @dst: user buffer
 * @len: at most this many bytes
 * @was_full: set when the ring was full before this read, i.e. the producer
 *	may be waiting for space and must be woken
 *
 * Return: bytes read (0 if the ring is empty), -EFAULT if nothing could be
 * copied because of a bad address, -EPROTO (a link ring's head is invalid).
 */
long scif_ring_read(struct scif_ring *r, char __user *dst, u32 len,
		    bool *was_full)
{
	u32 tail = r->tail, used, n, off, first, left;

	*was_full = false;
	used = scif_ring_load_head(r) - tail;
	if (used > r->size)
		return -EPROTO;
	n = min(len, used);
	if (!n)
		return 0;
	off = tail & (r->size - 1);
	first = min(n, r->size - off);
	left = copy_to_user(dst, r->buf + off, first);
	if (left) {
		n = first - left;
	} else if (n > first) {
		left = copy_to_user(dst + first, r->buf, n - first);
		n -= left;
	}
	if (!n)
		return -EFAULT;
	scif_ring_store_tail(r, tail + n);
	smp_mb();
	*was_full = scif_ring_load_head(r) - tail == r->size;
	return n;
}
