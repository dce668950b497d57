// SPDX-License-Identifier: MIT
#include "provider.h"

namespace scif {

std::unique_ptr<Provider> MakeProvider(const std::string& name,
                                       const PlatformConfig& config) {
  if (name == "user") return MakeUserProvider(config);
  if (name == "kernel") return MakeKernelProvider(config);
  return nullptr;
}

}  // namespace scif
