// SPDX-License-Identifier: MIT
// UserStream: the user provider's byte stream, with large writes in one copy.
//
// Small writes go through the connection's AF_UNIX socket (two copies, as
// any socket). A write of kSegmentMin bytes or more is posted instead: its
// first byte goes through the socket, and the rest stays in the writer's
// memory as a segment described in a small shared block (a memfd), which
// the reader copies straight into its own buffer with process_vm_readv, at
// the stream offset right after that byte. No framing is needed: both sides
// count stream offsets, and a writer posts at most one segment at a time and
// sends nothing after it until the reader is done with it. The write counts
// as sent (its callback may run, its Buffer may be reused) only then: the
// reader rings the writer's doorbell (an eventfd), which the endpoint polls
// in place of the socket's writability while a segment is posted. The first
// posted byte carries the block and the doorbell to the reader
// (SCM_RIGHTS). A reader that may not read the writer's memory (Yama
// ptrace_scope 2 or more) refuses the segment: the writer then sends the
// rest through the socket, and stops posting.
//
// A shared copy: across cores, a writer whose loop spins while its segment
// is out (busy_poll.h) says so in the block, and a reader about to copy a
// piece of kHelpMin bytes or more asks it to copy the second half (where
// to, in the reader, and which part of the segment), copies the first half
// itself, then takes the request back if the writer has not taken it, or
// waits for it to finish. The writer copies with process_vm_writev, so the
// reader first lets it (PR_SET_PTRACER, as the writer let the reader), and
// it copies only a part of its own segment, whatever the request says.
//
// The lane: small writes go through a ring in the same shared block instead
// of the socket, so that a reader that is spinning (busy_poll.h) sees them
// without a system call on either side (and one that sleeps is woken by an
// eventfd, cheaper than a socket message). Bytes are in the ring or in the socket,
// never both: the writer moves to the ring only once the reader has
// received everything sent through the socket (the reader publishes its
// stream offset in the block), and back to the socket only once the ring is
// empty. A reader that may sleep says so in the block; the writer then
// rings its read bell (an eventfd the reader polls) when the ring was empty
// (a reader reads until it finds the ring empty). A writer waiting for
// room in the ring polls its doorbell, which the reader rings once it has
// taken bytes out. The block, doorbell and read bell go to the reader with
// the first small write (SCM_RIGHTS), which itself goes through the socket;
// a connection takes the lane after kLaneAfter small writes in a row.
#ifndef SCIF_NATIVE_USER_STREAM_H_
#define SCIF_NATIVE_USER_STREAM_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace scif {

struct StreamBlock;

class UserStream {
 public:
  // Writes this large or larger are posted as segments. Below it the
  // socket wins: a posted write costs two wake-ups and a doorbell, which at
  // 256 KiB cost more than the second copy (2 against 3-4 GB/s, one core or
  // two; at 1 MiB they were even, at 4 MiB posting won 1.5-2x).
  static constexpr size_t kSegmentMin = 1024 * 1024;
  // The lane's ring, and the largest write that goes through it.
  static constexpr size_t kLaneSize = 64 * 1024;
  static constexpr size_t kLaneMax = 16 * 1024;
  // Small writes in a row before a connection takes the lane.
  static constexpr uint32_t kLaneAfter = 4;
  // The smallest piece a reader shares with a spinning writer.
  static constexpr size_t kHelpMin = 256 * 1024;

  UserStream() = default;
  UserStream(const UserStream&) = delete;
  UserStream& operator=(const UserStream&) = delete;
  // Withdraws a posted segment and waits (briefly) for a reader copying it.
  ~UserStream();

  // The connected socket (owned by the endpoint), the peer's pid, and
  // whether to post large writes (a reader takes posted segments anyway),
  // and whether to send small writes through the lane.
  void SetConnection(int sockfd, pid_t peer, bool segments, bool lane);

