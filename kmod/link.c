// SPDX-License-Identifier: GPL-2.0-only
/*
 * link.c - SCIF nodes in other kernels, over qemu's ivshmem devices.
 *
 * A PCI driver for ivshmem (1af4:1110).  It claims two kinds of device and
 * leaves every other ivshmem device alone:
 *  - the control device: an ivshmem-doorbell (MSI-X) whose BAR2 holds a
 *    control region written by our fabric (kmod/scif_wire.h, checked by its
 *    signature and validated whole).  It makes this kernel node
 *    node[i] with node[i].doorbell_id == IVPosition;
 *  - aperture devices: the ivshmem-plain devices at the PCI addresses the
 *    node table gives as the apertures of the other nodes.
 *
 * Messages go through the per-pair queues of the control region; a doorbell
 * (MSI-X vector SCIF_WIRE_VEC_MSG) schedules scif_link_work(), which rescans
 * the node table and drains the inbound queues.  Nothing polls.
 *
 * Everything in the region is untrusted: the geometry is validated once at
 * attach and kept in private fields; indices are checked against private
 * copies; a message is copied out before it is parsed.  A peer that breaks
 * the rules is marked down and ignored until its incarnation changes.
 *
 * Locking: scif_link_mutex protects scif_link and everything in it (peers,
 * queue indices, apertures).  The set of nodes that are up is also kept in
 * scif_link_up (bit operations) for lockless readers.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/pci.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/uaccess.h>
#include <linux/debugfs.h>

#include "scif.h"
#include "scif_wire.h"

#define IVSHMEM_VENDOR		0x1af4
#define IVSHMEM_DEVICE		0x1110
#define IVSHMEM_REG_IVPOSITION	8
#define IVSHMEM_REG_DOORBELL	12

/**
 * struct scif_link_peer - what this node knows of another node
 * @present: the fabric lists the node as PRESENT
 * @up: NODE_UP received for the current incarnation (also in scif_link_up)
 * @broken: the peer broke the protocol; ignored until a new incarnation
 * @incarnation: the node's fabric incarnation we last saw
 * @doorbell_id: its ivshmem peer id
 * @aperture_pci: (bus << 8) | devfn of its RAM aperture, or NO_APERTURE
 * @aperture_bytes: size of its RAM, from the node table
 * @rx_tail: private consumer index of queue[peer][self]
 * @tx_head: private producer index of queue[self][peer]
 * @aperture: the claimed aperture device, or NULL
 */
struct scif_link_peer {
	bool present;
	bool up;
	bool broken;
	u32 incarnation;
	u16 doorbell_id;
	u32 aperture_pci;
	u64 aperture_bytes;
	u32 rx_tail;
	u32 tx_head;
	struct pci_dev *aperture;
};

/**
 * struct scif_link - the attached control device
 * @pdev: the ivshmem-doorbell device
 * @regs: BAR0 (registers)
 * @shm: BAR2 (the control region)
 * @self: this node's id
 * @incarnation: this node's incarnation
 * @max_nodes: validated geometry of the region ...
 * @queue_off: ...
 * @queue_stride: ...
 * @queue_slots: ...
 * @work: processes doorbells
 * @attach_work: binds aperture devices that probed before the link
 * @stopping: the link is being removed: no new work
 * @peer: per node id
 */
struct scif_link {
	struct pci_dev *pdev;
	void __iomem *regs;
	void __iomem *shm;
	u16 self;
	u32 incarnation;
	u32 max_nodes;
	u32 queue_off;
	u32 queue_stride;
	u32 queue_slots;
	struct work_struct work;
	struct work_struct attach_work;
	bool stopping;
	struct scif_link_peer peer[SCIF_WIRE_MAX_NODES];
};

static DEFINE_MUTEX(scif_link_mutex);
static struct scif_link *scif_link;
static unsigned long scif_link_up;	/* bit n: node n is up */
static int scif_link_self = -1;		/* this node's id, -1 without a link */
static atomic_t scif_link_irqs;		/* doorbell interrupts (debugfs scif/link/) */
static atomic_t scif_link_works;	/* scif_link_work() runs */
static struct dentry *scif_link_dbg;

