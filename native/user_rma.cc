// SPDX-License-Identifier: MIT
#include "user_rma.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "alloc.h"
#include "unique_fd.h"

namespace scif {

namespace {

constexpr uint32_t kMagic = 0x53434946;  // "SCIF"
constexpr int kMaxWindows = 1000;
constexpr uint64_t kPage = 4096;
constexpr int kProtRead = 1, kProtWrite = 2;
constexpr int kMapFixed = 0x10;
constexpr int kInitSelf = 1, kInitPeer = 2, kSignalLocal = 0x10, kSignalRemote = 0x20;
constexpr int kRmaFlags = 0xf;  // USECPU | USECACHE | SYNC | ORDERED
constexpr int kPeerMark = 0x40000000;
constexpr uint64_t kMarkMask = 0x3fffffff;
constexpr size_t kIovMax = 1024;

enum : uint32_t { kFree = 0, kLive = 1, kDying = 2 };

}  // namespace

struct RmaEntry {
  int64_t offset;
  uint64_t len;
  uint64_t addr;
  int32_t prot;
  int32_t memfd;
  uint64_t memfd_offset;
  uint64_t memfd_ino;
  std::atomic<uint32_t> state;
  std::atomic<uint32_t> refs;
};

struct RmaTable {
  uint32_t magic;
  int32_t pid;
  std::atomic<uint32_t> seq;    // odd while the owner edits entries
  std::atomic<uint32_t> count;  // entries in use are below this
  std::atomic<uint64_t> issued;     // copies this side started
  std::atomic<uint64_t> completed;  // ... and finished
  std::atomic<uint32_t> closed;
  uint32_t pad[5];
  RmaEntry entries[kMaxWindows];
};

static_assert(std::atomic<uint32_t>::is_always_lock_free, "shared atomics");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared atomics");

namespace {

void Pause(int round) {
  struct timespec ts = {0, round < 100 ? 20000 : 1000000};
  nanosleep(&ts, nullptr);
}

std::string TableName(PortId a, PortId b) {
  char name[64];
  snprintf(name, sizeof(name), "scif-rma:%u.%u-%u.%u", a.node, a.port, b.node,
           b.port);
  return name;
}

}  // namespace

// Yama (ptrace_scope 1) lets a process write into another only if the
// target named it with PR_SET_PTRACER. Let the peers that copy into our
// windows do so: one peer by pid, several by PR_SET_PTRACER_ANY.
void AllowPeerAccess(pid_t pid) {
  static std::mutex mu;
  static std::set<pid_t> peers;
  std::lock_guard<std::mutex> lock(mu);
  if (!peers.insert(pid).second) return;
  if (peers.size() == 1)
    prctl(PR_SET_PTRACER, static_cast<unsigned long>(pid), 0, 0, 0);
  else
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
}

namespace {

int CopyError(int err) {
  if (err == ESRCH) return -ECONNRESET;
  return -err;
}

}  // namespace

// A resolved piece of a range in a table: entry index and address.
struct UserRma::Span {
  int index;
  uint64_t addr;
  uint64_t len;
};

// Resolves [offset, offset + len) against |t| into spans over adjacent
// windows. Returns 0, -ENXIO (some part not registered) or -EACCES.
static int Resolve(RmaTable* t, int64_t offset, uint64_t len, int need_prot,
                   std::vector<UserRma::Span>* spans);

UserRma::~UserRma() {
  if (table_ != nullptr) {
    // Let copies into our windows finish before the memory may go.
    uint32_t n = table_->count.load();
    for (uint32_t i = 0; i < n; i++) {
      if (table_->entries[i].state.load() == kLive) table_->entries[i].state.store(kDying);
    }
    table_->seq.fetch_add(2);
    for (uint32_t i = 0; i < n; i++) {
      for (int round = 0; table_->entries[i].refs.load() != 0 && round < 200 && !PeerGone(); round++)
        Pause(round);
    }
    table_->closed.store(1);
    munmap(table_, sizeof(RmaTable));
  }
  if (table_fd_ >= 0) close(table_fd_);
  DropPeerMaps(true);
  if (peer_ != nullptr) munmap(peer_, sizeof(RmaTable));
  if (peer_pidfd_ >= 0) close(peer_pidfd_);
}

void UserRma::SetConnection(int sockfd, pid_t peer, PortId local, PortId remote) {
  std::lock_guard<std::mutex> lock(mu_);
  peer_pid_ = peer;
  sockfd_ = sockfd;
  local_ = local;
  remote_ = remote;
  connected_ = true;
}

void UserRma::Shutdown() { shutdown_.store(true); }

// The peer is gone once its process has exited (a zombie counts: a pidfd
// polls readable as soon as the process exits) or it closed its table.
bool UserRma::PeerGone(bool thorough) {
  if (peer_pid_ <= 0) return true;
  if (peer_ != nullptr && peer_->closed.load()) return true;
  if (peer_pidfd_ < 0) {
    int fd = static_cast<int>(syscall(SYS_pidfd_open, peer_pid_, 0));
    if (fd < 0 && errno == ESRCH) return true;
    peer_pidfd_ = fd;
  }
  // One poll for both: the connection hung up (the peer closed it or died),
  // or the process exited.
  struct pollfd p[2];
  int nfds = 0;
  if (sockfd_ >= 0) p[nfds++] = {sockfd_, POLLRDHUP, 0};
  if (peer_pidfd_ >= 0) p[nfds++] = {peer_pidfd_, POLLIN, 0};
  if (nfds > 0 && poll(p, nfds, 0) > 0) {
    for (int i = 0; i < nfds; i++) {
      if (p[i].fd == sockfd_ && (p[i].revents & (POLLHUP | POLLRDHUP | POLLERR))) return true;
      if (p[i].fd == peer_pidfd_ && p[i].revents != 0) return true;
    }
  }
  if (!thorough) return false;
  // A thread-group leader that has exited while its other threads are still
  // being torn down is a zombie already, though the pidfd is not readable
  // and its files are not yet closed.
  char path[64], stat[512];
  snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(peer_pid_));
  UniqueFd f(open(path, O_RDONLY | O_CLOEXEC));
  if (!f.Valid()) return true;
  ssize_t n = read(f.Get(), stat, sizeof(stat) - 1);
  if (n <= 0) return true;
  stat[n] = '\0';
  const char* close_paren = strrchr(stat, ')');
  return close_paren != nullptr && (close_paren[2] == 'Z' || close_paren[2] == 'X');
}

