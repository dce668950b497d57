// SPDX-License-Identifier: MIT
// BusyPoll: keeps an event loop from sleeping for a short while after SCIF
// I/O, so that a reply arriving within that window is picked up without a
// sleep and a wake-up (what SO_BUSY_POLL does for sockets, done in the
// loop). One per environment. While armed, an idle handle makes libuv poll
// with a zero timeout; each turn yields the CPU, so a peer that shares it
// runs first. The window is SCIF_BUSY_POLL_US (lib/platform.ts), 0 = off.
#ifndef SCIF_NATIVE_BUSY_POLL_H_
#define SCIF_NATIVE_BUSY_POLL_H_

#include <stdint.h>
#include <uv.h>

namespace scif {

struct AddonData;

class BusyPoll {
 public:
  BusyPoll(AddonData* data, uv_loop_t* loop);
  BusyPoll(const BusyPoll&) = delete;
  BusyPoll& operator=(const BusyPoll&) = delete;
  ~BusyPoll() { Close(); }

  // Keeps the loop polling for |window_us| from now.
  void Arm(uint32_t window_us);
  // Stops and closes the handle. Idempotent.
  void Close();
  // Whether the loop is spinning now.
  bool Active() const;

 private:
  struct Handle {
    uv_idle_t idle;
    AddonData* data;
    uint64_t deadline;  // uv_hrtime() ns
  };
  static void OnIdle(uv_idle_t* idle);
  static void OnClose(uv_handle_t* handle);

  Handle* handle_ = nullptr;
};

}  // namespace scif

#endif  // SCIF_NATIVE_BUSY_POLL_H_
