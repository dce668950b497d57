// SPDX-License-Identifier: MIT
// Per-environment addon state: one per Node environment (main thread or
// worker), so the addon loads in worker_threads.
#ifndef SCIF_NATIVE_ADDON_DATA_H_
#define SCIF_NATIVE_ADDON_DATA_H_

#include <napi.h>
#include <uv.h>

#include <memory>
#include <unordered_set>

#include "busy_poll.h"
#include "read_slabs.h"

namespace scif {

class Endpoint;
struct Mapping;

struct AddonData {
  Napi::FunctionReference endpoint_ctor;
  // Endpoints alive in this environment, closed when it is torn down.
  std::unordered_set<Endpoint*> endpoints;
  // Those that read from a lane (user_stream.h): BusyPoll looks at their
  // rings each turn.
  std::unordered_set<Endpoint*> lane_readers;
  // Those with a posted write out while the loop spins: a reader may ask
  // for a shared copy (user_stream.h), served by BusyPoll each turn.
  std::unordered_set<Endpoint*> helpers;
  // Bytes of shared copies, of endpoints closed so far (helpedBytes()).
  uint64_t helped_bytes = 0;
  // Live mappings (peer windows, shareable memory), released at teardown.
  std::unordered_set<Mapping*> mappings;
  // uv handles that have not yet finished closing. Environment teardown
  // waits (through an async cleanup hook) until this reaches zero.
  int open_handles = 0;
  napi_async_cleanup_hook_handle cleanup_hook = nullptr;
  bool tearing_down = false;
  // Busy polling after I/O (SCIF_BUSY_POLL_US), made on first use.
  uint32_t busy_poll_us = 0;
  std::unique_ptr<BusyPoll> busy_poll;
  // Recycled memory for stream reads (read_slabs.h), made on first use;
  // closed with the environment (it frees itself once its slabs are back).
  ReadSlabs* read_slabs = nullptr;

  // Keeps the loop polling for a while: I/O just happened.
  // |at_least_us|: a longer window for a wait known to be short.
  void ArmBusyPoll(napi_env env, uint32_t at_least_us = 0);

  void HandleClosed();
  // BusyPoll: delivers lane bytes that have come (each turn), and tells the
  // lanes' writers whether we spin.
  void PollLanes();
  void SetLanesSpinning(bool spinning);
  // BusyPoll: serves the shared copies readers ask for (each turn), and
  // tells them whether we spin.
  void ServeHelp();
  void SetHelpersSpinning(bool spinning);
};

}  // namespace scif

#endif  // SCIF_NATIVE_ADDON_DATA_H_
