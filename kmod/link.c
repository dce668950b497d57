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
 * Outbound messages are posted by whoever has something to say (the link
 * work, or a user thread on the data path) under the peer's tx_lock; what
 * does not fit waits on the peer's outbox (node messages as bits, each
 * connection's as its pending bits, link_conn.c) until the peer's doorbell
 * says it made room.
 *
 * Locking: see link.h.  The set of nodes that are up is also kept in
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

#include "link.h"

#define IVSHMEM_VENDOR		0x1af4
#define IVSHMEM_DEVICE		0x1110
#define IVSHMEM_REG_IVPOSITION	8
#define IVSHMEM_REG_DOORBELL	12

DEFINE_MUTEX(scif_link_mutex);
struct scif_link scif_link_dev;
static struct scif_link *scif_link;	/* &scif_link_dev while attached */
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

#define QUEUE_FIELD(q, f)	((q) + offsetof(struct scif_wire_queue, f))

static void scif_link_ring(struct scif_link *l, u32 n)
{
	iowrite32((u32)l->peer[n].doorbell_id << 16 | SCIF_WIRE_VEC_MSG,
		  l->regs + IVSHMEM_REG_DOORBELL);
}

/* Whether node messages may be posted to @n; scif_link_mutex held. */
static void scif_link_tx_update(struct scif_link *l, u32 n)
{
	struct scif_link_peer *p = &l->peer[n];

	spin_lock(&p->tx_lock);
	p->tx_open = scif_link == l && p->present && !p->broken;
	spin_unlock(&p->tx_lock);
}

/* Free the single messages waiting for @p. */
static void scif_link_drop_msgs(struct scif_link_peer *p)
{
	struct scif_link_msg *msg, *tmp;
	LIST_HEAD(gone);

	spin_lock(&p->tx_lock);
	list_splice_init(&p->msgs, &gone);
	p->nmsgs = 0;
	spin_unlock(&p->tx_lock);
	list_for_each_entry_safe(msg, tmp, &gone, link)
		kfree(msg);
}

/**
 * scif_link_post_msg() - post a single message to node @n
 * @n: the peer
 * @msg: the message (kmalloc'ed; ownership passes here), with @msg->inc
 *	set to the peer's tx_inc when the object it speaks for was created
 *
 * A message for an earlier session of the peer (it went down since) is
 * dropped, and so is one beyond SCIF_LINK_MAX_MSGS: the link work then
 * drops the link (the peer does not drain its queue).  Any context that
 * may take a spinlock.
 */
void scif_link_post_msg(u16 n, struct scif_link_msg *msg)
{
	struct scif_link_peer *p = &scif_link_dev.peer[n];
	bool full = false;

	spin_lock(&p->tx_lock);
	if (p->tx_open && msg->inc == p->tx_inc) {
		if (p->nmsgs < SCIF_LINK_MAX_MSGS) {
			list_add_tail(&msg->link, &p->msgs);
			p->nmsgs++;
			msg = NULL;
		} else {
			p->tx_bad = true;
			full = true;
		}
	}
	spin_unlock(&p->tx_lock);
	kfree(msg);
	if (full)
		scif_link_kick_work();
	else
		scif_link_flush(n);
}

static void scif_link_set_down(struct scif_link *l, u32 n, const char *why)
{
	struct scif_link_peer *p = &l->peer[n];

	if (p->up)
		pr_info("node %u is down (%s)\n", n, why);
	p->up = false;
	clear_bit(n, &scif_link_up);
	/* nothing queued for this session goes out any more */
	spin_lock(&p->tx_lock);
	p->tx_inc++;
	spin_unlock(&p->tx_lock);
	scif_link_drop_msgs(p);
	scif_link_rma_peer_down(n);
	scif_link_conn_peer_down(n);
}

/**
 * scif_link_break() - drop the link to a peer that broke the protocol
 * @l: the link
 * @n: the peer
 * @why: for the log
 *
 * The peer is down and ignored until it comes back as a new incarnation.
 * Context: scif_link_mutex held.
 */
void scif_link_break(struct scif_link *l, u32 n, const char *why)
{
	pr_warn("node %u broke the link protocol (%s): link dropped\n", n, why);
	l->peer[n].broken = true;
	scif_link_tx_update(l, n);
	scif_link_set_down(l, n, "protocol error");
}

/**
 * scif_link_kick_work() - have the link work look at everything again
 */
