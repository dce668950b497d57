// SPDX-License-Identifier: MIT
// UniqueFd: sole owner of a file descriptor, closed exactly once.
#ifndef SCIF_NATIVE_UNIQUE_FD_H_
#define SCIF_NATIVE_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace scif {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  ~UniqueFd() { Reset(); }

  int Get() const { return fd_; }
  bool Valid() const { return fd_ >= 0; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    int old = std::exchange(fd_, fd);
    if (old >= 0) ::close(old);
  }

 private:
  int fd_ = -1;
};

}  // namespace scif

#endif  // SCIF_NATIVE_UNIQUE_FD_H_