#define NODE_OFF(n, field) \
	(offsetof(struct scif_wire_hdr, node) + \
	 (n) * sizeof(struct scif_wire_node) + \
	 offsetof(struct scif_wire_node, field))

static void __iomem *scif_link_queue(struct scif_link *l, u32 src, u32 dst)
{
	return l->shm + l->queue_off + (src * l->max_nodes + dst) * l->queue_stride;
}

static void scif_link_set_down(struct scif_link *l, u32 n, const char *why)
{
	struct scif_link_peer *p = &l->peer[n];

	if (p->up)
		pr_info("node %u is down (%s)\n", n, why);
	p->up = false;
	clear_bit(n, &scif_link_up);
}

static void scif_link_break(struct scif_link *l, u32 n, const char *why)
{
	pr_warn("node %u broke the link protocol (%s): link dropped\n", n, why);
	scif_link_set_down(l, n, "protocol error");
	l->peer[n].broken = true;
}

/**
 * scif_link_send() - queue one message to node @n and ring its doorbell
 * @l: the link
 * @n: destination node (present, not broken)
 * @type: &enum scif_wire_msg_type
 * @flags: SCIF_WIRE_F_*
 *
 * Context: scif_link_mutex held.
 * Return: 0, -EAGAIN if the queue is full, -EPROTO if the peer broke it.
 */
static int scif_link_send(struct scif_link *l, u32 n, u16 type, u16 flags)
{
	struct scif_link_peer *p = &l->peer[n];
	void __iomem *q = scif_link_queue(l, l->self, n);
	struct scif_wire_msg m = {
		.type = cpu_to_le16(type),
		.flags = cpu_to_le16(flags),
		.src = cpu_to_le16(l->self),
		.dst = cpu_to_le16(n),
		.src_incarnation = cpu_to_le32(l->incarnation),
	};
	u32 tail, used;

	tail = ioread32(q + offsetof(struct scif_wire_queue, tail));
	used = p->tx_head - tail;
	if (used > l->queue_slots) {
		scif_link_break(l, n, "bad tail");
		return -EPROTO;
	}
	if (used == l->queue_slots)
		return -EAGAIN;
	memcpy_toio(q + SCIF_WIRE_QUEUE_SLOT_OFF +
		    (p->tx_head & (l->queue_slots - 1)) * sizeof(m), &m, sizeof(m));
	wmb();	/* the message before the index */
	p->tx_head++;
	iowrite32(p->tx_head, q + offsetof(struct scif_wire_queue, head));
	wmb();	/* the index before the doorbell */
	iowrite32((u32)p->doorbell_id << 16 | SCIF_WIRE_VEC_MSG,
		  l->regs + IVSHMEM_REG_DOORBELL);
	return 0;
}

static void scif_link_handle(struct scif_link *l, u32 n,
			     const struct scif_wire_msg *m)
{
	struct scif_link_peer *p = &l->peer[n];
	u16 type = le16_to_cpu(m->type);

	if (le16_to_cpu(m->src) != n || le16_to_cpu(m->dst) != l->self) {
		scif_link_break(l, n, "bad src/dst");
		return;
	}
	if (le32_to_cpu(m->src_incarnation) != p->incarnation)
		return;		/* stale: from an earlier incarnation */
	switch (type) {
	case SCIF_WIRE_MSG_NODE_UP:
		if (!p->up)
			pr_info("node %u is up\n", n);
		p->up = true;
		set_bit(n, &scif_link_up);
		if (le16_to_cpu(m->flags) & SCIF_WIRE_F_WANT_REPLY)
			scif_link_send(l, n, SCIF_WIRE_MSG_NODE_UP, 0);
		break;
	case SCIF_WIRE_MSG_NODE_DOWN:
		scif_link_set_down(l, n, "it said goodbye");
		break;
	case SCIF_WIRE_MSG_CONNECT_REQ ... SCIF_WIRE_MSG_RING_DESC:
		break;		/* not implemented yet: ignored */
	default:
		scif_link_break(l, n, "unknown message type");
		break;
	}
}