void scif_link_kick_work(void)
{
	if (READ_ONCE(scif_link) && !READ_ONCE(scif_link_dev.stopping))
		queue_work(system_wq, &scif_link_dev.work);
}

/* The next message for @p; tx_lock held.  False: nothing to post. */
static bool scif_link_next(struct scif_link_peer *p, struct scif_wire_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (p->tx_node & (SCIF_LINK_TX_UP | SCIF_LINK_TX_UP_REPLY)) {
		m->type = cpu_to_le16(SCIF_WIRE_MSG_NODE_UP);
		if (p->tx_node & SCIF_LINK_TX_UP)
			m->flags = cpu_to_le16(SCIF_WIRE_F_WANT_REPLY);
		p->tx_node &= ~(SCIF_LINK_TX_UP | SCIF_LINK_TX_UP_REPLY);
		return true;
	}
	if (scif_link_conn_outbox(p, m))
		return true;
	if (!list_empty(&p->msgs)) {
		struct scif_link_msg *msg = list_first_entry(&p->msgs,
							     struct scif_link_msg, link);

		list_del(&msg->link);
		p->nmsgs--;
		m->type = msg->m.type;
		memcpy(m->arg, msg->m.arg, sizeof(m->arg));
		kfree(msg);
		return true;
	}
	/* a goodbye goes last: after everything else we had to say */
	if (p->tx_node & SCIF_LINK_TX_DOWN) {
		m->type = cpu_to_le16(SCIF_WIRE_MSG_NODE_DOWN);
		p->tx_node &= ~SCIF_LINK_TX_DOWN;
		return true;
	}
	return false;
}

/**
 * scif_link_flush() - post what node @n's outbox holds, as far as it fits
 * @n: the peer
 *
 * Messages are posted in order (node messages, then each connection's); a
 * full queue leaves the rest for when the peer rings back.  Any context
 * that may take a spinlock.
 */
void scif_link_flush(u16 n)
{
	struct scif_link *l = &scif_link_dev;
	struct scif_link_peer *p = &l->peer[n];
	struct scif_wire_msg m;
	void __iomem *q;
	u32 tail, posted = 0, round;

	spin_lock(&p->tx_lock);
	if (!p->tx_open)
		goto out;
	q = scif_link_queue(l, l->self, n);
	for (;;) {
		tail = ioread32(QUEUE_FIELD(q, tail));
		if (p->tx_head - tail > l->queue_slots) {
			p->tx_bad = true;
			p->tx_open = false;
			queue_work(system_wq, &l->work);
			break;
		}
		round = 0;
		while (p->tx_head - tail < l->queue_slots && scif_link_next(p, &m)) {
			m.src = cpu_to_le16(l->self);
			m.dst = cpu_to_le16(n);
			m.src_incarnation = cpu_to_le32(l->incarnation);
			memcpy_toio(q + SCIF_WIRE_QUEUE_SLOT_OFF +
				    (p->tx_head & (l->queue_slots - 1)) * sizeof(m),
				    &m, sizeof(m));
			p->tx_head++;
			round++;
		}
		if (round) {
			wmb();	/* the messages before the index */
			iowrite32(p->tx_head, QUEUE_FIELD(q, head));
			posted += round;
		}
		if (!p->tx_node && list_empty(&p->outbox) && list_empty(&p->msgs))
			break;
		/* full: ask to be rung when there is room, then look once more */
		iowrite32(1, QUEUE_FIELD(q, src_waiting));
		mb();
		if (ioread32(QUEUE_FIELD(q, tail)) == tail)
			break;
	}
	if (posted) {
		wmb();	/* the index before the doorbell */
		scif_link_ring(l, n);
	}
out:
	spin_unlock(&p->tx_lock);
}

