// PLACEHOLDER: replaced with the resident-session bindings.
#include "bindings.h"

namespace lc::py {
void bind_session(nb::module_&) {}
}  // namespace lc::py