/* Drain queue[n][self]. */
static void scif_link_drain(struct scif_link *l, u32 n)
{
	struct scif_link_peer *p = &l->peer[n];
	void __iomem *q = scif_link_queue(l, n, l->self);
	struct scif_wire_msg m;
	u32 head;

	head = ioread32(q + offsetof(struct scif_wire_queue, head));
	if (head - p->rx_tail > l->queue_slots) {
		scif_link_break(l, n, "bad head");
		return;
	}
	rmb();	/* the index before the messages */
	while (p->rx_tail != head && !p->broken && p->present) {
		memcpy_fromio(&m, q + SCIF_WIRE_QUEUE_SLOT_OFF +
			      (p->rx_tail & (l->queue_slots - 1)) * sizeof(m),
			      sizeof(m));
		p->rx_tail++;
		scif_link_handle(l, n, &m);
	}
	mb();	/* the messages read before the slots are released */
	iowrite32(p->rx_tail, q + offsetof(struct scif_wire_queue, tail));
}

/* Rescan node @n's table entry. */
static void scif_link_scan(struct scif_link *l, u32 n)
{
	struct scif_link_peer *p = &l->peer[n];
	u32 state = ioread32(l->shm + NODE_OFF(n, fabric_state));
	u32 inc = ioread32(l->shm + NODE_OFF(n, incarnation));

	if (inc != p->incarnation) {
		/* a new qemu: the fabric zeroed the queues (scif_wire.h) */
		scif_link_set_down(l, n, "restarted");
		p->incarnation = inc;
		rmb();	/* the fabric writes the new peer id before the incarnation */
		p->doorbell_id = ioread16(l->shm + NODE_OFF(n, doorbell_id));
		p->rx_tail = 0;
		p->tx_head = 0;
		p->broken = false;
	}
	p->present = state == SCIF_WIRE_NODE_PRESENT;
	if (!p->present)
		scif_link_set_down(l, n, "left the fabric");
}

static void scif_link_work(struct work_struct *work)
{
	struct scif_link *l = container_of(work, struct scif_link, work);
	u32 n;

	atomic_inc(&scif_link_works);
	mutex_lock(&scif_link_mutex);
	for (n = 0; n < l->max_nodes; n++) {
		if (n == l->self)
			continue;
		scif_link_scan(l, n);
		if (l->peer[n].present && !l->peer[n].broken && !l->stopping)
			scif_link_drain(l, n);
	}
	mutex_unlock(&scif_link_mutex);
}

static irqreturn_t scif_link_irq(int irq, void *data)
{
	struct scif_link *l = data;

	atomic_inc(&scif_link_irqs);
	if (!READ_ONCE(l->stopping))
		queue_work(system_wq, &l->work);
	return IRQ_HANDLED;
}

/* Bind the aperture devices of the node table that probed before us. */
static void scif_link_attach_work(struct work_struct *work)
{
	struct scif_link *l = container_of(work, struct scif_link, attach_work);
	struct pci_dev *dev;
	u32 n, pci;
	int ret;

	for (n = 0; n < l->max_nodes; n++) {
		pci = l->peer[n].aperture_pci;
		if (n == l->self || pci == SCIF_WIRE_NO_APERTURE)
			continue;
		dev = pci_get_domain_bus_and_slot(0, pci >> 8, pci & 0xff);
		if (!dev)
			continue;
		if (!dev->dev.driver) {
			ret = device_attach(&dev->dev);
			if (ret < 0)
				pci_warn(dev, "aperture of node %u: attach failed (%d)\n",
					 n, ret);
		}
		pci_dev_put(dev);
	}
}

