// PLACEHOLDER: replaced with this area's declarations.
#include "bindings.h"

namespace lc::py {
void bind_pipelines(nb::module_&) {}
}  // namespace lc::py