int UserRma::EnsureOwnTable() {
  if (table_ != nullptr) return 0;
  if (!connected_) return -ENOTCONN;
  std::string name = TableName(local_, remote_);
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) return -errno;
  if (ftruncate(fd, sizeof(RmaTable)) != 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  void* p = mmap(nullptr, sizeof(RmaTable), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    close(fd);
    return -err;
  }
  table_fd_ = fd;
  table_ = static_cast<RmaTable*>(p);  // zero-filled: every entry free
  PeerGone();  // opens the peer's pidfd while its pid is surely still its own
  table_->pid = getpid();
  table_->magic = kMagic;
  return 0;
}

// Finds the peer's table among its open fds and maps it (read-write: the
// window reference counts live there).
int UserRma::AttachPeer() {
  if (peer_ != nullptr) return 0;
  if (!connected_) return -ENOTCONN;
  if (PeerGone()) return -ECONNRESET;
  std::string want = "/memfd:" + TableName(remote_, local_) + " (deleted)";
  std::string dir = "/proc/" + std::to_string(peer_pid_) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return errno == ENOENT ? -ECONNRESET : -errno;
  int found = -1;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char target[PATH_MAX];
    std::string link = dir + "/" + e->d_name;
    ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (want == target) {
      found = atoi(e->d_name);
      break;
    }
  }
  closedir(d);
  if (found < 0) return PeerGone(true) ? -ECONNRESET : -ENXIO;  // no windows yet
  std::string path = dir + "/" + std::to_string(found);
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.Valid()) return errno == EACCES ? -EACCES : -ECONNRESET;
  struct stat st;
  if (fstat(fd.Get(), &st) != 0 || static_cast<size_t>(st.st_size) < sizeof(RmaTable))
    return -ENXIO;
  void* p = mmap(nullptr, sizeof(RmaTable), PROT_READ | PROT_WRITE, MAP_SHARED, fd.Get(), 0);
  if (p == MAP_FAILED) return -errno;
  auto* t = static_cast<RmaTable*>(p);
  if (t->magic != kMagic || t->pid != peer_pid_) {
    munmap(p, sizeof(RmaTable));
    return -ENXIO;
  }
  peer_ = t;
  return 0;
}

