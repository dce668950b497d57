// SPDX-License-Identifier: MIT
#include "user_stream.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>

#include "user_rma.h"

namespace scif {

namespace {

constexpr uint32_t kStreamMagic = 0x53434953;  // "SCIS"
enum : uint32_t { kIdle = 0, kPosted = 1, kDone = 2, kRefused = 3, kWithdrawn = 4 };
enum : uint32_t { kNone = 0, kAsk = 1, kTaken = 2, kHelped = 3, kFailed = 4 };

}  // namespace

// One per direction, made by the writer, shared with the reader.
struct StreamBlock {
  uint32_t magic;
  int32_t pid;                    // the writer
  std::atomic<uint32_t> state;    // kIdle .. kWithdrawn
  std::atomic<uint32_t> refs;     // readers copying now
  // The segment: written (relaxed) before state becomes kPosted, read
  // (relaxed) after it was seen so, each value checked where it is read;
  // atomics because the other side may change them at any time.
  std::atomic<uint64_t> start;    // stream offset of the segment's first byte
  std::atomic<uint64_t> addr;     // where it is in the writer
  std::atomic<uint64_t> len;
  std::atomic<uint64_t> consumed;
  // A shared copy (see user_stream.h): the reader asks the writer to copy
  // a part of the piece it is reading. The reader writes help_to, help_at,
  // help_len and help (kAsk, or back to kNone); the writer help (kTaken,
  // then kHelped or kFailed) and helper_spins.
  alignas(64) std::atomic<uint32_t> help;
  std::atomic<uint32_t> helper_spins;  // the writer spins and may help
  std::atomic<uint64_t> help_to;       // where, in the reader
  std::atomic<uint64_t> help_at;       // offset in the segment
  std::atomic<uint64_t> help_len;
  // The lane (see user_stream.h). The reader writes lane_head, received and
  // reader_sleeps; the writer lane_tail and writer_waits.
  alignas(64) std::atomic<uint64_t> lane_tail;  // lane bytes ever written
  std::atomic<uint32_t> writer_waits;           // the writer polls its doorbell
  alignas(64) std::atomic<uint64_t> lane_head;  // lane bytes ever taken
  std::atomic<uint64_t> received;               // the reader's stream offset
  std::atomic<uint32_t> reader_sleeps;          // ring the read bell
};

namespace {
// The block's first page holds the StreamBlock, the ring follows.
constexpr size_t kRingOffset = 4096;
constexpr size_t kBlockSize = kRingOffset + UserStream::kLaneSize;
constexpr long kNoLane = LONG_MIN;  // SendLane: not for the lane, go the usual way
static_assert(sizeof(StreamBlock) <= kRingOffset, "block header fits its page");
}  // namespace

static_assert(std::atomic<uint32_t>::is_always_lock_free, "shared atomics");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared atomics");

UserStream::~UserStream() {
  Withdraw();
  if (block_ != nullptr) munmap(block_, kBlockSize);
  if (block_fd_ >= 0) close(block_fd_);
  if (doorbell_ >= 0) close(doorbell_);
  if (read_bell_ >= 0) close(read_bell_);
  if (peer_ != nullptr) munmap(peer_, kBlockSize);
  if (peer_doorbell_ >= 0) close(peer_doorbell_);
  if (peer_read_bell_ >= 0) close(peer_read_bell_);
}

void UserStream::SetConnection(int sockfd, pid_t peer, bool segments, bool lane) {
  sockfd_ = sockfd;
  peer_pid_ = peer;
  segments_ = segments && peer > 0;
  helps_ = segments_;
  lane_ = lane && peer > 0;
}

bool UserStream::PeerHungUp() const {
  struct pollfd p = {sockfd_, POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

// --- Writing -------------------------------------------------------------------

static long SendErrno(int err) {
  if (err == EAGAIN || err == EWOULDBLOCK) return 0;
  if (err == EPIPE || err == ECONNRESET) return -ECONNRESET;
  return -err;
}

long UserStream::SendInline(const struct iovec* iov, int iovcnt) {
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = const_cast<struct iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(iovcnt);
  for (;;) {
    ssize_t n = sendmsg(sockfd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      sent_ += static_cast<uint64_t>(n);
      return n;
    }
    if (errno != EINTR) return SendErrno(errno);
  }
}

long UserStream::SendV(const struct iovec* iov, int iovcnt) {
  if (iovcnt <= 0) return 0;
  if (posted_) return Collect(iov[0]);
  if (lane_) {
    long n = SendLane(iov, iovcnt);
    if (n != kNoLane) return n;
  }
  if (!segments_) return SendInline(iov, iovcnt);
  // Everything before the first large buffer goes through the socket.
  int small = 0;
  while (small < iovcnt && iov[small].iov_len < kSegmentMin) small++;
  if (small > 0) return SendInline(iov, small);
  return Post(iov[0]);
}

bool UserStream::EnsureBlock() {
  if (block_ != nullptr) return true;
  int fd = memfd_create("scif-stream", MFD_CLOEXEC);
  if (fd < 0) return false;
  void* p = MAP_FAILED;
  if (ftruncate(fd, kBlockSize) == 0)
    p = mmap(nullptr, kBlockSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int bell = p == MAP_FAILED ? -1 : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int read_bell = bell < 0 ? -1 : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (read_bell < 0) {
    if (bell >= 0) close(bell);
    if (p != MAP_FAILED) munmap(p, kBlockSize);
    close(fd);
    return false;
  }
  block_fd_ = fd;
  block_ = static_cast<StreamBlock*>(p);  // zero-filled: kIdle
  block_->magic = kStreamMagic;
  block_->pid = getpid();
  block_->reader_sleeps.store(1);  // until the reader says it spins
  ring_ = static_cast<uint8_t*>(p) + kRingOffset;
  doorbell_ = bell;
  read_bell_ = read_bell;
  AllowPeerAccess(peer_pid_);  // the reader copies out of our memory
  return true;
}

long UserStream::Post(const struct iovec& v) {
  if (!EnsureBlock()) {
    segments_ = false;
    return SendInline(&v, 1);
  }
  const auto* base = static_cast<const uint8_t*>(v.iov_base);
  block_->start.store(sent_ + 1, std::memory_order_relaxed);
  block_->addr.store(reinterpret_cast<uintptr_t>(base + 1), std::memory_order_relaxed);
  block_->len.store(v.iov_len - 1, std::memory_order_relaxed);
  block_->consumed.store(0);
  block_->help.store(kNone);
  block_->helper_spins.store(0);
  block_->state.store(kPosted);
  // The first byte wakes the reader; the first time, it brings the block
  // and the doorbell along.
  struct iovec one = {const_cast<uint8_t*>(base), 1};
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &one;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(3 * sizeof(int))];
  if (!shared_) AttachBlock(&msg, control, sizeof(control));
  ssize_t n;
  do {
    n = sendmsg(sockfd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != 1) {
    block_->state.store(kIdle);
    return n < 0 ? SendErrno(errno) : 0;
  }
  Shared();
  sent_ += 1;
  posted_ = true;
  post_base_ = base;
  post_len_ = v.iov_len;
  return 0;  // not sent until the reader has it: poll the doorbell
}

long UserStream::Collect(const struct iovec& v) {
  // The caller comes back with the same write until it is counted as sent.
  if (v.iov_base != post_base_ || v.iov_len < post_len_) return -EINVAL;
  uint64_t ring;
  while (read(doorbell_, &ring, sizeof(ring)) > 0) {
  }
  uint32_t state = block_->state.load();
  if (state == kDone || state == kRefused) block_->helper_spins.store(0);
  if (state == kDone) {
    block_->state.store(kIdle);
    posted_ = false;
    sent_ += post_len_ - 1;
    return static_cast<long>(post_len_);
  }
  if (state == kRefused) {
    // What the reader did copy counts; the rest goes through the socket.
    uint64_t got = block_->consumed.load();
    block_->state.store(kIdle);
    posted_ = false;
    segments_ = false;
    sent_ += got;
    return static_cast<long>(1 + got);
  }
  if (PeerHungUp()) {
    Withdraw();
    return -ECONNRESET;
  }
  return 0;
}

// Copies |len| bytes between |local| and |remote| in |pid|: to it
// (process_vm_writev) or from it (process_vm_readv). All of them, or an
// error (-errno): a short copy of a posted write would leave the reader
// waiting for the socket, where nothing comes until the segment is done.
static long CopyWithPeer(pid_t pid, bool to_peer, uint8_t* local, uint64_t remote, size_t len) {
  size_t n = 0;
  while (n < len) {
    struct iovec l = {local + n, len - n};
    struct iovec r = {reinterpret_cast<void*>(remote + n), len - n};
    ssize_t got = to_peer ? process_vm_writev(pid, &l, 1, &r, 1, 0)
                          : process_vm_readv(pid, &l, 1, &r, 1, 0);
    if (got > 0) {
      n += static_cast<size_t>(got);
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    return got < 0 ? -errno : -EFAULT;
  }
  return static_cast<long>(n);
}

void UserStream::SetHelping(bool spinning) {
  if (!posted_ || block_ == nullptr) return;
  block_->helper_spins.store(spinning && helps_ ? 1 : 0);
}

// The writer's half of a shared copy: what the reader asked for, if it is
// a part of our posted segment (the reader is not trusted: anything else is
// refused), straight into the reader's memory.
bool UserStream::Help() {
  if (!posted_ || block_ == nullptr) return false;
  uint32_t expect = kAsk;
  if (!block_->help.compare_exchange_strong(expect, kTaken)) return false;
  // Read once: the reader could change them while we copy.
  uint64_t to = block_->help_to.load(std::memory_order_relaxed);
  uint64_t at = block_->help_at.load(std::memory_order_relaxed);
  uint64_t len = block_->help_len.load(std::memory_order_relaxed);
  uint64_t seg = post_len_ - 1;
  bool ok = len > 0 && at < seg && len <= seg - at;
  if (ok) {
    long r = CopyWithPeer(peer_pid_, true, const_cast<uint8_t*>(post_base_) + 1 + at, to,
                          static_cast<size_t>(len));
    // Not allowed (or its memory is not there): the reader copies that part
    // itself, and after a refusal we stop offering.
    if (r == -EPERM || r == -ENOSYS) helps_ = false;
    ok = r >= 0;
  }
  if (ok) helped_bytes_ += len;
  if (!helps_) block_->helper_spins.store(0);
  block_->help.store(ok ? kHelped : kFailed);
  return true;
}

// The reader has the block (our mapping stays): its fd is no longer needed.
void UserStream::Shared() {
  shared_ = true;
  if (block_fd_ >= 0) close(block_fd_);
  block_fd_ = -1;
}

// Puts the block, the doorbell and the read bell in |msg| (SCM_RIGHTS).
void UserStream::AttachBlock(struct msghdr* msg, char* control, size_t size) {
  memset(control, 0, size);
  msg->msg_control = control;
  msg->msg_controllen = size;
  struct cmsghdr* c = CMSG_FIRSTHDR(msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(3 * sizeof(int));
  int fds[3] = {block_fd_, doorbell_, read_bell_};
  memcpy(CMSG_DATA(c), fds, sizeof(fds));
}

// The first small write: through the socket, with the block along.
long UserStream::ShareBlock(const struct iovec* iov, int iovcnt) {
  if (!EnsureBlock()) {
    lane_ = false;
    return SendInline(iov, iovcnt);
  }
  int small = 0;
  while (small < iovcnt && iov[small].iov_len < kLaneMax) small++;
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = const_cast<struct iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(small);
  alignas(struct cmsghdr) char control[CMSG_SPACE(3 * sizeof(int))];
  AttachBlock(&msg, control, sizeof(control));
  ssize_t n;
  do {
    n = sendmsg(sockfd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return SendErrno(errno);
  if (n > 0) Shared();
  sent_ += static_cast<uint64_t>(n);
  return n;
}

// A write through the lane: the bytes moved, 0 to wait (for room, or for
// the ring to empty before a large write), or kNoLane for the usual way.
long UserStream::SendLane(const struct iovec* iov, int iovcnt) {
  bool small = iov[0].iov_len < kLaneMax;
  // Only a chatty connection takes the lane: one that mixes small and large
  // writes (a header, then a bulk body) would wait at every switch for the
  // reader to empty the ring, and a bulk one needs no block at all.
  small_run_ = small ? small_run_ + 1 : 0;
  if (!lane_mode_ && small_run_ < kLaneAfter) return kNoLane;
  if (!shared_) return small ? ShareBlock(iov, iovcnt) : kNoLane;
  if (lane_waits_) {
    uint64_t ring;
    while (read(doorbell_, &ring, sizeof(ring)) > 0) {
    }
  }
  uint64_t tail = block_->lane_tail.load(std::memory_order_relaxed);
  if (!lane_mode_) {
    // Into the ring only once the reader has all we sent through the socket.
    if (!small || block_->received.load(std::memory_order_acquire) != sent_) {
      lane_waits_ = false;
      return kNoLane;
    }
    lane_mode_ = true;
  }
  for (int round = 0;; round++) {
    uint64_t head = block_->lane_head.load(std::memory_order_acquire);
    if (tail - head > kLaneSize) return -EPROTO;  // not our reader's doing
    if (!small && head == tail) {
      // The ring is empty: back to the socket.
      lane_mode_ = false;
      lane_waits_ = false;
      return kNoLane;
    }
    size_t room = kLaneSize - static_cast<size_t>(tail - head);
    if (small && room > 0) {
      size_t n = 0;
      for (int i = 0; i < iovcnt && n < room && iov[i].iov_len < kLaneMax; i++) {
        const auto* src = static_cast<const uint8_t*>(iov[i].iov_base);
        size_t take = std::min(iov[i].iov_len, room - n);
        size_t at = static_cast<size_t>((tail + n) % kLaneSize);
        size_t first = std::min(take, kLaneSize - at);
        memcpy(ring_ + at, src, first);
        if (first < take) memcpy(ring_, src + first, take - first);
        n += take;
        if (take < iov[i].iov_len) break;
      }
      block_->lane_tail.store(tail + n, std::memory_order_release);
      sent_ += n;
      lane_waits_ = false;
      std::atomic_thread_fence(std::memory_order_seq_cst);
      // A reader reads until it finds the ring empty: only a ring that was
      // empty needs the bell (and only when the reader may sleep).
      if (block_->lane_head.load(std::memory_order_relaxed) == tail &&
          block_->reader_sleeps.load(std::memory_order_relaxed) != 0) {
        uint64_t one = 1;
        (void)!write(read_bell_, &one, sizeof(one));
      }
      return static_cast<long>(n);
    }
    if (round > 0) break;
    // Wait: say so, then look again (the reader may have just taken bytes).
    block_->writer_waits.store(1);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  if (PeerHungUp()) return -ECONNRESET;
  lane_waits_ = true;
  return 0;
}

// Takes a posted segment back; a reader copying it finishes first.
void UserStream::Withdraw() {
  if (!posted_) return;
  posted_ = false;
  uint32_t expect = kPosted;
  block_->state.compare_exchange_strong(expect, kWithdrawn);
  for (int round = 0; block_->refs.load() != 0 && round < 200; round++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, nullptr);
  }
}

// --- Reading -------------------------------------------------------------------

long UserStream::Recv(uint8_t* data, size_t len) {
  if (len == 0) return 0;
  if (peer_ != nullptr) {
    long k = PullLane(data, len);
    if (k != 0) return k;
  }
  long n = RecvSocket(data, len);
  // Tell the writer how far we are: it moves to its lane only once we have
  // everything it sent through the socket.
  if (peer_ != nullptr) peer_->received.store(received_, std::memory_order_release);
  return n;
}

bool UserStream::LaneReadable() const {
  return peer_ != nullptr && peer_->lane_tail.load(std::memory_order_acquire) !=
                                 peer_->lane_head.load(std::memory_order_relaxed);
}

long UserStream::PullLane(uint8_t* data, size_t len) {
  StreamBlock* b = peer_;
  uint64_t head = b->lane_head.load(std::memory_order_relaxed);
  size_t total = 0;
  // Until |data| is full or the ring is found empty after our head is out:
  // the writer rings only a ring that was empty, so a reader that stops
  // while bytes remain would not be told of them.
  while (total < len) {
    uint64_t tail = b->lane_tail.load(std::memory_order_acquire);
    if (tail == head) break;
    if (tail - head > kLaneSize) return -EPROTO;  // not our writer's doing
    size_t n = static_cast<size_t>(std::min<uint64_t>(len - total, tail - head));
    size_t at = static_cast<size_t>(head % kLaneSize);
    size_t first = std::min(n, kLaneSize - at);
    memcpy(data + total, peer_ring_ + at, first);
    if (first < n) memcpy(data + total + first, peer_ring_, n - first);
    head += n;
    total += n;
    b->lane_head.store(head, std::memory_order_release);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  if (total == 0) return 0;
  received_ += total;
  b->received.store(received_, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (b->writer_waits.load(std::memory_order_relaxed) != 0 && b->writer_waits.exchange(0) != 0) {
    uint64_t one = 1;
    (void)!write(peer_doorbell_, &one, sizeof(one));
  }
  return static_cast<long>(total);
}

void UserStream::SetSpinning(bool spinning) {
  if (peer_ == nullptr || spinning == spinning_) return;
  spinning_ = spinning;
  peer_->reader_sleeps.store(spinning ? 0 : 1);  // seq_cst: then the caller looks at the ring
}

void UserStream::AckReadBell() {
  uint64_t v;
  if (peer_read_bell_ >= 0) (void)!read(peer_read_bell_, &v, sizeof(v));
}

void UserStream::KickReadBell() {
  uint64_t one = 1;
  if (peer_read_bell_ >= 0) (void)!write(peer_read_bell_, &one, sizeof(one));
}

long UserStream::RecvSocket(uint8_t* data, size_t len) {
  if (reading_) {
    long k = Pull(data, len);
    if (k != 0 || reading_) return k;
    // The segment was withdrawn or refused: back to the socket.
  }
  alignas(struct cmsghdr) char control[CMSG_SPACE(3 * sizeof(int))];
  struct iovec v = {data, len};
  struct msghdr msg;
  ssize_t n;
  for (;;) {
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &v;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    n = recvmsg(sockfd_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n >= 0 || errno != EINTR) break;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno == ECONNRESET || errno == EPIPE) return -ECONNRESET;
    return -errno;
  }
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int fds[8];
    int nfds = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    nfds = std::min(nfds, 8);
    memcpy(fds, CMSG_DATA(c), static_cast<size_t>(nfds) * sizeof(int));
    int rc = Adopt(fds, nfds);
    if (rc < 0) return rc;
  }
  if (msg.msg_flags & MSG_CTRUNC) return -EPROTO;
  if (n == 0) return -ECONNRESET;  // the peer has gone, all drained
  received_ += static_cast<uint64_t>(n);
  if (peer_ != nullptr && peer_->state.load() == kPosted &&
      peer_->start.load(std::memory_order_relaxed) == received_) {
    // A segment follows what just arrived: copy it into the room left.
    reading_ = true;
    if (static_cast<size_t>(n) < len) {
      long k = Pull(data + n, len - static_cast<size_t>(n));
      if (k > 0) n += k;
    }
  }
  return n;
}

// Takes the block, doorbell and read bell a writer sent along with its
// first segment or small write.
int UserStream::Adopt(int* fds, int nfds) {
  bool ok = nfds == 3 && peer_ == nullptr;
  struct stat st;
  if (ok) ok = fstat(fds[0], &st) == 0 && static_cast<size_t>(st.st_size) >= kBlockSize;
  void* p = MAP_FAILED;
  if (ok) p = mmap(nullptr, kBlockSize, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
  auto* b = static_cast<StreamBlock*>(p);
  ok = p != MAP_FAILED && b->magic == kStreamMagic && b->pid == peer_pid_;
  // The bells must be eventfds: writing 8 bytes to anything else would be
  // data.
  for (int i = 1; ok && i < 3; i++) {
    char link[64], target[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[i]);
    ssize_t t = readlink(link, target, sizeof(target) - 1);
    ok = t > 0 && (target[t] = '\0', strcmp(target, "anon_inode:[eventfd]") == 0);
  }
  if (!ok) {
    if (p != MAP_FAILED) munmap(p, kBlockSize);
    for (int i = 0; i < nfds; i++) close(fds[i]);
    return -EPROTO;
  }
  close(fds[0]);
  peer_ = b;
  peer_ring_ = static_cast<const uint8_t*>(p) + kRingOffset;
  peer_doorbell_ = fds[1];
  peer_read_bell_ = fds[2];
  return 0;
}

// Asks the writer (spinning, see SetHelping) to copy the second part of a
// piece of |take| bytes into |data|; returns where that part starts, or
// |take| when the writer is not asked.
size_t UserStream::AskHelp(uint8_t* data, uint64_t done, size_t take) {
  StreamBlock* b = peer_;
  if (!asks_ || take < kHelpMin || b->helper_spins.load() != 1 || b->help.load() != kNone)
    return take;
  if (!granted_) {
    AllowPeerAccess(peer_pid_);  // the writer copies into our memory
    granted_ = true;
  }
  size_t mine = (take / 2 + 4095) & ~static_cast<size_t>(4095);  // ours: half or more
  b->help_to.store(reinterpret_cast<uintptr_t>(data + mine), std::memory_order_relaxed);
  b->help_at.store(done + mine, std::memory_order_relaxed);
  b->help_len.store(take - mine, std::memory_order_relaxed);
  b->help.store(kAsk);
  return mine;
}

// After our part of a shared copy: 1 if the writer copied its part, 0 if
// it had not taken it (taken back here) or failed; -ECONNRESET if it went
// while copying, -EPROTO if it took it and did not finish within a second.
long UserStream::EndHelp() {
  StreamBlock* b = peer_;
  uint32_t state = kAsk;
  if (b->help.compare_exchange_strong(state, kNone)) return 0;  // not taken
  // Taken: it is copying (a half piece: well under a millisecond).
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (uint32_t spin = 0; (state = b->help.load()) == kTaken; spin++) {
    if ((spin & 255) != 255) continue;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double waited = static_cast<double>(t.tv_sec - t0.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec - t0.tv_nsec);
    if (PeerHungUp()) return -ECONNRESET;
    if (waited > 1.0) {
      asks_ = false;
      return -EPROTO;  // it may still write there: the stream cannot go on
    }
    sched_yield();
  }
  b->help.store(kNone);
  if (state == kHelped) return 1;
  asks_ = state == kFailed;  // anything else is not our writer's doing
  return 0;
}

// Copies the next part of the peer's posted segment. Returns the bytes
// copied, 0 when the segment is no longer there (reading_ cleared), or
// -ECONNRESET when the writer has gone. Across cores, a writer that spins
// while we copy may take a part of the piece (AskHelp).
long UserStream::Pull(uint8_t* data, size_t len) {
  StreamBlock* b = peer_;
  b->refs.fetch_add(1);
  bool posted = b->state.load() == kPosted;
  uint64_t done = b->consumed.load();
  if (!posted || b->start.load(std::memory_order_relaxed) + done != received_) {
    b->refs.fetch_sub(1);
    reading_ = false;
    return 0;
  }
  uint64_t addr = b->addr.load(std::memory_order_relaxed);
  uint64_t seg = b->len.load(std::memory_order_relaxed);
  if (done > seg) {
    b->refs.fetch_sub(1);
    return -EPROTO;
  }
  size_t take = static_cast<size_t>(std::min<uint64_t>(len, seg - done));
  size_t mine = AskHelp(data, done, take);
  long n = CopyWithPeer(peer_pid_, false, data, addr + done, mine);
  if (mine < take) {
    long helped = EndHelp();
    if (helped < 0) {
      b->refs.fetch_sub(1);
      return helped;
    }
    if (n >= 0 && helped == 0) {
      long rest = CopyWithPeer(peer_pid_, false, data + mine, addr + done + mine, take - mine);
      n = rest < 0 ? rest : n + rest;
    } else if (n >= 0) {
      n = static_cast<long>(take);
      helped_bytes_ += take - mine;
    }
  }
  if (n > 0) b->consumed.store(done + static_cast<uint64_t>(n));
  b->refs.fetch_sub(1);
  uint64_t one = 1;
  if (n < 0) {
    if (n == -EPERM || n == -ENOSYS) {
      // Not allowed to read the writer's memory: it sends the rest inline.
      uint32_t expect = kPosted;
      b->state.compare_exchange_strong(expect, kRefused);
      reading_ = false;
      (void)!write(peer_doorbell_, &one, sizeof(one));
      return 0;
    }
    return -ECONNRESET;  // the writer (or its memory) is gone
  }
  received_ += static_cast<uint64_t>(n);
  if (done + static_cast<uint64_t>(n) == seg) {
    uint32_t expect = kPosted;
    b->state.compare_exchange_strong(expect, kDone);
    reading_ = false;
    (void)!write(peer_doorbell_, &one, sizeof(one));
  }
  return n;
}

}  // namespace scif
