// Shape: a small fixed-capacity vector of extents (no heap allocation).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "lightning_core/error.h"

namespace lc {

class Shape {
 public:
  static constexpr int kMaxRank = 8;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  template <class It>
  Shape(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<std::int64_t>(*first));
  }

  int rank() const { return rank_; }
  std::int64_t operator[](int i) const { return dims_[i < 0 ? i + rank_ : i]; }
  std::int64_t& operator[](int i) { return dims_[i < 0 ? i + rank_ : i]; }
  const std::int64_t* begin() const { return dims_; }
  const std::int64_t* end() const { return dims_ + rank_; }
  void push_back(std::int64_t d);
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

  // Product of extents (1 for rank 0). Throws ValueError when it overflows int64.
  std::int64_t numel() const;
  // "(2, 3)" as Python prints a tuple.
  std::string str() const;

 private:
  std::int64_t dims_[kMaxRank] = {};
  int rank_ = 0;
};

// Contiguous (row-major) strides, in elements.
Shape contiguous_strides(const Shape& shape);

}  // namespace lc
