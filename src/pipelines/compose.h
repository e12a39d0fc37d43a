// Helpers for pipelines composed from the public ops: one resolved device for every step,
// intermediates kept where they are computed, and argument errors reported under the
// pipeline's own name.
#pragma once

#include <string>
#include <utility>

#include "lightning_core/error.h"
#include "lightning_core/ops.h"
#include "ops/op_context.h"

namespace lc::pipelines {

// The policy of an intermediate step: the pipeline's device, no download, no sync.
inline Policy step_policy(ops::OpContext& ctx) {
  Policy p = ctx.policy().with_device(ctx.device().str());
  p.download = false;
  p.sync = false;
  return p;
}

// The policy of the last step writing into the pipeline's result (syncs per the caller).
inline Policy last_policy(ops::OpContext& ctx) {
  return ctx.policy().with_device(ctx.device().str());
}

// "[inner_op] rest" -> "[op] rest".
inline std::string reprefix(const char* op, const char* what) {
  std::string msg(what);
  if (!msg.empty() && msg[0] == '[') {
    const auto end = msg.find("] ");
    if (end != std::string::npos) msg.erase(0, end + 2);
  }
  return "[" + std::string(op) + "] " + msg;
}

// Runs f; a ValueError/TypeError of an inner op (a bad argument or parameter, named as the
// caller named it) is rethrown under the pipeline's name. Device and backend errors keep the
// name of the step that failed.
template <class F>
decltype(auto) as_op(const char* op, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const ValueError& e) {
    throw ValueError(reprefix(op, e.what()));
  } catch (const TypeError& e) {
    throw TypeError(reprefix(op, e.what()));
  }
}

// Rejects mode="fused" while no backend has a fused kernel for the pipeline.
inline void require_split_mode(ops::OpContext& ctx) {
  if (ctx.policy().mode == Mode::fused)
    ctx.fail<NotSupportedError>("expected mode \"auto\" or \"split\" (no fused kernel on ",
                                ctx.device().str(), " yet), got \"fused\"");
}

}  // namespace lc::pipelines
