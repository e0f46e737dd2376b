"""Can this box's onnxruntime run the detector on its NVIDIA GPU? Checked without a GPU where possible.

onnxruntime drops an execution provider whose libraries are missing and goes on with the next (the agent then
warns and runs on the CPU): a wheel built for CUDA 13 (onnxruntime-gpu >= 1.27) in a CUDA 12 image, or cuDNN
absent, is found only by reading the logs. This check says it at install or image-build time: the CUDA
provider's library must find every library it links against, except the driver's ``libcuda.so.1`` (the NVIDIA
Container Toolkit mounts it at run time), and cuDNN 9 must load, with the sub-libraries its loader opens only
when first used. With ``--model`` and a GPU present, it also opens a session and prints the providers it really
runs on.

``--driver`` (what ``deploy/edge/install.sh`` passes on a host) also requires the driver's ``libcuda.so.1``.

Usage: ``python -m edge_agent.detection.gpu_check [--driver] [--model yolox_nano.onnx]``; exit status 0 = ready.
"""

from __future__ import annotations

import argparse
import ctypes
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from edge_agent.errors import ModelLoadError

DRIVER_LIBRARIES = frozenset({"libcuda.so.1", "libnvidia-ml.so.1"})
CUDNN_LIBRARY = "libcudnn.so.9"
# What libcudnn.so.9 opens lazily for a convolution (each needs the previous; all need libz.so.1).
CUDNN_SUB_LIBRARIES = ("libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9")
_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)
_CUDART = re.compile(r"libcudart\.so\.(\d+)")


@dataclass(slots=True)
class GpuReadiness:
    onnxruntime_version: str
    providers: list[str]
    cuda_major: int | None = None
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems


def missing_libraries(ldd_output: str) -> list[str]:
    """Libraries ``ldd`` could not resolve, the driver's own (present only at run time) left out."""
    return sorted({name for name in _NOT_FOUND.findall(ldd_output) if name not in DRIVER_LIBRARIES})


def cuda_major(ldd_output: str) -> int | None:
    """The CUDA major version a provider library was built for, from the runtime it links against."""
    found = _CUDART.search(ldd_output)
    return int(found.group(1)) if found else None