  // As send(2)/sendmsg(2)/recv(2) on the socket: bytes moved, 0 for "would
  // block", or -errno (-ECONNRESET: the peer has gone).
  long SendV(const struct iovec* iov, int iovcnt);
  long Recv(uint8_t* data, size_t len);
  // The doorbell to poll (readable) instead of the socket's writability
  // while a segment is posted; -1 otherwise.
  int WriteWaitFd() const { return posted_ || lane_waits_ ? doorbell_ : -1; }

  // Reader side of the lane. The read bell to poll (readable) while
  // reading, once the peer has shared its lane; -1 before.
  int ReadWaitFd() const { return peer_ != nullptr ? peer_read_bell_ : -1; }
  // Whether the peer's lane holds bytes for us (no system call).
  bool LaneReadable() const;
  // Spinning: the writer need not ring. Not spinning: it must (and the
  // caller checks LaneReadable() afterwards, for bytes that came before).
  void SetSpinning(bool spinning);
  // Drains the read bell (it was seen readable).
  void AckReadBell();
  // Rings our own read bell: bytes are in the lane that no bell announced.
  void KickReadBell();

  // Writer side of a shared copy: whether our loop spins now (a reader may
  // ask for help only then), and the request served, if one is waiting
  // (true if there was one).
  void SetHelping(bool spinning);
  bool Help();
  // Bytes copied by a writer for us, and by us for a reader (tests, bench).
  uint64_t HelpedBytes() const { return helped_bytes_; }

 private:
  long SendInline(const struct iovec* iov, int iovcnt);
  long SendLane(const struct iovec* iov, int iovcnt);
  long ShareBlock(const struct iovec* iov, int iovcnt);
  long PullLane(uint8_t* data, size_t len);
  long RecvSocket(uint8_t* data, size_t len);
  void AttachBlock(struct msghdr* msg, char* control, size_t size);
  void Shared();
  long Post(const struct iovec& v);
  long Collect(const struct iovec& v);
  bool EnsureBlock();
  void Withdraw();
  long Pull(uint8_t* data, size_t len);
  size_t AskHelp(uint8_t* data, uint64_t done, size_t take);
  long EndHelp();
  int Adopt(int* fds, int nfds);
  bool PeerHungUp() const;

  int sockfd_ = -1;
  pid_t peer_pid_ = -1;
  // Writer side.
  int block_fd_ = -1;
  StreamBlock* block_ = nullptr;
  int doorbell_ = -1;
  bool shared_ = false;    // the peer has our block and doorbell
  bool posted_ = false;    // a segment is out
  bool segments_ = false;  // post large writes (not after a refusal)
  bool lane_ = false;      // small writes through the lane
  bool helps_ = false;     // offer readers a shared copy (not after a failure)
  bool lane_mode_ = false; // bytes in flight are in the ring (not the socket)
  bool lane_waits_ = false;  // a write waits for room (or for the ring to empty)
  uint32_t small_run_ = 0;   // small writes in a row
  int read_bell_ = -1;     // the reader's bell for our lane (we ring it)
  uint8_t* ring_ = nullptr;
  const uint8_t* post_base_ = nullptr;
  size_t post_len_ = 0;
  uint64_t sent_ = 0;      // stream bytes counted as sent
  // Reader side.
  StreamBlock* peer_ = nullptr;
  int peer_doorbell_ = -1;
  int peer_read_bell_ = -1;
  const uint8_t* peer_ring_ = nullptr;
  bool spinning_ = false;
  bool asks_ = true;       // ask spinning writers for help (not after a failure)
  bool granted_ = false;   // the writer may write our memory (PR_SET_PTRACER)
  uint64_t helped_bytes_ = 0;
  bool reading_ = false;   // a segment starts at (or continues from) received_
  uint64_t received_ = 0;  // stream bytes delivered
};

}  // namespace scif

#endif  // SCIF_NATIVE_USER_STREAM_H_
