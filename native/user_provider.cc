// SPDX-License-Identifier: MIT
// The user provider: a userspace SCIF platform on one machine.
//
// Each process is a node (SCIF_NODE); the platform has SCIF_NODES nodes.
// An endpoint is an AF_UNIX stream socket. Every bound endpoint holds the
// abstract name "scif/<uid>/<node>/<port>", which is both its port
// reservation and the address peers connect to; a connecting endpoint binds
// its own name first, so the listener learns the peer's node and port from
// getpeername(). Both sides check the other with SO_PEERCRED: same uid or
// root, and a listener on a port below 1024 must be root.
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <random>

#include "provider.h"
#include "unique_fd.h"
#include "user_rma.h"
#include "user_stream.h"

namespace scif {
namespace {

constexpr uint16_t kAdminPortEnd = 1024;  // SCIF_ADMIN_PORT_END
constexpr uint16_t kFirstAutoPort = 1089; // SCIF_PORT_RSVD + 1
constexpr int kMaxBacklog = 1024;
constexpr int kSocketBuffer = 4 << 20;
// The accepting side writes this one byte to a connection before anything
// else: the connector's grant. SCIF completes a connect only when the
// listener accepts it; an AF_UNIX connect completes as soon as it is queued,
// so the connector waits (polling its fd for readable) for the grant, and a
// request the listener drops or never accepts (it closed) is refused.
constexpr uint8_t kGrant = 0x5c;

socklen_t MakeAddress(uid_t uid, uint16_t node, uint16_t port,
                      struct sockaddr_un* addr) {
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  // Abstract namespace: sun_path[0] == '\0', the name follows, no NUL.
  int n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1,
                   "scif/%u/%u/%u", static_cast<unsigned>(uid),
                   static_cast<unsigned>(node), static_cast<unsigned>(port));
  return static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

// Parses an abstract "scif/<uid>/<node>/<port>" name.
bool ParseAddress(const struct sockaddr_un& addr, socklen_t len, uid_t uid,
                  PortId* out) {
  size_t off = offsetof(struct sockaddr_un, sun_path);
  if (len <= off + 1 || addr.sun_path[0] != '\0') return false;
  char name[sizeof(addr.sun_path)];
  size_t n = len - off - 1;
  memcpy(name, addr.sun_path + 1, n);
  name[n] = '\0';
  unsigned u, node, port;
  int used = 0;
  if (sscanf(name, "scif/%u/%u/%u%n", &u, &node, &port, &used) != 3 ||
      static_cast<size_t>(used) != n || u != uid || node > 0xffff ||
      port == 0 || port > 0xffff)
    return false;
  out->node = static_cast<uint16_t>(node);
  out->port = static_cast<uint16_t>(port);
  return true;
}

// Is the process at the other end of |fd| allowed to talk to us?
bool PeerTrusted(int fd, bool needs_root) {
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  if (needs_root) return cred.uid == 0;
  return cred.uid == geteuid() || cred.uid == 0;
}

pid_t PeerPid(int fd) {
  struct ucred cred;
  socklen_t len = sizeof(cred);
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : -1;
}

// True when this thread and |peer| may each run on the same single CPU and
// nowhere else: their work cannot overlap.
bool SharesOnlyCpu(pid_t peer) {
  cpu_set_t mine, theirs;
  if (peer <= 0 || sched_getaffinity(0, sizeof(mine), &mine) != 0 ||
      sched_getaffinity(peer, sizeof(theirs), &theirs) != 0)
    return false;
  return CPU_COUNT(&mine) == 1 && CPU_EQUAL(&mine, &theirs);
}

void TuneSocket(int fd) {
  int size = kSocketBuffer;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

class UserEndpoint final : public ProviderEndpoint {
 public:
  UserEndpoint(UniqueFd fd, const PlatformConfig& config)
      : fd_(std::move(fd)), config_(config), uid_(geteuid()) {
    local_.node = config.node;
  }

  int Fd() const override { return fd_.Get(); }

  int Bind(uint16_t port) override {
    if (bound_) return -EINVAL;
    if (port != 0) {
      if (port < kAdminPortEnd && geteuid() != 0) return -EACCES;
      int rc = BindName(port);
      if (rc == 0) return port;
      return rc;
    }
    // Auto-assign: start somewhere random so that processes racing for
    // ports rarely collide, then walk the range once.
    static std::atomic<uint32_t> hint{std::random_device{}()};
    uint32_t span = 65536 - kFirstAutoPort;
    uint32_t start = hint.fetch_add(1) % span;
    for (uint32_t i = 0; i < span; i++) {
      uint16_t candidate =
          static_cast<uint16_t>(kFirstAutoPort + (start + i) % span);
      int rc = BindName(candidate);
      if (rc == 0) return candidate;
      if (rc != -EADDRINUSE) return rc;
    }
    return -ENOSPC;
  }

  int Listen(int backlog) override {
    if (!bound_) return -EINVAL;
    if (connected_) return -EISCONN;
    if (backlog <= 0) return -EINVAL;
    if (backlog > kMaxBacklog) backlog = kMaxBacklog;
    if (listen(fd_.Get(), backlog) != 0) return -errno;
    listening_ = true;
    return 0;
  }

  int Connect(PortId peer) override {
    if (listening_) return -EOPNOTSUPP;
    if (connected_) return -EISCONN;
    if (peer.node >= config_.nodes) return -ENODEV;
    if (peer.port == 0) return -EINVAL;
    if (!bound_) {
      int rc = Bind(0);
      if (rc < 0) return rc;
    }
    TuneSocket(fd_.Get());
    struct sockaddr_un addr;
    socklen_t len = MakeAddress(uid_, peer.node, peer.port, &addr);
    if (connect(fd_.Get(), reinterpret_cast<struct sockaddr*>(&addr), len) !=
        0) {
      int err = errno;
      // Nobody bound there, or the listener's queue is full: refused, as a
      // SCIF node refuses a request it cannot queue.
      if (err == ENOENT || err == ECONNREFUSED || err == EAGAIN) return -ECONNREFUSED;
      return -err;
    }
    if (!PeerTrusted(fd_.Get(), peer.port < kAdminPortEnd)) {
      // Someone who may not serve this port holds the name: never talk to it.
      return -ECONNREFUSED;
    }
    pending_remote_ = peer;
    awaiting_grant_ = true;
    return -EINPROGRESS;
  }

  // Reads the grant (exactly one byte: what follows is the stream).
  int FinishConnect() override {
    if (connected_) return 0;
    if (!awaiting_grant_) return -ENOTCONN;
    uint8_t grant = 0;
    ssize_t n;
    do {
      n = recv(fd_.Get(), &grant, 1, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -EINPROGRESS;
    awaiting_grant_ = false;
    // Closed before accepting us (or dropped us): refused, as SCIF says.
    if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)) ||
        (n == 1 && grant != kGrant))
      return -ECONNREFUSED;
    if (n < 0) return -errno;
    remote_ = pending_remote_;
    Connected();
    return 0;
  }

  bool ConnectWaitsReadable() const override { return awaiting_grant_; }

  int Accept(std::unique_ptr<ProviderEndpoint>* out) override {
    if (!listening_) return -EINVAL;
    for (;;) {
      struct sockaddr_un addr;
      socklen_t len = sizeof(addr);
      int fd = accept4(fd_.Get(), reinterpret_cast<struct sockaddr*>(&addr),
                       &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        int err = errno;
        if (err == EINTR || err == ECONNABORTED) continue;
        if (err == EWOULDBLOCK) return -EAGAIN;
        return -err;
      }
      UniqueFd conn(fd);
      PortId remote;
      // A connection from another user, or one that did not come through a
      // SCIF endpoint (no SCIF name), is dropped: the next one is tried.
      if (!PeerTrusted(fd, false) || !ParseAddress(addr, len, uid_, &remote))
        continue;
      if (remote.node >= config_.nodes) continue;
      // The grant: the connector's connect completes now. A connector that
      // has gone already is skipped.
      ssize_t sent;
      do {
        sent = send(fd, &kGrant, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
      } while (sent < 0 && errno == EINTR);
      if (sent != 1) continue;
      TuneSocket(fd);
      auto ep = std::make_unique<UserEndpoint>(std::move(conn), config_);
      ep->local_ = local_;
      ep->remote_ = remote;
      ep->bound_ = true;
      ep->Connected();
      *out = std::move(ep);
      return 0;
    }
  }

  long Send(const uint8_t* data, size_t len) override {
    struct iovec v = {const_cast<uint8_t*>(data), len};
    return SendV(&v, 1);
  }

  long SendV(const struct iovec* iov, int iovcnt) override {
    if (!connected_) return -ENOTCONN;
    return stream_.SendV(iov, iovcnt);
  }

  long Recv(uint8_t* data, size_t len) override {
    if (!connected_) return -ENOTCONN;
    return stream_.Recv(data, len);
  }

  int WriteWaitFd() const override { return stream_.WriteWaitFd(); }
  int ReadWaitFd() const override { return stream_.ReadWaitFd(); }
  bool LaneReadable() const override { return stream_.LaneReadable(); }
  void SetSpinning(bool spinning) override { stream_.SetSpinning(spinning); }
  void AckReadBell() override { stream_.AckReadBell(); }
  void KickReadBell() override { stream_.KickReadBell(); }
  void SetHelping(bool spinning) override { stream_.SetHelping(spinning); }
  bool Help() override { return stream_.Help(); }
  uint64_t HelpedBytes() const override { return stream_.HelpedBytes(); }

  // Spinning only delays a peer that can only run where we do.
  bool BusyPollUseful() override { return !shares_cpu_; }

  PortId Local() const override { return local_; }
  PortId Remote() const override { return remote_; }

  int64_t Register(void* addr, uint64_t len, int64_t offset, int prot,
                   int flags) override {
    return rma_.Register(addr, len, offset, prot, flags);
  }
  int Unregister(int64_t offset, uint64_t len) override {
    return rma_.Unregister(offset, len);
  }
  int Copy(bool to_peer, int64_t loffset, uint64_t len, int64_t roffset,
           int flags) override {
    return rma_.Copy(to_peer, loffset, len, roffset, flags);
  }
  int VCopy(bool to_peer, void* addr, uint64_t len, int64_t roffset,
            int flags) override {
    return rma_.VCopy(to_peer, addr, len, roffset, flags);
  }
  int FenceMark(int flags, int* mark) override {
    return rma_.FenceMark(flags, mark);
  }
  int FenceWait(int mark) override { return rma_.FenceWait(mark); }
  int FenceSignal(int64_t loff, uint64_t lval, int64_t roff, uint64_t rval,
                  int flags) override {
    return rma_.FenceSignal(loff, lval, roff, rval, flags);
  }
  int Mmap(int64_t roffset, uint64_t len, int prot, void** out) override {
    return rma_.Mmap(roffset, len, prot, out);
  }
  void Shutdown() override { rma_.Shutdown(); }

 private:
  // Who the peer is, asked once, for RMA, the stream and busy polling.
  // Segments (auto, as on): one copy, wherever the two ends run. Across
  // cores the socket's two copies overlap, but the one copy still wins here:
  // a 4 MiB-write stream into one reused buffer moved 10-13 GB/s posted
  // against 6-8 GB/s through the socket, and 6.6-6.9 against 2-5 GB/s by
  // 'data' (cores 0 and 1).
  void Connected() {
    connected_ = true;
    pid_t peer = PeerPid(fd_.Get());
    shares_cpu_ = SharesOnlyCpu(peer);
    bool segments = config_.segments != PlatformConfig::kSegmentsOff;
    rma_.SetConnection(fd_.Get(), peer, local_, remote_);
    // The lane where both sides can run at once (one CPU: nothing to gain,
    // the reader sleeps and must be rung anyway). SCIF_LANE=off turns it off.
    stream_.SetConnection(fd_.Get(), peer, segments, config_.lane);
  }

  int BindName(uint16_t port) {
    struct sockaddr_un addr;
    socklen_t len = MakeAddress(uid_, config_.node, port, &addr);
    if (bind(fd_.Get(), reinterpret_cast<struct sockaddr*>(&addr), len) != 0)
      return -errno;
    bound_ = true;
    local_.port = port;
    return 0;
  }

  UniqueFd fd_;
  PlatformConfig config_;
  uid_t uid_;
  PortId local_;
  PortId remote_;
  PortId pending_remote_;  // whom a connect awaits the grant of
  bool awaiting_grant_ = false;
  bool bound_ = false;
  bool listening_ = false;
  bool connected_ = false;
  bool shares_cpu_ = false;  // with the peer, and only that one CPU
  UserRma rma_;
  // Declared last: destroyed first, while the socket is still open.
  UserStream stream_;
};

class UserProvider final : public Provider {
 public:
  explicit UserProvider(const PlatformConfig& config) : config_(config) {}

  const char* Name() const override { return "user"; }

  int Open(std::unique_ptr<ProviderEndpoint>* out) override {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    *out = std::make_unique<UserEndpoint>(UniqueFd(fd), config_);
    return 0;
  }

  int GetNodeIds(std::vector<uint16_t>* nodes, uint16_t* self) override {
    nodes->clear();
    for (uint16_t i = 0; i < config_.nodes; i++) nodes->push_back(i);
    *self = config_.node;
    return 0;
  }

 private:
  PlatformConfig config_;
};

}  // namespace

std::unique_ptr<Provider> MakeUserProvider(const PlatformConfig& config) {
  return std::make_unique<UserProvider>(config);
}

}  // namespace scif
