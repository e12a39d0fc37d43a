#include "backends/registry.h"

#include <dlfcn.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "lightning_core/error.h"

namespace lc::backend {
namespace {

// The directory holding this core library; the CUDA backend library is installed beside it.
std::string own_directory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&own_directory), &info) == 0 || !info.dli_fname) return "";
  std::string path = info.dli_fname;
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

struct CudaLibrary {
  void* handle = nullptr;
  CreateFn create = nullptr;
  int count = 0;
  std::string reason;
  std::vector<std::unique_ptr<Backend>> devices;
  std::mutex mutex;

  CudaLibrary() {
    const char* env = std::getenv("LC_CUDA_BACKEND");
    std::string path = env && *env ? env : own_directory() + "liblc_backend_cuda.so";
    if (const char* off = std::getenv("LC_DISABLE_CUDA"); off && *off && std::string(off) != "0") {
      reason = "CUDA disabled by LC_DISABLE_CUDA";
      return;
    }
    handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* e = dlerror();
      reason = std::string("CUDA backend library missing or not loadable (") + (e ? e : path) + ")";
      return;
    }
    auto count_fn = reinterpret_cast<DeviceCountFn>(dlsym(handle, "lc_backend_device_count"));
    create = reinterpret_cast<CreateFn>(dlsym(handle, "lc_backend_create"));
    if (!count_fn || !create) {
      reason = "CUDA backend library " + path + " lacks its entry points";
      return;
    }
    char err[512] = {};
    count = count_fn(kAbiVersion, err, sizeof(err));
    if (count <= 0) {
      count = 0;
      reason = err[0] ? err : "no CUDA device";
    }
    devices.resize(static_cast<std::size_t>(count));
  }
};

CudaLibrary& cuda_library() {
  static CudaLibrary lib;  // loaded once, on first use
  return lib;
}

}  // namespace

int cuda_device_count() { return cuda_library().count; }
std::string cuda_unavailable_reason() { return cuda_library().reason; }

Backend& backend_for(Device device) {
  if (device.kind == DeviceKind::cpu) return cpu_backend();
  if (device.kind == DeviceKind::cuda) {
    auto& lib = cuda_library();
    if (device.index < 0 || device.index >= lib.count)
      fail<DeviceUnavailableError>("device", "expected an available CUDA device, got ",
                                   device.str(), lib.reason.empty() ? "" : ": ", lib.reason);
    std::lock_guard<std::mutex> lock(lib.mutex);
    auto& slot = lib.devices[static_cast<std::size_t>(device.index)];
    if (!slot) {
      char err[512] = {};
      slot.reset(lib.create(kAbiVersion, device.index, err, sizeof(err)));
      if (!slot)
        fail<DeviceUnavailableError>("device", "expected a usable ", device.str(), ", got: ", err);
    }
    return *slot;
  }
  fail<DeviceUnavailableError>("device", "expected cpu or cuda, got ", device.str());
}

}  // namespace lc::backend