/* Validate the region header; fill @l's geometry.  0 or -EINVAL. */
static int scif_link_validate(struct pci_dev *pdev, struct scif_link *l)
{
	resource_size_t bar = pci_resource_len(pdev, 2);
	u32 region, off, stride, slots, max, n;
	u64 end;

	if (ioread16(l->shm + offsetof(struct scif_wire_hdr, version)) !=
	    SCIF_WIRE_VERSION) {
		pci_err(pdev, "control region: unsupported version\n");
		return -EINVAL;
	}
	max = ioread16(l->shm + offsetof(struct scif_wire_hdr, max_nodes));
	region = ioread32(l->shm + offsetof(struct scif_wire_hdr, region_bytes));
	off = ioread32(l->shm + offsetof(struct scif_wire_hdr, queue_off));
	stride = ioread32(l->shm + offsetof(struct scif_wire_hdr, queue_stride));
	slots = ioread32(l->shm + offsetof(struct scif_wire_hdr, queue_slots));
	end = (u64)off + (u64)stride * max * max;
	if (max < 1 || max > SCIF_WIRE_MAX_NODES || region > bar ||
	    off < sizeof(struct scif_wire_hdr) || !is_power_of_2(slots) ||
	    (u64)SCIF_WIRE_QUEUE_SLOT_OFF + (u64)slots * sizeof(struct scif_wire_msg) > stride ||
	    end > region || !IS_ALIGNED(off, 64) || !IS_ALIGNED(stride, 64)) {
		pci_err(pdev, "control region: bad geometry\n");
		return -EINVAL;
	}
	l->max_nodes = max;
	l->queue_off = off;
	l->queue_stride = stride;
	l->queue_slots = slots;
	for (n = 0; n < max; n++) {
		if (ioread16(l->shm + NODE_OFF(n, node_id)) != n) {
			pci_err(pdev, "control region: node %u has a bad id\n", n);
			return -EINVAL;
		}
		l->peer[n].doorbell_id = ioread16(l->shm + NODE_OFF(n, doorbell_id));
		l->peer[n].aperture_pci = ioread32(l->shm + NODE_OFF(n, aperture_pci));
		l->peer[n].aperture_bytes = ioread32(l->shm + NODE_OFF(n, aperture_bytes)) |
			(u64)ioread32(l->shm + NODE_OFF(n, aperture_bytes) + 4) << 32;
	}
	return 0;
}

static int scif_link_probe_control(struct pci_dev *pdev)
{
	struct scif_link *l;
	u32 ivpos, n;
	int ret;

	l = devm_kzalloc(&pdev->dev, sizeof(*l), GFP_KERNEL);
	if (!l)
		return -ENOMEM;
	l->pdev = pdev;
	l->regs = pcim_iomap(pdev, 0, 0);
	l->shm = pcim_iomap(pdev, 2, 0);
	if (!l->regs || !l->shm)
		return -ENOMEM;
	INIT_WORK(&l->work, scif_link_work);
	INIT_WORK(&l->attach_work, scif_link_attach_work);
	ret = scif_link_validate(pdev, l);
	if (ret)
		return ret;
	ivpos = ioread32(l->regs + IVSHMEM_REG_IVPOSITION);
	for (n = 0; n < l->max_nodes; n++)
		if (l->peer[n].doorbell_id == ivpos)
			break;
	if (n == l->max_nodes ||
	    ioread32(l->shm + NODE_OFF(n, fabric_state)) != SCIF_WIRE_NODE_PRESENT) {
		pci_err(pdev, "control region: no present node has doorbell id %u\n",
			ivpos);
		return -EINVAL;
	}
	l->self = n;
	l->incarnation = ioread32(l->shm + NODE_OFF(n, incarnation));

	/* MSI-X messages are the device's memory writes: bus mastering on */
	pci_set_master(pdev);
	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSIX);
	if (ret < 0) {
		pci_err(pdev, "no MSI-X vector (%d)\n", ret);
		return ret;
	}
	mutex_lock(&scif_link_mutex);
	if (scif_link) {
		mutex_unlock(&scif_link_mutex);
		pci_err(pdev, "a SCIF link is already attached\n");
		pci_free_irq_vectors(pdev);
		return -EBUSY;
	}
	/*
	 * Resume the indices from shared memory: zero after the fabric's
	 * reset, or where this node's previous module left them.
	 */
	for (n = 0; n < l->max_nodes; n++) {
		struct scif_link_peer *p = &l->peer[n];

		if (n == l->self)
			continue;
		p->incarnation = ioread32(l->shm + NODE_OFF(n, incarnation));
		p->present = ioread32(l->shm + NODE_OFF(n, fabric_state)) ==
			     SCIF_WIRE_NODE_PRESENT;
		p->tx_head = ioread32(scif_link_queue(l, l->self, n) +
				      offsetof(struct scif_wire_queue, head));
		p->rx_tail = ioread32(scif_link_queue(l, n, l->self) +
				      offsetof(struct scif_wire_queue, tail));
	}
	ret = request_irq(pci_irq_vector(pdev, SCIF_WIRE_VEC_MSG), scif_link_irq,
			  0, "scif-link", l);
	if (ret) {
		mutex_unlock(&scif_link_mutex);
		pci_free_irq_vectors(pdev);
		return ret;
	}
	iowrite32(l->incarnation, l->shm + NODE_OFF(l->self, kmod_incarnation));
	iowrite32(SCIF_WIRE_KMOD_UP, l->shm + NODE_OFF(l->self, kmod_state));
	for (n = 0; n < l->max_nodes; n++)
		if (n != l->self && l->peer[n].present)
			scif_link_send(l, n, SCIF_WIRE_MSG_NODE_UP,
				       SCIF_WIRE_F_WANT_REPLY);
	scif_link = l;
	WRITE_ONCE(scif_link_self, l->self);
	pci_set_drvdata(pdev, l);
	mutex_unlock(&scif_link_mutex);

	pci_info(pdev, "SCIF link: this is node %u (incarnation %u)\n",
		 l->self, l->incarnation);
	queue_work(system_wq, &l->work);
	queue_work(system_wq, &l->attach_work);
	/* our own doorbell once: proves the interrupt path (debugfs link/irqs) */
	iowrite32((u32)l->peer[l->self].doorbell_id << 16 | SCIF_WIRE_VEC_MSG,
		  l->regs + IVSHMEM_REG_DOORBELL);
	return 0;
}