static int Resolve(RmaTable* t, int64_t offset, uint64_t len, int need_prot,
                   std::vector<UserRma::Span>* spans) {
  spans->clear();
  if (t == nullptr) return -ENXIO;
  uint32_t n = std::min<uint32_t>(t->count.load(), kMaxWindows);
  uint64_t pos = static_cast<uint64_t>(offset);
  uint64_t end = pos + len;
  while (pos < end) {
    int hit = -1;
    for (uint32_t i = 0; i < n; i++) {
      RmaEntry& e = t->entries[i];
      if (e.state.load() != kLive) continue;
      uint64_t s = static_cast<uint64_t>(e.offset);
      if (pos >= s && pos < s + e.len) {
        hit = static_cast<int>(i);
        break;
      }
    }
    if (hit < 0) return -ENXIO;
    RmaEntry& e = t->entries[hit];
    if ((e.prot & need_prot) != need_prot) return -EACCES;
    uint64_t in = pos - static_cast<uint64_t>(e.offset);
    uint64_t take = std::min(end - pos, e.len - in);
    spans->push_back({hit, e.addr + in, take});
    pos += take;
  }
  return 0;
}

int64_t UserRma::Register(void* addr, uint64_t len, int64_t offset, int prot, int flags) {
  uint64_t a = reinterpret_cast<uintptr_t>(addr);
  if ((flags & ~kMapFixed) != 0 || (prot & ~(kProtRead | kProtWrite)) != 0) return -EINVAL;
  if (len == 0 || a % kPage != 0 || len % kPage != 0) return -EINVAL;
  if ((flags & kMapFixed) && (offset < 0 || offset % kPage != 0)) return -EINVAL;
  if ((flags & kMapFixed) && static_cast<uint64_t>(offset) + len < static_cast<uint64_t>(offset))
    return -EINVAL;
  // The pages must exist (SCIF would pin them).
  if (madvise(addr, len, MADV_NORMAL) != 0) return errno == ENOMEM ? -EFAULT : -errno;
  std::lock_guard<std::mutex> lock(mu_);
  int rc = EnsureOwnTable();
  if (rc < 0) return rc;
  RmaTable* t = table_;
  uint32_t n = t->count.load();
  auto overlaps = [&](uint64_t s, uint64_t l) {
    for (uint32_t i = 0; i < n; i++) {
      RmaEntry& e = t->entries[i];
      if (e.state.load() == kFree) continue;
      uint64_t es = static_cast<uint64_t>(e.offset);
      if (s < es + e.len && es < s + l) return true;
    }
    return false;
  };
  uint64_t where;
  if (flags & kMapFixed) {
    where = static_cast<uint64_t>(offset);
    if (overlaps(where, len)) return -EADDRINUSE;
  } else {
    // First fit above every window that ends before it: try 0, then each
    // window's end, lowest first.
    std::vector<uint64_t> candidates = {0};
    for (uint32_t i = 0; i < n; i++) {
      RmaEntry& e = t->entries[i];
      if (e.state.load() != kFree) candidates.push_back(static_cast<uint64_t>(e.offset) + e.len);
    }
    std::sort(candidates.begin(), candidates.end());
    where = UINT64_MAX;
    for (uint64_t c : candidates) {
      if (c + len > static_cast<uint64_t>(INT64_MAX)) continue;
      if (!overlaps(c, len)) {
        where = c;
        break;
      }
    }
    if (where == UINT64_MAX) return -ENOSPC;
  }
  int slot = -1;
  for (uint32_t i = 0; i < n; i++) {
    if (t->entries[i].state.load() == kFree && t->entries[i].refs.load() == 0) {
      slot = static_cast<int>(i);
      break;
    }
  }
  if (slot < 0) {
    if (n >= kMaxWindows) return -ENOMEM;
    slot = static_cast<int>(n);
  }
  RmaEntry& e = t->entries[slot];
  t->seq.fetch_add(1);
  e.offset = static_cast<int64_t>(where);
  e.len = len;
  e.addr = a;
  e.prot = prot;
  int memfd = -1;
  uint64_t memfd_offset = 0;
  e.memfd_ino = 0;
  if (FindShared(addr, len, &memfd, &memfd_offset)) {
    struct stat st;
    if (fstat(memfd, &st) == 0) e.memfd_ino = st.st_ino;
  }
  e.memfd = memfd;
  e.memfd_offset = memfd_offset;
  e.state.store(kLive);
  if (static_cast<uint32_t>(slot) >= n) t->count.store(slot + 1);
  t->seq.fetch_add(1);
  if (peer_pid_ > 0) AllowPeerAccess(peer_pid_);
  return static_cast<int64_t>(where);
}