def linked_libraries(library: Path) -> tuple[str, str | None]:
    """``ldd``'s report of ``library`` and ``None``, or ``""`` and why there is none. ``ldd`` exits 0 when some
    libraries are not found (they are listed); it exits 1 for a file that is no shared library of this machine
    ("not a dynamic executable", on stderr), which lists nothing and must not read as nothing missing."""
    try:
        ldd = subprocess.run(["ldd", str(library)], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return "", f"cannot run ldd on {library.name}: {err}"
    if ldd.returncode != 0:
        said = (ldd.stderr.strip() or ldd.stdout.strip() or f"exit status {ldd.returncode}").replace(
            "\n", "; "
        )
        return (
            "",
            f"ldd cannot read {library} ({said}): a broken onnxruntime-gpu install, or another machine's",
        )
    return ldd.stdout, None


def check() -> GpuReadiness:
    import onnxruntime as ort

    readiness = GpuReadiness(ort.__version__, list(ort.get_available_providers()))
    if "CUDAExecutionProvider" not in readiness.providers:
        readiness.problems.append(
            f"onnxruntime {ort.__version__} has no CUDA provider: this is the CPU build "
            "(pip uninstall onnxruntime, then install the edge-gpu extra)"
        )
        return readiness
    library = Path(ort.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if not library.is_file():
        readiness.problems.append(f"{library} is missing: a broken onnxruntime-gpu install")
        return readiness
    output, problem = linked_libraries(library)
    if problem is not None:
        readiness.problems.append(problem)
        return readiness
    readiness.cuda_major = cuda_major(output)
    readiness.missing = missing_libraries(output)
    if readiness.missing:
        built_for = f"CUDA {readiness.cuda_major}" if readiness.cuda_major else "another CUDA"
        readiness.problems.append(
            f"onnxruntime-gpu {ort.__version__} is built for {built_for} and cannot find "
            f"{', '.join(readiness.missing)}: use an image/libraries of that CUDA version, or the onnxruntime-gpu "
            "that matches yours (>= 1.27 for CUDA 13, 1.19-1.26 for CUDA 12: the edge-gpu-cuda12 extra)"
        )
    problem = cudnn_problem()
    if problem is not None:
        readiness.problems.append(f"{problem}: install cuDNN 9 for CUDA {readiness.cuda_major}")
    return readiness


def _loaded_from(name: str) -> Path | None:
    """Where this process loaded the library ``name`` from (``/proc/self/maps``), if it did."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in maps.splitlines():
        path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
        if path.endswith("/" + name) or ("/" + name + ".") in path:  # or its real file: libcudnn.so.9.13.0
            return Path(path)
    return None


def cudnn_problem(library: str = CUDNN_LIBRARY) -> str | None:
    """Why cuDNN 9 cannot work here, or ``None``. ``libcudnn.so.9`` is only a loader: it opens its sub-libraries
    (found beside it) the first time the CUDA provider uses it, so those are loaded too. None of them needs the
    driver's ``libcuda.so.1``, so this holds at an image build without a GPU."""
    try:
        ctypes.CDLL(library)
    except OSError as err:
        if "libcuda.so" in str(err):  # the driver's library is there at run time only
            return None
        return f"cuDNN 9 does not load ({err})"
    shim = Path(library) if "/" in library else _loaded_from(library)
    for name in CUDNN_SUB_LIBRARIES:
        candidate = str(shim.parent / name) if shim is not None else name
        try:
            ctypes.CDLL(candidate)
        except OSError as err:
            if "libcuda.so" not in str(err):
                return f"cuDNN 9's {name} does not load beside {shim or library} ({err})"
    return None


def session_providers(model: Path) -> list[str]:
    """The providers a session on ``model`` really runs on (onnxruntime falls back silently otherwise)."""
    from edge_agent.detection.yolox_onnx import YoloxOnnxDetector, YoloxOptions

    return YoloxOnnxDetector(model, YoloxOptions(batch_buckets=False)).providers


def driver_present() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="also open a session on this model (needs the GPU driver)")
    parser.add_argument(
        "--driver",
        action="store_true",
        help="the NVIDIA driver must be here too (a host install; an image build gets it only at run time)",
    )
    args = parser.parse_args(argv)
    readiness = check()
    if args.model is not None and not args.model.is_file():
        readiness.problems.append(f"model file not found: {args.model}")
    if args.driver and not driver_present():
        readiness.problems.append(
            "no NVIDIA driver (libcuda.so.1 does not load): install the NVIDIA driver (>= 580 for CUDA 13, "
            ">= 525 for CUDA 12); nvidia-smi must list the GPU"
        )
    print(f"onnxruntime {readiness.onnxruntime_version}: providers {', '.join(readiness.providers)}")
    if readiness.cuda_major is not None:
        print(f"CUDA provider built for CUDA {readiness.cuda_major}")
    for problem in readiness.problems:
        print(f"problem: {problem}", file=sys.stderr)
    if not readiness.ready:
        return 1
    if args.model is not None:
        if not driver_present():
            print(
                "no NVIDIA driver here (libcuda.so.1): the session check needs the GPU; libraries are ready"
            )
            return 0
        try:
            running = session_providers(args.model)
        except ModelLoadError as err:
            print(f"problem: {err}", file=sys.stderr)
            return 1
        print(f"a session on {args.model.name} runs on {', '.join(running)}")
        if running[0] not in ("TensorrtExecutionProvider", "CUDAExecutionProvider"):
            print("problem: the session fell back to the CPU (see the warning above)", file=sys.stderr)
            return 1
    print("ready: the detector can run on the GPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