static void scif_link_post_node(struct scif_link *l, u32 n, unsigned long bits)
{
	struct scif_link_peer *p = &l->peer[n];

	spin_lock(&p->tx_lock);
	p->tx_node |= bits;
	spin_unlock(&p->tx_lock);
	scif_link_flush(n);
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
			scif_link_post_node(l, n, SCIF_LINK_TX_UP_REPLY);
		break;
	case SCIF_WIRE_MSG_NODE_DOWN:
		scif_link_set_down(l, n, "it said goodbye");
		break;
	case SCIF_WIRE_MSG_CONNECT_REQ ... SCIF_WIRE_MSG_DISCONNECT:
	case SCIF_WIRE_MSG_WAKE:
		if (!p->up)
			break;	/* not up (yet): nothing to connect to */
		if (scif_link_conn_rx(n, m))
			scif_link_break(l, n, "bad connection message");
		break;
	case SCIF_WIRE_MSG_WINDOW_ADD ... SCIF_WIRE_MSG_WINDOW_FREE:
		if (!p->up)
			break;
		if (scif_link_rma_rx(n, m))
			scif_link_break(l, n, "bad window message");
		break;
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
	u32 head, start = p->rx_tail;

	head = ioread32(QUEUE_FIELD(q, head));
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
	if (p->rx_tail == start || p->broken)
		return;
	mb();	/* the messages read before the slots are released */
	iowrite32(p->rx_tail, QUEUE_FIELD(q, tail));
	mb();	/* the tail before the look at src_waiting */
	if (ioread32(QUEUE_FIELD(q, src_waiting))) {
		iowrite32(0, QUEUE_FIELD(q, src_waiting));
		scif_link_ring(l, n);
	}
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
		p->broken = false;
		spin_lock(&p->tx_lock);
		p->tx_head = 0;
		p->tx_node = 0;
		p->tx_inc++;
		spin_unlock(&p->tx_lock);
		scif_link_drop_msgs(p);
	}
	p->present = state == SCIF_WIRE_NODE_PRESENT;
	if (!p->present)
		scif_link_set_down(l, n, "left the fabric");
	scif_link_tx_update(l, n);
}

static void scif_link_work(struct work_struct *work)
{
	struct scif_link *l = container_of(work, struct scif_link, work);
	struct scif_link_peer *p;
	bool bad;
	u32 n;

	atomic_inc(&scif_link_works);
	mutex_lock(&scif_link_mutex);
	if (scif_link != l || l->stopping) {
		mutex_unlock(&scif_link_mutex);
		return;
	}
	for (n = 0; n < l->max_nodes; n++) {
		if (n == l->self)
			continue;
		p = &l->peer[n];
		scif_link_scan(l, n);
		if (p->present && !p->broken)
			scif_link_drain(l, n);
		spin_lock(&p->tx_lock);
		bad = p->tx_bad;
		p->tx_bad = false;
		spin_unlock(&p->tx_lock);
		if (bad && !p->broken)
			scif_link_break(l, n, "bad queue or ring index, or a queue not drained");
		scif_link_conn_reap(n);
		scif_link_flush(n);
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
	struct scif_link *l = &scif_link_dev, *t;
	u32 ivpos, n;
	int ret;

	/* validate into a scratch copy: a link may be attached already */
	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	t->regs = pcim_iomap(pdev, 0, 0);
	t->shm = pcim_iomap(pdev, 2, 0);
	ret = -ENOMEM;
	if (!t->regs || !t->shm)
		goto free;
	ret = scif_link_validate(pdev, t);
	if (ret)
		goto free;
	ivpos = ioread32(t->regs + IVSHMEM_REG_IVPOSITION);
	for (n = 0; n < t->max_nodes; n++)
		if (t->peer[n].doorbell_id == ivpos)
			break;
	if (n == t->max_nodes ||
	    ioread32(t->shm + NODE_OFF(n, fabric_state)) != SCIF_WIRE_NODE_PRESENT) {
		pci_err(pdev, "control region: no present node has doorbell id %u\n",
			ivpos);
		ret = -EINVAL;
		goto free;
	}
	t->self = n;
	t->incarnation = ioread32(t->shm + NODE_OFF(n, incarnation));

	/* MSI-X messages are the device's memory writes: bus mastering on */
	pci_set_master(pdev);
	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSIX);
	if (ret < 0) {
		pci_err(pdev, "no MSI-X vector (%d)\n", ret);
		goto free;
	}
	mutex_lock(&scif_link_mutex);
	if (scif_link || l->pdev) {
		mutex_unlock(&scif_link_mutex);
		pci_err(pdev, "a SCIF link is already attached\n");
		pci_free_irq_vectors(pdev);
		ret = -EBUSY;
		goto free;
	}
	l->pdev = pdev;
	l->regs = t->regs;
	l->shm = t->shm;
	l->self = t->self;
	l->incarnation = t->incarnation;
	l->max_nodes = t->max_nodes;
	l->queue_off = t->queue_off;
	l->queue_stride = t->queue_stride;
	l->queue_slots = t->queue_slots;
	l->stopping = false;
	/*
	 * Resume the indices from shared memory: zero after the fabric's
	 * reset, or where this node's previous module left them.
	 */
	for (n = 0; n < l->max_nodes; n++) {
		struct scif_link_peer *p = &l->peer[n];

		p->doorbell_id = t->peer[n].doorbell_id;
		p->aperture_pci = t->peer[n].aperture_pci;
		p->aperture_bytes = t->peer[n].aperture_bytes;
		p->up = false;
		p->broken = false;
		if (n == l->self)
			continue;
		p->incarnation = ioread32(l->shm + NODE_OFF(n, incarnation));
		p->present = ioread32(l->shm + NODE_OFF(n, fabric_state)) ==
			     SCIF_WIRE_NODE_PRESENT;
		p->rx_tail = ioread32(scif_link_queue(l, n, l->self) +
				      offsetof(struct scif_wire_queue, tail));
		spin_lock(&p->tx_lock);
		p->tx_head = ioread32(scif_link_queue(l, l->self, n) +
				      offsetof(struct scif_wire_queue, head));
		p->tx_node = 0;
		p->tx_bad = false;
		spin_unlock(&p->tx_lock);
	}
	ret = request_irq(pci_irq_vector(pdev, SCIF_WIRE_VEC_MSG), scif_link_irq,
			  0, "scif-link", l);
	if (ret) {
		l->pdev = NULL;
		mutex_unlock(&scif_link_mutex);
		pci_free_irq_vectors(pdev);
		goto free;
	}
	iowrite32(l->incarnation, l->shm + NODE_OFF(l->self, kmod_incarnation));
	iowrite32(SCIF_WIRE_KMOD_UP, l->shm + NODE_OFF(l->self, kmod_state));
	scif_link = l;
	WRITE_ONCE(scif_link_self, l->self);
	pci_set_drvdata(pdev, l);
	for (n = 0; n < l->max_nodes; n++) {
		if (n == l->self)
			continue;
		scif_link_tx_update(l, n);
		if (l->peer[n].present)
			scif_link_post_node(l, n, SCIF_LINK_TX_UP);
	}
	mutex_unlock(&scif_link_mutex);
	kfree(t);

	pci_info(pdev, "SCIF link: this is node %u (incarnation %u)\n",
		 l->self, l->incarnation);
	queue_work(system_wq, &l->work);
	queue_work(system_wq, &l->attach_work);
	/* our own doorbell once: proves the interrupt path (debugfs link/irqs) */
	scif_link_ring(l, l->self);
	return 0;
free:
	kfree(t);
	return ret;
}