int UserRma::Unregister(int64_t offset, uint64_t len) {
  if (offset < 0 || len == 0 || offset % kPage != 0 || len % kPage != 0) return -EINVAL;
  std::lock_guard<std::mutex> lock(mu_);
  if (!connected_) return -ENOTCONN;
  RmaTable* t = table_;
  if (t == nullptr) return -ENXIO;
  uint64_t start = static_cast<uint64_t>(offset), end = start + len;
  uint32_t n = t->count.load();
  // The range must be made of whole windows.
  std::vector<int> victims;
  uint64_t covered = 0;
  bool any = false;
  for (uint32_t i = 0; i < n; i++) {
    RmaEntry& e = t->entries[i];
    if (e.state.load() != kLive) continue;
    uint64_t es = static_cast<uint64_t>(e.offset), ee = es + e.len;
    if (ee <= start || es >= end) continue;
    any = true;
    if (es < start || ee > end) return -EINVAL;  // cuts through a window
    victims.push_back(static_cast<int>(i));
    covered += e.len;
  }
  if (!any) return -ENXIO;
  if (covered != len) return -ENXIO;  // holes in the range
  t->seq.fetch_add(1);
  for (int i : victims) t->entries[i].state.store(kDying);
  t->seq.fetch_add(1);
  // Wait for copies the peer has in flight on these windows.
  for (int i : victims) {
    for (int round = 0; t->entries[i].refs.load() != 0; round++) {
      if (PeerGone()) {  // a dead peer copies nothing more
        t->entries[i].refs.store(0);
        break;
      }
      // Closing: the destructor finishes the teardown.
      if (shutdown_.load()) return -ECONNRESET;
      Pause(round);
    }
  }
  t->seq.fetch_add(1);
  for (int i : victims) t->entries[i].state.store(kFree);
  t->seq.fetch_add(1);
  return 0;
}

