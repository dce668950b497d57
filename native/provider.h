// SPDX-License-Identifier: MIT
// The provider interface: the one seam between "how Node sees an endpoint"
// and "how SCIF is implemented". Every provider hands back a pollable fd per
// endpoint, so polling, streams and RMA plumbing are written once.
//
// Conventions: methods return >= 0 on success and a negative errno on
// failure; they never throw and never block (the fd is non-blocking).
#ifndef SCIF_NATIVE_PROVIDER_H_
#define SCIF_NATIVE_PROVIDER_H_

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <memory>
#include <string>
#include <vector>

namespace scif {

struct PortId {
  uint16_t node = 0;
  uint16_t port = 0;
};

// Platform settings a provider is opened with (from SCIF_NODE/SCIF_NODES).
struct PlatformConfig {
  uint16_t node = 0;    // this process's node
  uint16_t nodes = 2;   // platform size (user provider only)
  // Large writes in one copy (user provider, user_stream.h).
  enum Segments : uint8_t { kSegmentsAuto = 0, kSegmentsOn = 1, kSegmentsOff = 2 };
  Segments segments = kSegmentsAuto;
  // Small writes through shared memory where both sides can run at once.
  bool lane = true;
};

class ProviderEndpoint {
 public:
  virtual ~ProviderEndpoint() = default;

  // The pollable descriptor; owned by the endpoint.
  virtual int Fd() const = 0;

  // Binds to |port| (0: assign one). Returns the port bound or -errno.
  virtual int Bind(uint16_t port) = 0;
  // Marks the endpoint listening. Returns 0 or -errno.
  virtual int Listen(int backlog) = 0;
  // Starts a connection. Returns 0 (connected), -EINPROGRESS (poll for
  // writable, then call FinishConnect) or -errno.
  virtual int Connect(PortId peer) = 0;
  // Collects the result of an in-progress connect: 0 or -errno.
  virtual int FinishConnect() = 0;
  // Accepts one queued connection. Returns 0 and sets |out|, or -EAGAIN when
  // the queue is empty, or -errno.
  virtual int Accept(std::unique_ptr<ProviderEndpoint>* out) = 0;
  // Byte stream. Both return the bytes moved; 0 means "would block".
  // Recv returns -ECONNRESET once the peer has gone and the queue is drained.
  virtual long Send(const uint8_t* data, size_t len) = 0;
  virtual long SendV(const struct iovec* iov, int iovcnt) = 0;
  virtual long Recv(uint8_t* data, size_t len) = 0;

  virtual PortId Local() const = 0;
  virtual PortId Remote() const = 0;
  // Whether polling for the peer's reply beats sleeping: not when the peer
  // can only run on the one CPU we can only run on too (busy_poll.h).
  virtual bool BusyPollUseful() { return true; }
  // While >= 0, an fd to poll for readable in place of Fd()'s writability:
  // a write waits on something other than the socket (user_stream.h).
  virtual int WriteWaitFd() const { return -1; }
  // The small-message lane (user_stream.h): while >= 0, an fd to poll
  // (readable) as well as Fd() while reading: the peer rings it when it
  // puts bytes in the lane while we may sleep.
  virtual int ReadWaitFd() const { return -1; }
  // Whether the lane holds bytes to read (no system call).
  virtual bool LaneReadable() const { return false; }
  // The event loop spins (the peer need not ring) or may sleep (it must).
  virtual void SetSpinning(bool spinning) {}
  // ReadWaitFd() was seen readable / ring it ourselves.
  virtual void AckReadBell() {}
  virtual void KickReadBell() {}
  // A shared copy (user_stream.h): our loop spins while a write waits (a
  // reader may then ask us to copy a part of it), and the request served,
  // if one waits (true if there was one).
  virtual void SetHelping(bool spinning) {}
  virtual bool Help() { return false; }
  // Bytes of shared copies: copied by the peer for us, and by us for it.
  virtual uint64_t HelpedBytes() const { return 0; }
  // While true, an in-progress connect completes when Fd() turns readable
  // (the user provider's grant), not writable.
  virtual bool ConnectWaitsReadable() const { return false; }

  // --- RMA: windows, copies, fences, mmap ---------------------------------
  // These may block (a fence wait, a synchronous copy): the addon calls
  // them on its own RMA threads, never on the event loop, and they must be
  // safe to call while the event loop thread sends and receives. Flags and
  // prot are SCIF's values. A provider without RMA returns -EOPNOTSUPP.

  // Registers [addr, addr + len) (page-aligned). Returns the window's
  // offset in this endpoint's registered address space, or -errno.
  virtual int64_t Register(void* addr, uint64_t len, int64_t offset, int prot,
                           int flags) {
    return -EOPNOTSUPP;
  }
  virtual int Unregister(int64_t offset, uint64_t len) { return -EOPNOTSUPP; }
  // Copies between this endpoint's windows (loffset) or memory (addr) and
  // the peer's windows (roffset). |to_peer| selects writeTo over readFrom.
  virtual int Copy(bool to_peer, int64_t loffset, uint64_t len, int64_t roffset,
                   int flags) {
    return -EOPNOTSUPP;
  }
  virtual int VCopy(bool to_peer, void* addr, uint64_t len, int64_t roffset,
                    int flags) {
    return -EOPNOTSUPP;
  }
  virtual int FenceMark(int flags, int* mark) { return -EOPNOTSUPP; }
  virtual int FenceWait(int mark) { return -EOPNOTSUPP; }
  virtual int FenceSignal(int64_t loff, uint64_t lval, int64_t roff,
                          uint64_t rval, int flags) {
    return -EOPNOTSUPP;
  }
  // Maps |len| bytes of the peer's registered space at |roffset|. Returns 0
  // and the address in |out| (to be munmap'ed by the caller), or -errno.
  virtual int Mmap(int64_t roffset, uint64_t len, int prot, void** out) {
    return -EOPNOTSUPP;
  }
  // Wakes any RMA call blocked on this endpoint: it is being closed.
  virtual void Shutdown() {}
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual const char* Name() const = 0;
  // Opens a new endpoint. Returns 0 or -errno.
  virtual int Open(std::unique_ptr<ProviderEndpoint>* out) = 0;
  // Node enumeration. Returns 0 or -errno.
  virtual int GetNodeIds(std::vector<uint16_t>* nodes, uint16_t* self) = 0;
};

// Factories. |name| is "user" or "kernel"; returns nullptr for an unknown
// name and sets |error| to a message.
std::unique_ptr<Provider> MakeUserProvider(const PlatformConfig& config);
std::unique_ptr<Provider> MakeKernelProvider(const PlatformConfig& config);
std::unique_ptr<Provider> MakeProvider(const std::string& name,
                                       const PlatformConfig& config);

}  // namespace scif

#endif  // SCIF_NATIVE_PROVIDER_H_
