// SPDX-License-Identifier: GPL-2.0-only
/*
 * main.c - module entry points and parameters of scif.ko.
 *
 * scif.ko provides the SCIF user ABI (<linux/scif_ioctl.h>) without MIC
 * hardware: every node of the platform lives in this kernel.  /dev/scif is
 * node 0 and /dev/scif1 .. /dev/scif<nodes-1> are the others.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/kernel.h>
#include <linux/log2.h>

#include "scif.h"

static unsigned int nodes = 2;
module_param(nodes, uint, 0444);
MODULE_PARM_DESC(nodes,
		 "number of SCIF nodes including node 0 (1..129, default 2)");

static unsigned int ring_kb = 1024;
module_param(ring_kb, uint, 0644);
MODULE_PARM_DESC(ring_kb,
		 "per-direction ring of new connections in KiB (4..65536, default 1024)");

/**
 * scif_ring_bytes() - ring size for a new connection
 *
 * Return: ring_kb clamped to 4 KiB..64 MiB and rounded up to a power of two,
 * in bytes.
 */
unsigned int scif_ring_bytes(void)
{
	unsigned int kb = clamp_t(unsigned int, READ_ONCE(ring_kb), 4, 65536);

	return roundup_pow_of_two(kb) * 1024;
}

static int __init scif_init(void)
{
	int ret;

	if (nodes < 1 || nodes > SCIF_MAX_NODES) {
		pr_err("nodes=%u is out of range 1..%d\n", nodes, SCIF_MAX_NODES);
		return -EINVAL;
	}
	ret = scif_rma_init();
	if (ret)
		return ret;
	scif_pending_init();
	scif_debugfs_init();
	ret = scif_nodes_init(nodes);
	if (ret) {
		scif_debugfs_exit();
		scif_pending_exit();
		scif_rma_exit();
		return ret;
	}
	ret = scif_link_init();
	if (ret) {
		scif_nodes_exit();
		scif_debugfs_exit();
		scif_pending_exit();
		scif_rma_exit();
		return ret;
	}
	return 0;
}

static void __exit scif_exit(void)
{
	scif_link_exit();
	scif_nodes_exit();
	scif_debugfs_exit();
	scif_pending_exit();
	scif_rma_exit();
	/* Endpoints are freed after an RCU grace period. */
	rcu_barrier();
}

module_init(scif_init);
module_exit(scif_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("SCIF (Symmetric Communication Interface) on a single kernel");
MODULE_VERSION("0.1.0");