// Moves |len| bytes between |local| and the peer's range at |roffset|,
// holding a reference on each peer window touched.
int UserRma::Transfer(bool to_peer, const struct iovec* local, int nlocal, int64_t roffset,
                      uint64_t len, int need_prot) {
  int rc = AttachPeer();
  if (rc < 0) return rc;
  // A peer that has exited is a lost connection, whatever its table says.
  if (PeerGone()) return -ECONNRESET;
  RmaTable* p = peer_;
  std::vector<Span> spans;
  for (int attempt = 0;; attempt++) {
    uint32_t seq = p->seq.load();
    if (seq & 1) {
      if (attempt > 100 && PeerGone()) return -ECONNRESET;
      Pause(attempt);
      continue;
    }
    rc = Resolve(p, roffset, len, need_prot, &spans);
    if (rc < 0) {
      if (p->seq.load() != seq) continue;
      return rc;
    }
    for (auto& s : spans) p->entries[s.index].refs.fetch_add(1);
    bool ok = p->seq.load() == seq;
    for (auto& s : spans) ok = ok && p->entries[s.index].state.load() == kLive;
    if (ok) break;
    for (auto& s : spans) p->entries[s.index].refs.fetch_sub(1);
    if (attempt > 1000) return -EAGAIN;
  }
  table_->issued.fetch_add(1);
  if (p->seq.load() != maps_seq_) DropPeerMaps(false);
  // scif.alloc memory on the other side: copy straight into its mapping.
  std::vector<char*> direct;
  for (auto& s : spans) {
    const RmaEntry& e = p->entries[s.index];
    char* at = PeerMemory(e, s.addr - e.addr, s.len);
    if (at == nullptr) break;
    direct.push_back(at);
  }
  if (direct.size() == spans.size()) {
    size_t li = 0, lo = 0;
    for (size_t ri = 0; ri < spans.size(); ri++) {
      uint64_t ro = 0;
      while (ro < spans[ri].len && li < static_cast<size_t>(nlocal)) {
        size_t n = std::min<uint64_t>(spans[ri].len - ro, local[li].iov_len - lo);
        char* l = static_cast<char*>(local[li].iov_base) + lo;
        if (to_peer)
          memcpy(direct[ri] + ro, l, n);
        else
          memcpy(l, direct[ri] + ro, n);
        ro += n;
        lo += n;
        if (lo == local[li].iov_len) {
          li++;
          lo = 0;
        }
      }
    }
    for (auto& s : spans) p->entries[s.index].refs.fetch_sub(1);
    table_->completed.fetch_add(1);
    // A copy that raced the peer's death landed nowhere anyone will read.
    return PeerGone() ? -ECONNRESET : 0;
  }
  std::vector<struct iovec> remote;
  remote.reserve(spans.size());
  for (auto& s : spans)
    remote.push_back({reinterpret_cast<void*>(s.addr), static_cast<size_t>(s.len)});
  // process_vm_* take at most IOV_MAX entries a side: walk both lists.
  std::vector<struct iovec> lv(local, local + nlocal);
  size_t li = 0, ri = 0;
  int result = 0;
  while (li < lv.size() && ri < remote.size()) {
    size_t ln = std::min(kIovMax, lv.size() - li);
    size_t rn = std::min(kIovMax, remote.size() - ri);
    ssize_t n = to_peer
        ? process_vm_writev(peer_pid_, &lv[li], ln, &remote[ri], rn, 0)
        : process_vm_readv(peer_pid_, &lv[li], ln, &remote[ri], rn, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      result = errno == EFAULT && PeerGone(true) ? -ECONNRESET : CopyError(errno);
      break;
    }
    if (n == 0) {
      result = -EFAULT;
      break;
    }
    // Advance both lists by n bytes.
    auto advance = [](std::vector<struct iovec>& v, size_t& i, size_t bytes) {
      while (bytes > 0 && i < v.size()) {
        size_t take = std::min(bytes, v[i].iov_len);
        v[i].iov_base = static_cast<char*>(v[i].iov_base) + take;
        v[i].iov_len -= take;
        bytes -= take;
        if (v[i].iov_len == 0) i++;
      }
    };
    advance(lv, li, static_cast<size_t>(n));
    advance(remote, ri, static_cast<size_t>(n));
  }
  for (auto& s : spans) p->entries[s.index].refs.fetch_sub(1);
  table_->completed.fetch_add(1);
  return result;
}

// Opens the peer's memfd behind |e| through /proc, if it is still the one
// the window was registered with (same inode).
UniqueFd UserRma::OpenPeerMemfd(const RmaEntry& e, int mode, struct stat* st) {
  std::string path = "/proc/" + std::to_string(peer_pid_) + "/fd/" + std::to_string(e.memfd);
  UniqueFd fd(open(path.c_str(), mode | O_CLOEXEC));
  if (fd.Valid() && (fstat(fd.Get(), st) != 0 || st->st_ino != e.memfd_ino)) fd.Reset();
  return fd;
}

