// SPDX-License-Identifier: GPL-2.0-only
/*
 * pin.c - pinning user pages for windows and v* calls, and its limits.
 *
 * Every page the module pins is charged before anything is allocated or
 * pinned for it, against two limits:
 *
 *  - the pinning user's RLIMIT_MEMLOCK, unless the caller has CAP_IPC_LOCK.
 *    The charge goes to the user (user_struct->locked_vm, shared with
 *    io_uring, BPF and perf), not to an mm: a window lives as long as its
 *    endpoint, and an endpoint outlives the process that registered the
 *    window across fork() and execve(), so a per-mm charge would let
 *    short-lived children pin without bound.  Windows (SCIF_REG) and the
 *    buffers of v* calls in flight are charged alike.
 *
 *  - max_pinned_pages, module-wide, for every caller.  It bounds how many
 *    times one page can be pinned (a buffer whose pages all alias one page
 *    pins that page once per page of the buffer), so that no pin count ever
 *    reaches GUP's overflow guard.
 *
 * Over either limit: -EAGAIN.
 *
 * Read-only windows are pinned for writing first, as Intel's drivers do:
 * a read-only long-term pin of memory the process has not written yet pins
 * the shared zero page (or the page cache page of a private file mapping),
 * and the process's later writes would land in other pages than the
 * window's.  A write pin breaks copy-on-write first, so the window holds
 * the process's own pages.  Only where a write pin is refused (a read-only
 * mapping) is the range pinned read-only.
 */
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>

#include "scif.h"

#define SCIF_PIN_BATCH	512	/* pages per pin_user_pages_fast() call */

static unsigned long max_pinned_pages = 1UL << 20;
module_param(max_pinned_pages, ulong, 0644);
MODULE_PARM_DESC(max_pinned_pages,
		 "pages the module may have pinned at once, all users together (default 1048576: 4 GiB)");

/**
 * scif_pin_charge() - charge @nr_pages pins to the caller
 * @nr_pages: pages to pin
 * @userp: set to the charged user (referenced), or NULL when the caller
 *	has CAP_IPC_LOCK; pass it to scif_pin_uncharge()
 *
 * Return: 0, or -EAGAIN (over RLIMIT_MEMLOCK or max_pinned_pages).
 */
int scif_pin_charge(u64 nr_pages, struct user_struct **userp)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long max = min_t(unsigned long, READ_ONCE(max_pinned_pages),
				  INT_MAX / 2);
	struct user_struct *user = NULL;

	*userp = NULL;
	if (nr_pages > max)
		return -EAGAIN;
	if ((unsigned int)atomic_add_return(nr_pages, &scif_stats.pinned_pages) > max)
		goto over;
	if (!capable(CAP_IPC_LOCK)) {
		user = get_uid(current_user());
		if (atomic_long_add_return(nr_pages, &user->locked_vm) > limit) {
			atomic_long_sub(nr_pages, &user->locked_vm);
			free_uid(user);
			goto over;
		}
	}
	*userp = user;
	return 0;
over:
	atomic_sub(nr_pages, &scif_stats.pinned_pages);
	return -EAGAIN;
}

/**
 * scif_pin_uncharge() - return a charge of scif_pin_charge()
 * @nr_pages: the pages charged
 * @user: the user it returned (may be NULL)
 */
void scif_pin_uncharge(u64 nr_pages, struct user_struct *user)
{
	if (user) {
		atomic_long_sub(nr_pages, &user->locked_vm);
		free_uid(user);
	}
	atomic_sub(nr_pages, &scif_stats.pinned_pages);
}

static int scif_pin_range(struct page **pages, u64 nr_pages,
			  unsigned long start, unsigned int gup)
{
	u64 done = 0;
	int n;

	while (done < nr_pages) {
		if (fatal_signal_pending(current)) {
			n = -EINTR;
			goto fail;
		}
		n = pin_user_pages_fast(start + (done << PAGE_SHIFT),
					min_t(u64, nr_pages - done,
					      SCIF_PIN_BATCH),
					gup, pages + done);
		if (n <= 0) {
			n = n ? n : -EFAULT;
			goto fail;
		}
		done += n;
		cond_resched();
	}
	return 0;
fail:
	if (done)
		unpin_user_pages(pages, done);
	return n;
}

/**
 * scif_pin_user() - pin user pages, all or nothing
 * @pages: where the pages go
 * @nr_pages: how many (already charged)
 * @start: page-aligned user address
 * @write: RMAs or mappings will write to the pages
 * @longterm: a window (FOLL_LONGTERM), not a v* call's buffer
 *
 * Return: 0, or -EFAULT, -ENOMEM, -EINTR (a fatal signal) and the other
 * errors of pin_user_pages_fast().
 */
int scif_pin_user(struct page **pages, u64 nr_pages, unsigned long start,
		  bool write, bool longterm)
{
	unsigned int gup = longterm ? FOLL_LONGTERM : 0;
	int ret;

	if (write || !longterm)
		return scif_pin_range(pages, nr_pages, start,
				      gup | (write ? FOLL_WRITE : 0));
	ret = scif_pin_range(pages, nr_pages, start, gup | FOLL_WRITE);
	if (ret == -EFAULT || ret == -EPERM)
		ret = scif_pin_range(pages, nr_pages, start, gup);
	return ret;
}
