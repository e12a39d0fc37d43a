#include "lightning_core/shape.h"

#include <limits>

namespace lc {

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  for (auto d : dims) push_back(d);
}

void Shape::push_back(std::int64_t d) {
  if (rank_ >= kMaxRank) fail("shape", "expected at most ", kMaxRank, " dimensions, got more");
  dims_[rank_++] = d;
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < rank_; ++i) {
    if (dims_[i] < 0) fail("shape", "expected non-negative extents, got ", str());
    if (dims_[i] != 0 && n > std::numeric_limits<std::int64_t>::max() / dims_[i])
      fail("shape", "expected an element count that fits in 64 bits, got ", str());
    n *= dims_[i];
  }
  return n;
}

std::string Shape::str() const {
  std::string s = "(";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  if (rank_ == 1) s += ",";
  return s + ")";
}

Shape contiguous_strides(const Shape& shape) {
  Shape st = shape;
  std::int64_t acc = 1;
  for (int i = shape.rank() - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= shape[i] > 0 ? shape[i] : 1;
  }
  return st;
}

}  // namespace lc