static void scif_link_remove_control(struct pci_dev *pdev, struct scif_link *l)
{
	u32 n;

	mutex_lock(&scif_link_mutex);
	WRITE_ONCE(l->stopping, true);
	for (n = 0; n < l->max_nodes; n++) {
		if (n != l->self && l->peer[n].present && !l->peer[n].broken)
			scif_link_send(l, n, SCIF_WIRE_MSG_NODE_DOWN, 0);
		scif_link_set_down(l, n, "link removed");
		if (l->peer[n].aperture)
			l->peer[n].aperture = NULL;
	}
	iowrite32(SCIF_WIRE_KMOD_DOWN, l->shm + NODE_OFF(l->self, kmod_state));
	scif_link = NULL;
	WRITE_ONCE(scif_link_self, -1);
	mutex_unlock(&scif_link_mutex);

	free_irq(pci_irq_vector(pdev, SCIF_WIRE_VEC_MSG), l);
	cancel_work_sync(&l->work);
	cancel_work_sync(&l->attach_work);
	pci_free_irq_vectors(pdev);
	pci_info(pdev, "SCIF link: detached\n");
}

/* An aperture device: claimed if the node table names its address. */
static int scif_link_probe_aperture(struct pci_dev *pdev)
{
	u32 addr = (u32)pdev->bus->number << 8 | pdev->devfn;
	struct scif_link *l;
	int ret = -ENODEV;
	u32 n;

	if (pci_domain_nr(pdev->bus) != 0)
		return -ENODEV;
	mutex_lock(&scif_link_mutex);
	l = scif_link;
	for (n = 0; l && n < l->max_nodes; n++) {
		struct scif_link_peer *p = &l->peer[n];

		if (n == l->self || p->aperture_pci != addr || p->aperture)
			continue;
		if (pci_resource_len(pdev, 2) < p->aperture_bytes) {
			pci_err(pdev, "aperture of node %u is smaller than the node table says\n",
				n);
			ret = -EINVAL;
			break;
		}
		p->aperture = pdev;
		pci_info(pdev, "SCIF link: RAM aperture of node %u (%llu MiB)\n",
			 n, (unsigned long long)(p->aperture_bytes >> 20));
		ret = 0;
		break;
	}
	mutex_unlock(&scif_link_mutex);
	return ret;
}

