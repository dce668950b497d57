// SPDX-License-Identifier: MIT
// The kernel provider: SCIF endpoints as fds of the SCIF misc device, driven
// by the mainline user ABI (<linux/scif_ioctl.h>). Works on our scif.ko and
// on kernels 4.2-5.9 with the original MIC driver.
//
// Node 0 is /dev/scif; SCIF_NODE=N (N > 0) opens /dev/scifN, a virtual node
// of scif.ko. Every fd is opened O_NONBLOCK so that connect goes through
// -EINPROGRESS/POLLOUT and nothing here blocks the event loop; send and recv
// pass flags 0 (never block) and report 0 bytes as "would block".
#include <errno.h>
#include <fcntl.h>
#include <linux/scif_ioctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "provider.h"
#include "unique_fd.h"

namespace scif {
namespace {

constexpr int kMaxNodes = 129;

std::string DevicePath(uint16_t node) {
  if (node == 0) return "/dev/scif";
  return "/dev/scif" + std::to_string(node);
}

int OpenDevice(uint16_t node, UniqueFd* out) {
  int fd = open(DevicePath(node).c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -errno;
  out->Reset(fd);
  return 0;
}

int Ioctl(int fd, unsigned long cmd, void* arg) {
  for (;;) {
    if (ioctl(fd, cmd, arg) == 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

// LISTEN and FENCE_WAIT take their argument by value, not by pointer.
int IoctlByValue(int fd, unsigned long cmd, int value) {
  for (;;) {
    if (ioctl(fd, cmd, value) == 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

// This node's id as the kernel reports it: on a SCIF link that is the fabric's
// id, not the local device's index (SCIF_NODE). |fallback| if the query fails.
uint16_t SelfNode(int fd, uint16_t fallback) {
  uint16_t me = fallback;
  struct scifioctl_node_ids req;
  memset(&req, 0, sizeof(req));
  req.self = reinterpret_cast<uintptr_t>(&me);
  req.len = 0;  // no list: just self
  return Ioctl(fd, SCIF_GET_NODEIDS, &req) == 0 ? me : fallback;
}

class KernelEndpoint final : public ProviderEndpoint {
 public:
  KernelEndpoint(UniqueFd fd, const PlatformConfig& config)
      : fd_(std::move(fd)), config_(config) {
    local_.node = config.node;
  }

  int Fd() const override { return fd_.Get(); }

  int Bind(uint16_t port) override {
    int pn = port;  // the kernel copies a 4-byte int in and out
    int rc = Ioctl(fd_.Get(), SCIF_BIND, &pn);
    // SCIF says EINVAL for a port that is taken; Node says EADDRINUSE.
    if (rc == -EINVAL && port != 0 && !bound_) return -EADDRINUSE;
    if (rc < 0) return rc;
    bound_ = true;
    local_.node = SelfNode(fd_.Get(), local_.node);
    local_.port = static_cast<uint16_t>(pn);
    return local_.port;
  }

  int Listen(int backlog) override {
    return IoctlByValue(fd_.Get(), SCIF_LISTEN, backlog);
  }

  int Connect(PortId peer) override {
    memset(&req_, 0, sizeof(req_));
    req_.peer.node = peer.node;
    req_.peer.port = peer.port;
    remote_ = peer;
    return Complete(Ioctl(fd_.Get(), SCIF_CONNECT, &req_));
  }

  int FinishConnect() override {
    return Complete(Ioctl(fd_.Get(), SCIF_CONNECT, &req_));
  }

  int Accept(std::unique_ptr<ProviderEndpoint>* out) override {
    UniqueFd fd;
    int rc = OpenDevice(config_.node, &fd);
    if (rc < 0) return rc;
    struct scifioctl_accept req;
    memset(&req, 0, sizeof(req));
    req.flags = 0;  // non-blocking: -EAGAIN when nothing is queued
    rc = Ioctl(fd_.Get(), SCIF_ACCEPTREQ, &req);
    if (rc < 0) return rc;  // |fd| closes itself
    rc = Ioctl(fd.Get(), SCIF_ACCEPTREG, &req.endpt);
    if (rc < 0) return rc;
    auto ep = std::make_unique<KernelEndpoint>(std::move(fd), config_);
    ep->bound_ = true;
    ep->connected_ = true;
    ep->local_ = local_;
    ep->remote_.node = req.peer.node;
    ep->remote_.port = req.peer.port;
    *out = std::move(ep);
    return 0;
  }

  long Send(const uint8_t* data, size_t len) override {
    return Message(SCIF_SEND, const_cast<uint8_t*>(data), len);
  }

  long SendV(const struct iovec* iov, int iovcnt) override {
    long total = 0;
    for (int i = 0; i < iovcnt; i++) {
      long n = Send(static_cast<const uint8_t*>(iov[i].iov_base), iov[i].iov_len);
      if (n < 0) return total > 0 ? total : n;
      total += n;
      if (static_cast<size_t>(n) < iov[i].iov_len) break;
    }
    return total;
  }

  long Recv(uint8_t* data, size_t len) override {
    return Message(SCIF_RECV, data, len);
  }

  PortId Local() const override { return local_; }
  PortId Remote() const override { return remote_; }

  // RMA: each call is one ioctl; the kernel does the pinning, copying and
  // fencing. They may block, and run on the addon's RMA thread.
  int64_t Register(void* addr, uint64_t len, int64_t offset, int prot,
                   int flags) override {
    struct scifioctl_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.addr = reinterpret_cast<uintptr_t>(addr);
    reg.len = len;
    reg.offset = offset;
    reg.prot = prot;
    reg.flags = flags;
    int rc = Ioctl(fd_.Get(), SCIF_REG, &reg);
    return rc < 0 ? rc : reg.out_offset;
  }

  int Unregister(int64_t offset, uint64_t len) override {
    struct scifioctl_unreg unreg;
    memset(&unreg, 0, sizeof(unreg));
    unreg.offset = offset;
    unreg.len = len;
    return Ioctl(fd_.Get(), SCIF_UNREG, &unreg);
  }

  int Copy(bool to_peer, int64_t loffset, uint64_t len, int64_t roffset,
           int flags) override {
    struct scifioctl_copy copy;
    memset(&copy, 0, sizeof(copy));
    copy.loffset = loffset;
    copy.len = len;
    copy.roffset = roffset;
    copy.flags = flags;
    return Ioctl(fd_.Get(), to_peer ? SCIF_WRITETO : SCIF_READFROM, &copy);
  }

  int VCopy(bool to_peer, void* addr, uint64_t len, int64_t roffset,
            int flags) override {
    struct scifioctl_copy copy;
    memset(&copy, 0, sizeof(copy));
    copy.addr = reinterpret_cast<uintptr_t>(addr);
    copy.len = len;
    copy.roffset = roffset;
    copy.flags = flags;
    return Ioctl(fd_.Get(), to_peer ? SCIF_VWRITETO : SCIF_VREADFROM, &copy);
  }

  int FenceMark(int flags, int* mark) override {
    int32_t value = 0;
    struct scifioctl_fence_mark req;
    memset(&req, 0, sizeof(req));
    req.flags = flags;
    req.mark = reinterpret_cast<uintptr_t>(&value);
    int rc = Ioctl(fd_.Get(), SCIF_FENCE_MARK, &req);
    if (rc == 0) *mark = value;
    return rc;
  }

  int FenceWait(int mark) override {
    return IoctlByValue(fd_.Get(), SCIF_FENCE_WAIT, mark);
  }

  int FenceSignal(int64_t loff, uint64_t lval, int64_t roff, uint64_t rval,
                  int flags) override {
    struct scifioctl_fence_signal req;
    memset(&req, 0, sizeof(req));
    req.loff = loff;
    req.lval = lval;
    req.roff = roff;
    req.rval = rval;
    req.flags = flags;
    return Ioctl(fd_.Get(), SCIF_FENCE_SIGNAL, &req);
  }

  int Mmap(int64_t roffset, uint64_t len, int prot, void** out) override {
    int mprot = ((prot & 1) ? PROT_READ : 0) | ((prot & 2) ? PROT_WRITE : 0);
    // The file offset of an endpoint mapping is an offset in the peer's
    // registered address space.
    void* p = mmap(nullptr, len, mprot, MAP_SHARED, fd_.Get(), roffset);
    if (p == MAP_FAILED) return -errno;
    *out = p;
    return 0;
  }

 private:
  int Complete(int rc) {
    if (rc == 0) {
      connected_ = bound_ = true;
      local_.node = req_.self.node;
      local_.port = req_.self.port;
    }
    return rc;
  }

  long Message(unsigned long cmd, uint8_t* data, size_t len) {
    struct scifioctl_msg msg;
    memset(&msg, 0, sizeof(msg));
    // The ABI carries a signed 32-bit length: move big buffers in pieces.
    if (len > (1u << 30)) len = 1u << 30;
    msg.msg = reinterpret_cast<uintptr_t>(data);
    msg.len = static_cast<int32_t>(len);
    msg.flags = 0;
    int rc = Ioctl(fd_.Get(), cmd, &msg);
    if (rc < 0) return rc;
    return msg.out_len;
  }

  UniqueFd fd_;
  PlatformConfig config_;
  struct scifioctl_connect req_ = {};
  PortId local_;
  PortId remote_;
  bool bound_ = false;
  bool connected_ = false;
};

class KernelProvider final : public Provider {
 public:
  explicit KernelProvider(const PlatformConfig& config) : config_(config) {}

  const char* Name() const override { return "kernel"; }

  int Open(std::unique_ptr<ProviderEndpoint>* out) override {
    UniqueFd fd;
    int rc = OpenDevice(config_.node, &fd);
    if (rc < 0) return rc;
    *out = std::make_unique<KernelEndpoint>(std::move(fd), config_);
    return 0;
  }

  int GetNodeIds(std::vector<uint16_t>* nodes, uint16_t* self) override {
    UniqueFd fd;
    int rc = OpenDevice(config_.node, &fd);
    if (rc < 0) return rc;
    uint16_t ids[kMaxNodes] = {};
    uint16_t me = 0;
    struct scifioctl_node_ids req;
    memset(&req, 0, sizeof(req));
    req.nodes = reinterpret_cast<uintptr_t>(ids);
    req.self = reinterpret_cast<uintptr_t>(&me);
    req.len = kMaxNodes;
    rc = Ioctl(fd.Get(), SCIF_GET_NODEIDS, &req);
    if (rc < 0) return rc;
    int count = req.len < kMaxNodes ? req.len : kMaxNodes;
    if (count < 0) return -EIO;
    nodes->assign(ids, ids + count);
    *self = me;
    return 0;
  }

 private:
  PlatformConfig config_;
};

}  // namespace

std::unique_ptr<Provider> MakeKernelProvider(const PlatformConfig& config) {
  return std::make_unique<KernelProvider>(config);
}

}  // namespace scif
