// SPDX-License-Identifier: MIT
// Poller: a small RAII owner of one uv_poll_t on an fd it does not own.
//
// The handle is heap-allocated and freed by libuv's close callback; the
// Poller is always stopped and closed (uv_close) before its owner closes
// the fd, which is what libuv requires.
#ifndef SCIF_NATIVE_POLLER_H_
#define SCIF_NATIVE_POLLER_H_

#include <uv.h>

namespace scif {

struct AddonData;

class Poller {
 public:
  using Callback = void (*)(void* context, int status, int events);

  Poller(AddonData* data, uv_loop_t* loop, int fd, Callback cb, void* context);
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;
  ~Poller() { Close(); }

  // 0 on success or a libuv error code. Init failures show up here.
  int Status() const { return init_status_; }
  // Polls for |events| (UV_READABLE | UV_WRITABLE | UV_DISCONNECT);
  // 0 stops polling.
  int Set(int events);
  int Events() const { return events_; }
  void Ref(bool ref);
  // Stops and closes the handle. Idempotent.
  void Close();

 private:
  struct Handle {
    uv_poll_t poll;
    Poller* owner;
    AddonData* data;
  };
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnClose(uv_handle_t* handle);

  Handle* handle_ = nullptr;
  Callback cb_;
  void* context_;
  int events_ = 0;
  bool ref_ = true;
  int init_status_ = 0;
};

}  // namespace scif

#endif  // SCIF_NATIVE_POLLER_H_
