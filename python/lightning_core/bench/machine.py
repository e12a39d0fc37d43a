"""What the numbers were measured on: CPU, GPU, driver, CUDA and library versions."""
from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
import sys

import numpy as np


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvidia_smi() -> dict:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return {}
    try:
        out = subprocess.run([exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20).stdout.strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        return {}
    if not out:
        return {}
    name, driver, mem = (p.strip() for p in (out[0].split(",") + ["", "", ""])[:3])
    return {"gpu": name, "driver": driver, "gpu_memory": mem, "gpu_count": len(out)}


def machine_info(lc, torch=None, torch_reason: str = "", device: str = "cpu") -> dict:
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "device": device,
        "lightning_core": getattr(lc, "__version__", "?"),
        "lightning_core_devices": _safe(lambda: list(lc.devices())),
        "lightning_core_backend": _safe(lambda: lc.backend_name()),
        "cuda_available": _safe(lambda: bool(lc.cuda_available())),
        "cuda_unavailable_reason": _safe(lambda: lc.cuda_unavailable_reason()),
        "numpy": np.__version__,
        "torch": getattr(torch, "__version__", None),
        "torch_missing_reason": torch_reason or None,
    }
    try:
        import matplotlib
        info["matplotlib"] = matplotlib.__version__
    except Exception:  # noqa: BLE001
        info["matplotlib"] = None
    info.update(_nvidia_smi())
    if torch is not None:
        info["torch_cuda"] = getattr(torch.version, "cuda", None)
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            info.setdefault("gpu", props.name)
            info["gpu_sms"] = props.multi_processor_count
            info["cudnn"] = _safe(lambda: torch.backends.cudnn.version())
    for name in ("cuda_runtime_version", "cuda_driver_version", "cuda_version"):
        if hasattr(lc, name):
            info["lightning_core_" + name] = _safe(getattr(lc, name))
    return info


def _safe(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        return f"unavailable ({type(e).__name__})"
