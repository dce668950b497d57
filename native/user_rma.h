// SPDX-License-Identifier: MIT
// UserRma: windows, RMA, fences and mmap for the user provider.
//
// Each connected endpoint that uses RMA publishes a window table in a memfd
// of its own, named after the connection ("scif-rma:<node>.<port>-<node>.
// <port>"), mapped shared. Its peer finds the memfd through
// /proc/<pid>/fd (same uid), maps it, and resolves offsets there. Copies are
// single-copy, checked against the table (bounds, protection) before any
// byte moves: a memcpy when the peer's window is scif.alloc memory (a memfd
// sealed against shrinking, mapped here once), else process_vm_readv/writev. While a peer copies, it
// holds a reference on each window it touches; unregister marks a window
// dying and waits for those references to drain. Fences: this provider
// completes its copies in order on the endpoint's RMA thread, so a mark is
// a count of copies issued, and a wait is for the copier's completed count
// to pass it.
#ifndef SCIF_NATIVE_USER_RMA_H_
#define SCIF_NATIVE_USER_RMA_H_

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "provider.h"
#include "unique_fd.h"

namespace scif {

struct RmaTable;

// Lets |pid| read and write this process's memory under Yama's
// ptrace_scope 1 (process_vm_readv/writev), as peers of RMA and of posted
// stream segments do.
void AllowPeerAccess(pid_t pid);

class UserRma {
 public:
  UserRma() = default;
  UserRma(const UserRma&) = delete;
  UserRma& operator=(const UserRma&) = delete;
  ~UserRma();

  // Called once the endpoint is connected: the socket, the peer's pid
  // (SO_PEERCRED; -1 if unknown) and the two ports.
  void SetConnection(int sockfd, pid_t peer, PortId local, PortId remote);

  int64_t Register(void* addr, uint64_t len, int64_t offset, int prot, int flags);
  int Unregister(int64_t offset, uint64_t len);
  int Copy(bool to_peer, int64_t loffset, uint64_t len, int64_t roffset, int flags);
  int VCopy(bool to_peer, void* addr, uint64_t len, int64_t roffset, int flags);
  int FenceMark(int flags, int* mark);
  int FenceWait(int mark);
  int FenceSignal(int64_t loff, uint64_t lval, int64_t roff, uint64_t rval, int flags);
  int Mmap(int64_t roffset, uint64_t len, int prot, void** out);
  void Shutdown();

  // A resolved piece of a registered range.
  struct Span;

 private:
  int EnsureOwnTable();
  int AttachPeer();
  // |thorough| also asks /proc (slower; for error paths).
  bool PeerGone(bool thorough = false);
  int Transfer(bool to_peer, const struct iovec* local, int nlocal, int64_t roffset,
               uint64_t len, int need_prot);
  int WaitMark(int mark);
  // The peer's memory behind |e| at |in|..|in + len| mapped here, when the
  // window is scif.alloc memory sealed against shrinking; else nullptr.
  char* PeerMemory(const struct RmaEntry& e, uint64_t in, uint64_t len);
  UniqueFd OpenPeerMemfd(const struct RmaEntry& e, int mode, struct stat* st);
  void DropPeerMaps(bool all);

  // The peer's scif.alloc memfds mapped here, by inode; copies into them
  // are a plain memcpy. Dropped when the peer's table no longer names them.
  struct PeerMap {
    uint64_t ino;
    char* base;
    size_t size;
  };
  std::vector<PeerMap> maps_;
  uint32_t maps_seq_ = 0;

  std::mutex mu_;
  bool connected_ = false;
  pid_t peer_pid_ = -1;
  int peer_pidfd_ = -1;
  int sockfd_ = -1;  // the connection (owned by the endpoint), for hang-ups
  PortId local_;
  PortId remote_;
  int table_fd_ = -1;
  RmaTable* table_ = nullptr;
  RmaTable* peer_ = nullptr;
  std::atomic<bool> shutdown_{false};
};

}  // namespace scif

#endif  // SCIF_NATIVE_USER_RMA_H_
