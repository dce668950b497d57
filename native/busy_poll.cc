// SPDX-License-Identifier: MIT
#include "busy_poll.h"

#include <sched.h>

#include "addon_data.h"

namespace scif {

BusyPoll::BusyPoll(AddonData* data, uv_loop_t* loop) {
  auto* h = new Handle();
  h->data = data;
  h->deadline = 0;
  if (uv_idle_init(loop, &h->idle) != 0) {
    delete h;
    return;
  }
  h->idle.data = h;
  // Never what keeps a process alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&h->idle));
  data->open_handles++;
  handle_ = h;
}

void BusyPoll::Arm(uint32_t window_us) {
  if (handle_ == nullptr || window_us == 0) return;
  handle_->deadline = uv_hrtime() + static_cast<uint64_t>(window_us) * 1000;
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&handle_->idle))) {
    uv_idle_start(&handle_->idle, OnIdle);
    handle_->data->SetLanesSpinning(true);  // lane writers need not ring
    handle_->data->SetHelpersSpinning(true);  // readers may ask for help
  }
}

void BusyPoll::OnIdle(uv_idle_t* idle) {
  auto* h = static_cast<Handle*>(idle->data);
  h->data->PollLanes();  // bytes in shared memory: no fd says so
  h->data->ServeHelp();  // requests in shared memory, likewise
  if (uv_hrtime() >= h->deadline) {
    uv_idle_stop(idle);  // the loop may sleep again
    h->data->SetLanesSpinning(false);  // from now on, lane writers ring
    h->data->SetHelpersSpinning(false);  // and readers copy alone
    return;
  }
  sched_yield();
}

bool BusyPoll::Active() const {
  return handle_ != nullptr && uv_is_active(reinterpret_cast<const uv_handle_t*>(&handle_->idle));
}

void BusyPoll::Close() {
  if (handle_ == nullptr) return;
  Handle* h = handle_;
  bool spinning = Active();
  handle_ = nullptr;
  uv_idle_stop(&h->idle);
  if (spinning && !h->data->tearing_down) {
    h->data->SetLanesSpinning(false);
    h->data->SetHelpersSpinning(false);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&h->idle), OnClose);
}

void BusyPoll::OnClose(uv_handle_t* handle) {
  auto* h = static_cast<Handle*>(handle->data);
  AddonData* data = h->data;
  delete h;
  data->HandleClosed();
}

}  // namespace scif
