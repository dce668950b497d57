// SPDX-License-Identifier: MIT
#include "user_stream.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "user_rma.h"

namespace scif {

namespace {

constexpr uint32_t kStreamMagic = 0x53434953;  // "SCIS"
enum : uint32_t { kIdle = 0, kPosted = 1, kDone = 2, kRefused = 3, kWithdrawn = 4 };

}  // namespace

// One per direction, made by the writer, shared with the reader.
struct StreamBlock {
  uint32_t magic;
  int32_t pid;                    // the writer
  std::atomic<uint32_t> state;    // kIdle .. kWithdrawn
  std::atomic<uint32_t> refs;     // readers copying now
  uint64_t start;                 // stream offset of the segment's first byte
  uint64_t addr;                  // where it is in the writer
  uint64_t len;
  std::atomic<uint64_t> consumed;
};

static_assert(std::atomic<uint32_t>::is_always_lock_free, "shared atomics");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared atomics");

UserStream::~UserStream() {
  Withdraw();
  if (block_ != nullptr) munmap(block_, sizeof(StreamBlock));
  if (block_fd_ >= 0) close(block_fd_);
  if (doorbell_ >= 0) close(doorbell_);
  if (peer_ != nullptr) munmap(peer_, sizeof(StreamBlock));
  if (peer_doorbell_ >= 0) close(peer_doorbell_);
}

void UserStream::SetConnection(int sockfd, pid_t peer, bool segments) {
  sockfd_ = sockfd;
  peer_pid_ = peer;
  segments_ = segments && peer > 0;
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
  if (ftruncate(fd, sizeof(StreamBlock)) == 0)
    p = mmap(nullptr, sizeof(StreamBlock), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int bell = p == MAP_FAILED ? -1 : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (bell < 0) {
    if (p != MAP_FAILED) munmap(p, sizeof(StreamBlock));
    close(fd);
    return false;
  }
  block_fd_ = fd;
  block_ = static_cast<StreamBlock*>(p);  // zero-filled: kIdle
  block_->magic = kStreamMagic;
  block_->pid = getpid();
  doorbell_ = bell;
  AllowPeerAccess(peer_pid_);  // the reader copies out of our memory
  return true;
}

long UserStream::Post(const struct iovec& v) {
  if (!EnsureBlock()) {
    segments_ = false;
    return SendInline(&v, 1);
  }
  const auto* base = static_cast<const uint8_t*>(v.iov_base);
  block_->start = sent_ + 1;
  block_->addr = reinterpret_cast<uintptr_t>(base + 1);
  block_->len = v.iov_len - 1;
  block_->consumed.store(0);
  block_->state.store(kPosted);
  // The first byte wakes the reader; the first time, it brings the block
  // and the doorbell along.
  struct iovec one = {const_cast<uint8_t*>(base), 1};
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &one;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
  if (!shared_) {
    memset(control, 0, sizeof(control));
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    int fds[2] = {block_fd_, doorbell_};
    memcpy(CMSG_DATA(c), fds, sizeof(fds));
  }
  ssize_t n;
  do {
    n = sendmsg(sockfd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != 1) {
    block_->state.store(kIdle);
    return n < 0 ? SendErrno(errno) : 0;
  }
  shared_ = true;
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
  if (reading_) {
    long k = Pull(data, len);
    if (k != 0 || reading_) return k;
    // The segment was withdrawn or refused: back to the socket.
  }
  alignas(struct cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
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
  if (peer_ != nullptr && peer_->state.load() == kPosted && peer_->start == received_) {
    // A segment follows what just arrived: copy it into the room left.
    reading_ = true;
    if (static_cast<size_t>(n) < len) {
      long k = Pull(data + n, len - static_cast<size_t>(n));
      if (k > 0) n += k;
    }
  }
  return n;
}

// Takes the block and doorbell a writer sent along with its first segment.
int UserStream::Adopt(int* fds, int nfds) {
  bool ok = nfds == 2 && peer_ == nullptr;
  struct stat st;
  if (ok) ok = fstat(fds[0], &st) == 0 && static_cast<size_t>(st.st_size) >= sizeof(StreamBlock);
  void* p = MAP_FAILED;
  if (ok) p = mmap(nullptr, sizeof(StreamBlock), PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
  auto* b = static_cast<StreamBlock*>(p);
  ok = p != MAP_FAILED && b->magic == kStreamMagic && b->pid == peer_pid_;
  // The doorbell must be an eventfd: writing 8 bytes to anything else
  // would be data.
  if (ok) {
    char link[64], target[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[1]);
    ssize_t t = readlink(link, target, sizeof(target) - 1);
    ok = t > 0 && (target[t] = '\0', strcmp(target, "anon_inode:[eventfd]") == 0);
  }
  if (!ok) {
    if (p != MAP_FAILED) munmap(p, sizeof(StreamBlock));
    for (int i = 0; i < nfds; i++) close(fds[i]);
    return -EPROTO;
  }
  close(fds[0]);
  peer_ = b;
  peer_doorbell_ = fds[1];
  return 0;
}

// Copies the next part of the peer's posted segment. Returns the bytes
// copied, 0 when the segment is no longer there (reading_ cleared), or
// -ECONNRESET when the writer has gone.
long UserStream::Pull(uint8_t* data, size_t len) {
  StreamBlock* b = peer_;
  b->refs.fetch_add(1);
  if (b->state.load() != kPosted || b->start + b->consumed.load() != received_) {
    b->refs.fetch_sub(1);
    reading_ = false;
    return 0;
  }
  uint64_t done = b->consumed.load();
  size_t take = static_cast<size_t>(std::min<uint64_t>(len, b->len - done));
  // All of it, or an error: a short copy would leave the caller waiting for
  // the socket, where nothing comes until the segment is done.
  ssize_t n = 0;
  int err = 0;
  while (static_cast<size_t>(n) < take) {
    struct iovec local = {data + n, take - static_cast<size_t>(n)};
    struct iovec remote = {reinterpret_cast<void*>(b->addr + done + static_cast<uint64_t>(n)),
                           take - static_cast<size_t>(n)};
    ssize_t r = process_vm_readv(peer_pid_, &local, 1, &remote, 1, 0);
    if (r > 0) {
      n += r;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    err = r < 0 ? errno : EFAULT;
    n = -1;
    break;
  }
  if (n > 0) b->consumed.store(done + static_cast<uint64_t>(n));
  b->refs.fetch_sub(1);
  uint64_t one = 1;
  if (n < 0) {
    if (err == EPERM || err == ENOSYS) {
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
  if (done + static_cast<uint64_t>(n) == b->len) {
    uint32_t expect = kPosted;
    b->state.compare_exchange_strong(expect, kDone);
    reading_ = false;
    (void)!write(peer_doorbell_, &one, sizeof(one));
  }
  return n;
}

}  // namespace scif