char* UserRma::PeerMemory(const RmaEntry& e, uint64_t in, uint64_t len) {
  if (e.memfd < 0 || e.memfd_ino == 0) return nullptr;
  uint64_t ino = e.memfd_ino;
  uint64_t off = e.memfd_offset + in;
  for (auto& m : maps_) {
    if (m.ino == ino) return off + len <= m.size ? m.base + off : nullptr;
  }
  struct stat st;
  UniqueFd fd = OpenPeerMemfd(e, O_RDWR, &st);
  if (!fd.Valid()) return nullptr;
  // Only a memfd that cannot shrink under us: no SIGBUS from a peer.
  int seals = fcntl(fd.Get(), F_GET_SEALS);
  if (seals < 0 || !(seals & F_SEAL_SHRINK)) return nullptr;
  size_t size = static_cast<size_t>(st.st_size);
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.Get(), 0);
  if (base == MAP_FAILED) return nullptr;
  maps_.push_back({ino, static_cast<char*>(base), size});
  return off + len <= size ? static_cast<char*>(base) + off : nullptr;
}

// Unmaps the peer memfds its table no longer names (or all of them).
void UserRma::DropPeerMaps(bool all) {
  std::vector<PeerMap> keep;
  uint32_t n = peer_ != nullptr ? std::min<uint32_t>(peer_->count.load(), kMaxWindows) : 0;
  if (peer_ != nullptr) maps_seq_ = peer_->seq.load();
  for (auto& m : maps_) {
    bool named = false;
    for (uint32_t i = 0; !all && !named && i < n; i++)
      named = peer_->entries[i].state.load() != kFree && peer_->entries[i].memfd_ino == m.ino;
    if (named)
      keep.push_back(m);
    else
      munmap(m.base, m.size);
  }
  maps_.swap(keep);
}

int UserRma::Copy(bool to_peer, int64_t loffset, uint64_t len, int64_t roffset, int flags) {
  if ((flags & ~kRmaFlags) != 0 || loffset < 0 || roffset < 0 || len == 0) return -EINVAL;
  std::lock_guard<std::mutex> lock(mu_);
  if (!connected_) return -ENOTCONN;
  int rc = EnsureOwnTable();
  if (rc < 0) return rc;
  // writeTo reads our window and writes the peer's; readFrom the reverse.
  std::vector<Span> spans;
  rc = Resolve(table_, loffset, len, to_peer ? kProtRead : kProtWrite, &spans);
  if (rc < 0) return rc;
  std::vector<struct iovec> local;
  for (auto& s : spans) local.push_back({reinterpret_cast<void*>(s.addr), static_cast<size_t>(s.len)});
  return Transfer(to_peer, local.data(), static_cast<int>(local.size()), roffset, len,
                  to_peer ? kProtWrite : kProtRead);
}

int UserRma::VCopy(bool to_peer, void* addr, uint64_t len, int64_t roffset, int flags) {
  if ((flags & ~kRmaFlags) != 0 || roffset < 0 || len == 0) return -EINVAL;
  std::lock_guard<std::mutex> lock(mu_);
  if (!connected_) return -ENOTCONN;
  int rc = EnsureOwnTable();
  if (rc < 0) return rc;
  struct iovec local = {addr, static_cast<size_t>(len)};
  return Transfer(to_peer, &local, 1, roffset, len, to_peer ? kProtWrite : kProtRead);
}

int UserRma::FenceMark(int flags, int* mark) {
  if (flags != kInitSelf && flags != kInitPeer) return -EINVAL;
  std::lock_guard<std::mutex> lock(mu_);
  if (!connected_) return -ENOTCONN;
  int rc = EnsureOwnTable();
  if (rc < 0) return rc;
  if (flags == kInitSelf) {
    *mark = static_cast<int>(table_->issued.load() & kMarkMask);
    return 0;
  }
  rc = AttachPeer();
  if (rc == -ENXIO) {
    // The peer has not used RMA yet: nothing of its to wait for.
    *mark = kPeerMark;
    return 0;
  }
  if (rc < 0) return rc;
  *mark = kPeerMark | static_cast<int>(peer_->issued.load() & kMarkMask);
  return 0;
}

