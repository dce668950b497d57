// SPDX-License-Identifier: MIT
// Endpoint: the JS handle of one SCIF endpoint. It owns the provider
// endpoint (and so the fd) and a Poller; everything it returns is a number
// (>= 0 success, negative errno failure) so that lib/ owns the semantics.
#ifndef SCIF_NATIVE_ENDPOINT_H_
#define SCIF_NATIVE_ENDPOINT_H_

#include <napi.h>

#include <memory>

#include "poller.h"
#include "provider.h"
#include "rma_worker.h"

namespace scif {

struct AddonData;

class Endpoint : public Napi::ObjectWrap<Endpoint> {
 public:
  static Napi::Function Init(Napi::Env env, AddonData* data);
  explicit Endpoint(const Napi::CallbackInfo& info);
  ~Endpoint() override;

  // Wraps an endpoint made natively (an accepted connection).
  static Napi::Value Wrap(Napi::Env env, AddonData* data,
                          std::unique_ptr<ProviderEndpoint> ep);
  // Closes the endpoint: poll handle first, then the fd. Idempotent.
  void CloseNow();

  // The lane (user_stream.h), driven by BusyPoll: whether bytes wait in it
  // for a reader that wants them; their readable event; and the loop
  // spinning or about to sleep.
  bool LaneReady() const;
  void DispatchLane();
  void SetSpinning(bool spinning);
  // A shared copy, for BusyPoll (user_stream.h).
  void Help();
  void SetHelping(bool spinning);
  uint64_t HelpedBytes() const { return ep_ ? ep_->HelpedBytes() : 0; }

 private:
  Napi::Value Bind(const Napi::CallbackInfo& info);
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value FinishConnect(const Napi::CallbackInfo& info);
  Napi::Value Accept(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value SendV(const Napi::CallbackInfo& info);
  Napi::Value Recv(const Napi::CallbackInfo& info);
  Napi::Value SetPoll(const Napi::CallbackInfo& info);
  Napi::Value SetCallback(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Local(const Napi::CallbackInfo& info);
  Napi::Value Remote(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  // RMA: each returns a Promise of a number (>= 0, or -errno).
  Napi::Value Register(const Napi::CallbackInfo& info);
  Napi::Value Unregister(const Napi::CallbackInfo& info);
  Napi::Value Copy(const Napi::CallbackInfo& info);
  Napi::Value VCopy(const Napi::CallbackInfo& info);
  Napi::Value FenceMark(const Napi::CallbackInfo& info);
  Napi::Value FenceWait(const Napi::CallbackInfo& info);
  Napi::Value FenceSignal(const Napi::CallbackInfo& info);
  // mmap(roffset, length, prot) -> Buffer over the peer's window, or -errno.
  Napi::Value Mmap(const Napi::CallbackInfo& info);
  Napi::Value Submit(Napi::Env env, RmaWorker::Work work, Napi::Value keep);

  int EnsurePoller(Napi::Env env, std::unique_ptr<Poller>* poller, int fd, Poller::Callback cb);
  int ApplyPoll(Napi::Env env);
  long AfterSend(Napi::Env env, long sent);
  static constexpr uint32_t kWriteWaitPollUs = 2000;
  static void OnPoll(void* context, int status, int events);
  static void OnWaitPoll(void* context, int status, int events);
  static void OnBellPoll(void* context, int status, int events);

  AddonData* data_ = nullptr;
  // Shared with the RMA thread, which may still be finishing a call.
  std::shared_ptr<ProviderEndpoint> ep_;
  // Declared after ep_ so they are destroyed (stopped, closed, joined)
  // before the fd.
  std::unique_ptr<RmaWorker> rma_;
  std::unique_ptr<Poller> poller_;
  // On the provider's WriteWaitFd() while a write waits there.
  std::unique_ptr<Poller> wait_poller_;
  int wait_fd_ = -1;
  // On the provider's ReadWaitFd() (the lane's read bell) while reading.
  std::unique_ptr<Poller> bell_poller_;
  bool bell_polled_ = false;
  bool want_read_ = false;
  bool want_write_ = false;
  bool write_waits_ = false;  // as ApplyPoll last saw WriteWaitFd()
  Napi::FunctionReference callback_;
  bool ref_ = true;
};

}  // namespace scif

#endif  // SCIF_NATIVE_ENDPOINT_H_
