"""The GPU readiness check: what ldd says of a real onnxruntime-gpu CUDA provider, and this CPU-only box."""

from __future__ import annotations

import shutil
from pathlib import Path

import onnxruntime
import pytest

from edge_agent.detection.gpu_check import (
    CUDNN_SUB_LIBRARIES,
    cuda_major,
    cudnn_problem,
    driver_present,
    linked_libraries,
    main,
    missing_libraries,
)

# `ldd libonnxruntime_providers_cuda.so` of onnxruntime-gpu 1.30.0 (built for CUDA 13) on a box with only a
# CUDA 13 runtime and no cuBLAS, cuRAND or driver: taken on the development VM, 2026-12-04.
LDD_ONNXRUNTIME_GPU_1_30 = """\
\tlinux-vdso.so.1 (0x00007f5b75795000)
\tlibcublasLt.so.13 => not found
\tlibcublas.so.13 => not found
\tlibcurand.so.10 => not found
\tlibcudart.so.13 => /usr/local/cuda-13.0/lib/libcudart.so.13 (0x00007f5b61000000)
\tlibcuda.so.1 => not found
\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f5b7577c000)
\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f5b60c00000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f5b60e1e000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f5b75797000)
"""


def test_missing_cuda_libraries_are_named_but_not_the_drivers_own() -> None:
    assert missing_libraries(LDD_ONNXRUNTIME_GPU_1_30) == [
        "libcublas.so.13",
        "libcublasLt.so.13",
        "libcurand.so.10",
    ]
    assert cuda_major(LDD_ONNXRUNTIME_GPU_1_30) == 13


def test_a_cuda_12_build_in_a_cuda_13_image_says_which_cuda_it_wants() -> None:
    ldd = "\tlibcudart.so.12 => not found\n\tlibcublasLt.so.12 => not found\n\tlibcuda.so.1 => /usr/lib/libcuda.so.1\n"
    assert missing_libraries(ldd) == ["libcublasLt.so.12", "libcudart.so.12"]
    assert cuda_major(ldd) == 12


def test_a_ready_library_misses_nothing() -> None:
    ldd = "\tlibcudart.so.13 => /usr/local/cuda/lib64/libcudart.so.13 (0x1)\n\tlibcuda.so.1 => not found\n"
    assert missing_libraries(ldd) == []


def test_the_cpu_build_is_not_ready(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 1
    assert "has no CUDA provider: this is the CPU build" in capsys.readouterr().err


def test_a_file_ldd_cannot_read_is_a_problem_not_ready(tmp_path: Path) -> None:
    """`ldd` of a file that is no shared library (truncated download, wrong architecture) prints 'not a dynamic
    executable' to stderr and exits 1, with no 'not found' line: the check read that as nothing missing."""
    assert shutil.which("ldd") is not None, "ldd comes with libc-bin on every Debian box the tests run on"
    broken = tmp_path / "libonnxruntime_providers_cuda.so"
    broken.write_bytes(b"\x7fELF truncated")
    output, problem = linked_libraries(broken)
    assert problem is not None
    assert "libonnxruntime_providers_cuda.so" in problem
    shared = Path(onnxruntime.__file__).parent / "capi" / "libonnxruntime_providers_shared.so"
    output, problem = linked_libraries(shared)
    assert problem is None
    assert "libc.so.6" in output


def test_no_ldd_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no ldd
    shared = Path(onnxruntime.__file__).parent / "capi" / "libonnxruntime_providers_shared.so"
    output, problem = linked_libraries(shared)
    assert output == ""
    assert problem is not None
    assert "cannot run ldd" in problem


def _a_loadable_library_named(path: Path) -> Path:
    """Any shared library that loads on this box, under ``path``'s name (stands in for a cuDNN file)."""
    shutil.copyfile(Path(onnxruntime.__file__).parent / "capi" / "libonnxruntime_providers_shared.so", path)
    return path


def test_cudnn_without_its_sub_libraries_is_a_problem(tmp_path: Path) -> None:
    """cuDNN 9's libcudnn.so.9 is a small loader that opens libcudnn_graph.so.9, _ops and _cnn (which need
    libz.so.1) only when the CUDA provider first uses it: loading the loader alone said 'ready' for a cuDNN
    whose real libraries are missing, and the agent then fell back to the CPU."""
    shim = _a_loadable_library_named(tmp_path / "libcudnn.so.9")
    problem = cudnn_problem(str(shim))
    assert problem is not None
    assert "libcudnn_graph.so.9" in problem
    for name in CUDNN_SUB_LIBRARIES:
        _a_loadable_library_named(tmp_path / name)
    assert cudnn_problem(str(shim)) is None


def test_no_cudnn_at_all_is_a_problem(tmp_path: Path) -> None:
    problem = cudnn_problem(str(tmp_path / "libcudnn.so.9"))
    assert problem is not None
    assert "cuDNN 9 does not load" in problem


def test_a_host_without_the_nvidia_driver_is_not_ready(capsys: pytest.CaptureFixture[str]) -> None:
    """libcuda.so.1 is excused at an image build (the NVIDIA Container Toolkit mounts it at run time), but on a
    host install (install.sh --gpu) its absence means no driver, and the check printed 'ready' there. This box
    has no driver: with --driver it is named (next to the CPU build's own problem)."""
    assert not driver_present(), "the tests run where there is no GPU driver (CI never has one)"
    assert main(["--driver"]) == 1
    assert "no NVIDIA driver (libcuda.so.1 does not load)" in capsys.readouterr().err


def test_a_model_that_is_not_there_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The installer guide's `gpu_check --model FILE`: a wrong path ended in a ModelLoadError traceback, and only
    on a GPU box (elsewhere it was never looked at)."""
    assert main(["--model", str(tmp_path / "yolox_nano.onnx")]) == 1
    assert "model file not found" in capsys.readouterr().err
