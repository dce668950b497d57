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
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "scif.h"

/**
 * scif_ring_prepare() - set the size of an unused ring
 * @r: the ring (zeroed)
 * @size: power of two
 *
 * Return: 0.
 */
int scif_ring_prepare(struct scif_ring *r, u32 size)
{
	r->size = size;
	r->head = 0;
	r->tail = 0;
	r->buf = NULL;
	return 0;
}

/**
 * scif_ring_free() - release the storage of a ring nobody uses any more
 * @r: the ring
 */
void scif_ring_free(struct scif_ring *r)
{
	kvfree(r->buf);
	r->buf = NULL;
}

/**
 * scif_ring_used() - bytes queued, as seen by the consumer
 * @r: the ring
 *
 * Return: the number of bytes that can be read.
 */
u32 scif_ring_used(const struct scif_ring *r)
{
	return smp_load_acquire(&r->head) - READ_ONCE(r->tail);
}

/**
 * scif_ring_space() - free bytes, as seen by the producer
 * @r: the ring
 *
 * Return: the number of bytes that can be written.
 */
u32 scif_ring_space(const struct scif_ring *r)
{
	return r->size - (READ_ONCE(r->head) - smp_load_acquire(&r->tail));
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
 * be copied because of a bad address, -ENOMEM.
 */
long scif_ring_write(struct scif_ring *r, const char __user *src, u32 len,
		     bool *was_empty)
{
	u32 head = r->head, space, n, off, first, left;

	*was_empty = false;
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
	smp_store_release(&r->head, head + n);
	/* Pairs with the barrier in scif_ring_read(): see who must wake. */
	smp_mb();
	*was_empty = READ_ONCE(r->tail) == head;
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
 * Return: bytes read (0 if the ring is empty), or -EFAULT if nothing could
 * be copied because of a bad address.
 */
long scif_ring_read(struct scif_ring *r, char __user *dst, u32 len,
		    bool *was_full)
{
	u32 tail = r->tail, used, n, off, first, left;

	*was_full = false;
	used = scif_ring_used(r);
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
	smp_store_release(&r->tail, tail + n);
	smp_mb();
	*was_full = READ_ONCE(r->head) - tail == r->size;
	return n;
}
