// One bind_<area> function per file; each holds declarations only.
#pragma once

#include "convert.h"

namespace lc::py {

using namespace nb::literals;

void bind_runtime(nb::module_& m);
void bind_tensor(nb::module_& m);
void bind_matmul(nb::module_& m);
void bind_conv(nb::module_& m);
void bind_attention(nb::module_& m);
void bind_vector(nb::module_& m);
void bind_matrix(nb::module_& m);
void bind_recurrent(nb::module_& m);
void bind_pipelines(nb::module_& m);
void bind_dlpack(nb::module_& m);
void bind_session(nb::module_& m);

// An array argument: None reaches the op, whose front-end reports it with its name.
inline auto arr(const char* name) { return nb::arg(name).none(); }

// The trailing (device=None, policy=None) every op takes.
#define LC_POLICY_ARGS "device"_a = nb::none(), "policy"_a = nb::none()

}  // namespace lc::py