static void scif_link_remove_control(struct pci_dev *pdev, struct scif_link *l)
{
	u32 n;

	mutex_lock(&scif_link_mutex);
	WRITE_ONCE(l->stopping, true);
	for (n = 0; n < l->max_nodes; n++) {
		if (n == l->self)
			continue;
		/* every connection with the peer ends; the goodbye ends its side */
		scif_link_set_down(l, n, "link removed");
		scif_link_post_node(l, n, SCIF_LINK_TX_DOWN);
	}
	iowrite32(SCIF_WIRE_KMOD_DOWN, l->shm + NODE_OFF(l->self, kmod_state));
	scif_link = NULL;
	WRITE_ONCE(scif_link_self, -1);
	for (n = 0; n < l->max_nodes; n++)
		scif_link_tx_update(l, n);
	mutex_unlock(&scif_link_mutex);

	free_irq(pci_irq_vector(pdev, SCIF_WIRE_VEC_MSG), l);
	cancel_work_sync(&l->work);
	cancel_work_sync(&l->attach_work);
	pci_free_irq_vectors(pdev);
	mutex_lock(&scif_link_mutex);
	l->pdev = NULL;
	mutex_unlock(&scif_link_mutex);
	pci_info(pdev, "SCIF link: detached\n");
}

/* An aperture device: claimed if the node table names its address. */
static int scif_link_probe_aperture(struct pci_dev *pdev)
{
	u32 addr = (u32)pdev->bus->number << 8 | pdev->devfn;
	struct scif_link *l;
	int ret = -ENODEV;
	void *va;
	u32 n;

	if (pci_domain_nr(pdev->bus) != 0)
		return -ENODEV;
	mutex_lock(&scif_link_mutex);
	l = scif_link;
	for (n = 0; l && n < l->max_nodes; n++) {
		struct scif_link_peer *p = &l->peer[n];

		if (n == l->self || p->aperture_pci != addr || p->aperture)
			continue;
		if (pci_resource_len(pdev, 2) < p->aperture_bytes ||
		    p->aperture_bytes <= SCIF_WIRE_AP_FIRST) {
			pci_err(pdev, "aperture of node %u: %llu bytes, the node table says %llu\n",
				n, (unsigned long long)pci_resource_len(pdev, 2),
				(unsigned long long)p->aperture_bytes);
			ret = -EINVAL;
			break;
		}
		/*
		 * The peer's RAM, cached: both sides are coherent CPUs.  From
		 * its second page on (no message names its first), so that
		 * the mapping is not aligned with our direct map: copies
		 * between a page of ours and the peer's page of the same
		 * number (both kernels hand out pages alike) then use two
		 * different sets of a direct-mapped TLB, such as qemu TCG's,
		 * instead of evicting each other at every access.
		 */
		va = memremap(pci_resource_start(pdev, 2) + SCIF_WIRE_AP_FIRST,
			      p->aperture_bytes - SCIF_WIRE_AP_FIRST, MEMREMAP_WB);
		if (!va) {
			ret = -ENOMEM;
			break;
		}
		p->aperture = pdev;
		p->ap_phys = pci_resource_start(pdev, 2);
		WRITE_ONCE(p->ap_va, va - SCIF_WIRE_AP_FIRST);
		pci_info(pdev, "SCIF link: RAM aperture of node %u (%llu MiB)\n",
			 n, (unsigned long long)(p->aperture_bytes >> 20));
		ret = 0;
		break;
	}
	mutex_unlock(&scif_link_mutex);
	return ret;
}

