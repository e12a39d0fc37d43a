// PLACEHOLDER: replaced with DLPack / __cuda_array_interface__ support.
#include "bindings.h"

namespace lc::py {
void bind_dlpack(nb::module_&) {}
}  // namespace lc::py