static int scif_link_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	void __iomem *bar2;
	u64 magic;
	int ret;

	if (pci_resource_len(pdev, 2) < sizeof(struct scif_wire_hdr))
		return -ENODEV;
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	/* only an ivshmem-doorbell (MSI-X) can be the control device */
	if (pdev->msix_cap) {
		bar2 = pci_iomap_range(pdev, 2, 0, PAGE_SIZE);
		if (!bar2)
			return -ENOMEM;
		magic = ioread32(bar2) | (u64)ioread32(bar2 + 4) << 32;
		pci_iounmap(pdev, bar2);
		if (magic == SCIF_WIRE_MAGIC)
			return scif_link_probe_control(pdev);
		pci_dbg(pdev, "not a SCIF control region\n");
	}
	return scif_link_probe_aperture(pdev);
}

static void scif_link_remove(struct pci_dev *pdev)
{
	void *data = pci_get_drvdata(pdev);

	mutex_lock(&scif_link_mutex);
	if (scif_link && data == scif_link) {
		mutex_unlock(&scif_link_mutex);
		scif_link_remove_control(pdev, data);
		return;
	}
	/* an aperture: its drvdata may point into a link already removed */
	if (scif_link) {
		u32 n;

		for (n = 0; n < scif_link->max_nodes; n++)
			if (scif_link->peer[n].aperture == pdev)
				scif_link->peer[n].aperture = NULL;
	}
	mutex_unlock(&scif_link_mutex);
}

static const struct pci_device_id scif_link_ids[] = {
	{ PCI_DEVICE(IVSHMEM_VENDOR, IVSHMEM_DEVICE) },
	{ }
};

static struct pci_driver scif_link_driver = {
	.name = "scif-link",
	.id_table = scif_link_ids,
	.probe = scif_link_probe,
	.remove = scif_link_remove,
};

/**
 * scif_link_get_nodeids() - SCIF_GET_NODEIDS when a link is attached
 * @ep: the endpoint
 * @req: the request, copied in
 * @arg: the user's &struct scifioctl_node_ids
 *
 * This kernel is the fabric's node (its virtual node 0 reports that id) and
 * the nodes that are up follow it, in id order.
 *
 * Return: -ENOENT without a link (the caller handles the local nodes), else
 * 0 or -EFAULT.
 */
int scif_link_get_nodeids(struct scif_endpt *ep, struct scifioctl_node_ids *req,
			  struct scifioctl_node_ids __user *arg)
{
	u16 __user *nodes = u64_to_user_ptr(req->nodes);
	int self = READ_ONCE(scif_link_self);
	unsigned long up = READ_ONCE(scif_link_up);
	u32 i = 0, total = 1, n;
	u16 me;

	if (self < 0)
		return -ENOENT;
	me = ep->node->id ? ep->node->id : self;
	if (req->len > 0 && put_user((u16)self, nodes))
		return -EFAULT;
	i = req->len > 0;
	for (n = 0; n < SCIF_WIRE_MAX_NODES; n++) {
		if (n == self || !test_bit(n, &up))
			continue;
		total++;
		if (i < (u32)req->len) {
			if (put_user((u16)n, nodes + i))
				return -EFAULT;
			i++;
		}
	}
	if (put_user(me, (u16 __user *)u64_to_user_ptr(req->self)))
		return -EFAULT;
	if (put_user((s32)total, &arg->len))
		return -EFAULT;
	return 0;
}

/**
 * scif_link_init() - register the ivshmem driver (devices probe now)
 *
 * Return: 0 or a negative errno.
 */
int scif_link_init(void)
{
	struct dentry *d = debugfs_lookup("scif", NULL);

	if (!IS_ERR_OR_NULL(d)) {
		scif_link_dbg = debugfs_create_dir("link", d);
		debugfs_create_atomic_t("irqs", 0444, scif_link_dbg, &scif_link_irqs);
		debugfs_create_atomic_t("works", 0444, scif_link_dbg, &scif_link_works);
		debugfs_create_ulong("up", 0444, scif_link_dbg, &scif_link_up);
		dput(d);
	}
	return pci_register_driver(&scif_link_driver);
}

/**
 * scif_link_exit() - say goodbye to the peers and release the devices
 */
void scif_link_exit(void)
{
	pci_unregister_driver(&scif_link_driver);
	debugfs_remove_recursive(scif_link_dbg);
	scif_link_dbg = NULL;
}
