// Finds backends: the CPU one is built in; the CUDA one is a library loaded at first use.
#pragma once

#include <string>

#include "backends/backend.h"

namespace lc::backend {

// Number of CUDA devices usable through the loaded backend library (0 when none).
int cuda_device_count();
// Why CUDA cannot be used: no library, no driver, no device ("" when it can).
std::string cuda_unavailable_reason();

}  // namespace lc::backend
