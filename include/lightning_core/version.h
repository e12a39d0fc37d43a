#pragma once

namespace lc {
inline constexpr const char* kVersion = "0.1.0";
}
