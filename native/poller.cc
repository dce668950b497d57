// SPDX-License-Identifier: MIT
#include "poller.h"

#include "addon_data.h"

namespace scif {

Poller::Poller(AddonData* data, uv_loop_t* loop, int fd, Callback cb,
               void* context)
    : cb_(cb), context_(context) {
  auto* h = new Handle();
  h->owner = this;
  h->data = data;
  init_status_ = uv_poll_init(loop, &h->poll, fd);
  if (init_status_ != 0) {
    delete h;
    return;
  }
  h->poll.data = h;
  data->open_handles++;
  handle_ = h;
}

int Poller::Set(int events) {
  if (handle_ == nullptr) return UV_EBADF;
  if (events == events_) return 0;
  int rc = events == 0 ? uv_poll_stop(&handle_->poll)
                       : uv_poll_start(&handle_->poll, events, OnPoll);
  if (rc == 0) events_ = events;
  return rc;
}

void Poller::Ref(bool ref) {
  ref_ = ref;
  if (handle_ == nullptr) return;
  if (ref)
    uv_ref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
  else
    uv_unref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
}

void Poller::Close() {
  if (handle_ == nullptr) return;
  Handle* h = handle_;
  handle_ = nullptr;
  events_ = 0;
  h->owner = nullptr;
  uv_poll_stop(&h->poll);
  // uv_close takes the fd out of the event loop's epoll set at once; the
  // memory goes when libuv calls back.
  uv_close(reinterpret_cast<uv_handle_t*>(&h->poll), OnClose);
}

void Poller::OnPoll(uv_poll_t* poll, int status, int events) {
  auto* h = static_cast<Handle*>(poll->data);
  if (h->owner == nullptr) return;
  Poller* self = h->owner;
  if (status < 0) {
    // libuv has stopped the handle; remember that.
    self->events_ = 0;
  }
  self->cb_(self->context_, status, events);
}

void Poller::OnClose(uv_handle_t* handle) {
  auto* h = static_cast<Handle*>(handle->data);
  AddonData* data = h->data;
  delete h;
  data->HandleClosed();
}

}  // namespace scif
