// SPDX-License-Identifier: GPL-2.0-only
/*
 * debugfs.c - leak counters under /sys/kernel/debug/scif/.
 *
 * Each file prints one decimal number and a newline, so tests can prove that
 * closing every endpoint releases everything.  Only numbers are shown, never
 * addresses.
 */
#include <linux/debugfs.h>

#include "scif.h"

struct scif_stats scif_stats;

static struct dentry *scif_dbg_dir;

/**
 * scif_debugfs_init() - create the counter files
 *
 * Failure to create debugfs entries is not fatal (debugfs may be disabled).
 */
void scif_debugfs_init(void)
{
	struct dentry *d = debugfs_create_dir("scif", NULL);

	if (IS_ERR_OR_NULL(d))
		return;
	scif_dbg_dir = d;
	debugfs_create_atomic_t("endpoints", 0444, d, &scif_stats.endpoints);
	debugfs_create_atomic_t("connections", 0444, d, &scif_stats.connections);
	debugfs_create_atomic_t("windows", 0444, d, &scif_stats.windows);
	debugfs_create_atomic_t("pinned_pages", 0444, d, &scif_stats.pinned_pages);
	debugfs_create_atomic_t("rma_inflight", 0444, d, &scif_stats.rma_inflight);
	debugfs_create_atomic_t("peer_windows", 0444, d, &scif_stats.peer_windows);
	debugfs_create_u32("nodes", 0444, d, &scif_nr_nodes);
}

/**
 * scif_debugfs_exit() - remove the counter files
 */
void scif_debugfs_exit(void)
{
	debugfs_remove_recursive(scif_dbg_dir);
	scif_dbg_dir = NULL;
}