/* An aperture goes: the connections through it end first. */
static void scif_link_remove_aperture(struct pci_dev *pdev)
{
	struct scif_link_peer *p;
	void *va;
	u32 n;

	mutex_lock(&scif_link_mutex);
	for (n = 0; n < SCIF_WIRE_MAX_NODES; n++) {
		p = &scif_link_dev.peer[n];
		if (p->aperture != pdev)
			continue;
		scif_link_conn_peer_down(n);
		va = p->ap_va;
		WRITE_ONCE(p->ap_va, NULL);
		p->aperture = NULL;
		synchronize_rcu();	/* scif_link_target() readers */
		memunmap(va + SCIF_WIRE_AP_FIRST);
	}
	mutex_unlock(&scif_link_mutex);
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
	bool control;

	mutex_lock(&scif_link_mutex);
	control = scif_link && pci_get_drvdata(pdev) == scif_link;
	mutex_unlock(&scif_link_mutex);
	if (control)
		scif_link_remove_control(pdev, &scif_link_dev);
	else
		scif_link_remove_aperture(pdev);
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
 * scif_node_public_id() - the node id user space sees for a local node
 * @node: a node of this module
 *
 * With a link attached, this kernel's node 0 is the fabric's node id.
 *
 * Return: the id.
 */
u16 scif_node_public_id(const struct scif_node *node)
{
	int self = READ_ONCE(scif_link_self);

	return node->id || self < 0 ? node->id : (u16)self;
}

/**
 * scif_link_target() - where a connect to node @node goes
 * @node: the node id user space named
 *
 * Return: -ENOENT without a link (local node ids apply), 0 for this
 * kernel's node 0, 1 for a node across the link that is up and has an
 * aperture, -ENODEV for any other id.
 */
int scif_link_target(u16 node)
{
	int self = READ_ONCE(scif_link_self);

	if (self < 0)
		return -ENOENT;
	if (node == self)
		return 0;
	if (node < SCIF_WIRE_MAX_NODES && test_bit(node, &scif_link_up) &&
	    READ_ONCE(scif_link_dev.peer[node].ap_va))
		return 1;
	return -ENODEV;
}

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
	u32 n;

	INIT_WORK(&scif_link_dev.work, scif_link_work);
	INIT_WORK(&scif_link_dev.attach_work, scif_link_attach_work);
	for (n = 0; n < SCIF_WIRE_MAX_NODES; n++) {
		struct scif_link_peer *p = &scif_link_dev.peer[n];

		INIT_LIST_HEAD(&p->conns);
		spin_lock_init(&p->tx_lock);
		INIT_LIST_HEAD(&p->outbox);
		INIT_LIST_HEAD(&p->reap);
		INIT_LIST_HEAD(&p->msgs);
		xa_init(&p->rwins);
	}

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
	scif_link_conn_exit();
	scif_link_rma_exit();
	debugfs_remove_recursive(scif_link_dbg);
	scif_link_dbg = NULL;
}
