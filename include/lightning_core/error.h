// Error types. Every message reads "[op] expected ..., got ...".
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace lc {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ValueError : public Error {
  using Error::Error;
};
class TypeError : public Error {
  using Error::Error;
};
class DeviceUnavailableError : public Error {
  using Error::Error;
};
class BackendError : public Error {
  using Error::Error;
};
class OutOfMemoryError : public Error {
  using Error::Error;
};
// The chosen backend has no kernel for this op/problem.
class NotSupportedError : public Error {
  using Error::Error;
};

namespace detail {
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// Throws E with the message "[op] <parts...>".
template <class E = ValueError, class... Args>
[[noreturn]] void fail(std::string_view op, const Args&... parts) {
  throw E(detail::cat("[", op, "] ", parts...));
}

}  // namespace lc