int UserRma::WaitMark(int mark) {
  if (mark < 0) return -EINVAL;
  bool peer = (mark & kPeerMark) != 0;
  uint64_t want = static_cast<uint64_t>(mark) & kMarkMask;
  RmaTable* t = peer ? peer_ : table_;
  if (t == nullptr) return 0;  // no copies were ever issued there
  for (int round = 0;; round++) {
    uint64_t done = t->completed.load() & kMarkMask;
    // Marks wrap at 2^30: "done" is at or past "want" within half the ring.
    if (((done - want) & kMarkMask) < (kMarkMask >> 1)) return 0;
    if (shutdown_.load()) return -ECONNRESET;
    if (peer && PeerGone()) return -ECONNRESET;
    Pause(round);
  }
}

int UserRma::FenceWait(int mark) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!connected_) return -ENOTCONN;
  if ((mark & kPeerMark) && peer_ == nullptr) {
    int rc = AttachPeer();
    if (rc < 0 && rc != -ENXIO) return rc;
  }
  return WaitMark(mark);
}

int UserRma::FenceSignal(int64_t loff, uint64_t lval, int64_t roff, uint64_t rval, int flags) {
  int init = flags & (kInitSelf | kInitPeer);
  int sig = flags & (kSignalLocal | kSignalRemote);
  if ((flags & ~(kInitSelf | kInitPeer | kSignalLocal | kSignalRemote)) != 0) return -EINVAL;
  if ((init != kInitSelf && init != kInitPeer) || sig == 0) return -EINVAL;
  if ((sig & kSignalLocal) && (loff < 0 || loff % 4 != 0)) return -EINVAL;
  if ((sig & kSignalRemote) && (roff < 0 || roff % 4 != 0)) return -EINVAL;
  int mark;
  int rc = FenceMark(init, &mark);
  if (rc < 0) return rc;
  std::lock_guard<std::mutex> lock(mu_);
  rc = WaitMark(mark);
  if (rc < 0) return rc;
  if (sig & kSignalLocal) {
    std::vector<Span> spans;
    rc = Resolve(table_, loff, sizeof(uint64_t), 0, &spans);
    if (rc < 0) return rc;
    if (spans.size() == 1 && spans[0].addr % 8 == 0) {
      __atomic_store_n(reinterpret_cast<uint64_t*>(spans[0].addr), lval, __ATOMIC_RELEASE);
    } else {
      const char* src = reinterpret_cast<const char*>(&lval);
      for (auto& s : spans) {
        memcpy(reinterpret_cast<void*>(s.addr), src, s.len);
        src += s.len;
      }
    }
  }
  if (sig & kSignalRemote) {
    struct iovec local = {&rval, sizeof(rval)};
    rc = Transfer(true, &local, 1, roff, sizeof(rval), 0);
    if (rc < 0) return rc;
  }
  return 0;
}

int UserRma::Mmap(int64_t roffset, uint64_t len, int prot, void** out) {
  if ((prot & ~(kProtRead | kProtWrite)) != 0 || len == 0 || roffset < 0 ||
      roffset % kPage != 0 || len % kPage != 0)
    return -EINVAL;
  std::lock_guard<std::mutex> lock(mu_);
  int rc = AttachPeer();
  if (rc < 0) return rc;
  std::vector<Span> spans;
  // Every mapping needs the window's read permission: a writable page can
  // always be read (as in scif.ko, where x86 has no write-only pages).
  rc = Resolve(peer_, roffset, len, prot | kProtRead, &spans);
  if (rc < 0) return rc;
  if (spans.size() != 1) return -ENXIO;  // one window at a time
  RmaEntry& e = peer_->entries[spans[0].index];
  uint64_t off = e.memfd_offset + static_cast<uint64_t>(roffset - e.offset);
  // Only memory the peer made shareable (scif.alloc) can be mapped here.
  if (e.memfd < 0) return -EOPNOTSUPP;
  struct stat st;
  UniqueFd fd = OpenPeerMemfd(e, (prot & kProtWrite) ? O_RDWR : O_RDONLY, &st);
  if (!fd.Valid()) return -ENXIO;
  int mprot = ((prot & kProtRead) ? PROT_READ : 0) | ((prot & kProtWrite) ? PROT_WRITE : 0);
  void* p = mmap(nullptr, len, mprot, MAP_SHARED, fd.Get(), static_cast<off_t>(off));
  if (p == MAP_FAILED) return -errno;
  *out = p;
  return 0;
}

}  // namespace scif
