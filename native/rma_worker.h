// SPDX-License-Identifier: MIT
// RmaWorker: the thread that runs one endpoint's RMA and fence calls.
//
// Calls that may block (register, copies, fences) never run on the event
// loop, nor on libuv's 4-thread pool: each endpoint that uses RMA gets one
// thread of the addon's own, which runs its calls in the order they were
// made (so a fence mark covers every copy issued before it) and completes
// each call's promise on the JS thread through a thread-safe function.
// Every Buffer a call touches is held by a reference until it completes.
#ifndef SCIF_NATIVE_RMA_WORKER_H_
#define SCIF_NATIVE_RMA_WORKER_H_

#include <napi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "provider.h"

namespace scif {

class RmaWorker {
 public:
  // The call made on the worker thread; returns >= 0 or -errno.
  using Work = std::function<int64_t(ProviderEndpoint*)>;

  RmaWorker(Napi::Env env, std::shared_ptr<ProviderEndpoint> ep);
  RmaWorker(const RmaWorker&) = delete;
  RmaWorker& operator=(const RmaWorker&) = delete;
  // Stops the thread (see Stop) and joins it.
  ~RmaWorker();

  // Queues |work|; the returned promise resolves with its result (a number,
  // negative on failure). |keep| (may be empty) is held until completion.
  Napi::Promise Submit(Napi::Env env, Work work, Napi::Value keep);

  // Calls not yet started complete with -ECONNRESET; the one running is
  // woken (ProviderEndpoint::Shutdown) and finishes; the thread exits and is
  // joined. Idempotent.
  void Stop();

 private:
  struct Op;
  void Run();
  static void Complete(Napi::Env env, Napi::Function, void* context, Op* op);

  std::shared_ptr<ProviderEndpoint> ep_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op*> queue_;
  bool stopping_ = false;
  using Tsfn = Napi::TypedThreadSafeFunction<void, Op, &RmaWorker::Complete>;
  Tsfn tsfn_;
  std::thread thread_;
};

}  // namespace scif

#endif  // SCIF_NATIVE_RMA_WORKER_H_
