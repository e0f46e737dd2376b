"""Make a fixed-batch YOLOX ONNX export take any batch size, so that one inference serves every camera.

YOLOX's own ``tools/export_onnx.py --dynamic`` does the same at export time; this edits an existing file (the
batch dimension of the input and output, and the head's ``Reshape`` to ``[1, 85, -1]``, which becomes
``[0, 85, -1]``: keep the input's batch; its shape an initialiser or a ``Constant`` node). The copy is written
only once onnxruntime has run it at a batch of 2 and each image came out as it does alone: a batch fixed
elsewhere in the graph (a shape computed at run time, ``allowzero``) is refused, not written. Needs the ``onnx``
package (``pip install onnx``), which the agent itself does not.
Usage: ``python -m edge_agent.detection.dynamic_batch yolox_nano.onnx yolox_nano-batch.onnx``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.errors import ConfigError, ModelLoadError


def dynamic_batch_copy(source: Path, target: Path) -> Path:
    """Write ``target``: ``source`` with a free batch dimension. Raises ``ModelLoadError`` for a file that is no
    ONNX model or has no batch dimension to free, ``ConfigError`` when ``onnx`` is not installed."""
    try:
        import onnx  # type: ignore[import-untyped, unused-ignore]
        from onnx import numpy_helper  # type: ignore[import-untyped, unused-ignore]
    except ImportError as err:
        raise ConfigError("making a dynamic-batch model needs the onnx package: pip install onnx") from err
    try:
        model = onnx.load(str(source))
    except Exception as err:  # onnx raises DecodeError, OSError and others for a bad file
        raise ModelLoadError(f"cannot read ONNX model {source}: {err}") from err
    graph = model.graph
    weights = {tensor.name for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in weights]  # IR 3 lists the weights as inputs
    if len(inputs) != 1 or not graph.output:
        raise ModelLoadError(f"{source} is not a YOLOX detector (expected one input)")
    # Tensors a Reshape's shape can be read from: initialisers, and Constant nodes (exports without folding).
    constants: dict[str, Any] = {tensor.name: tensor for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and len(node.output) == 1:
            for attribute in node.attribute:
                if attribute.name == "value":
                    constants[node.output[0]] = attribute.t
    for node in graph.node:
        allow_zero = any(a.name == "allowzero" and a.i for a in node.attribute)  # then 0 means 0, not "keep"
        if (
            node.op_type == "Reshape"
            and len(node.input) > 1
            and node.input[1] in constants
            and not allow_zero
        ):
            tensor = constants[node.input[1]]
            shape = numpy_helper.to_array(tensor).copy()
            if shape.ndim == 1 and len(shape) >= 2 and shape[0] == 1:
                shape[0] = 0  # 0 = the input's own size in that dimension: the batch
                tensor.CopyFrom(numpy_helper.from_array(shape, tensor.name))
    for value in inputs + list(graph.output):
        dims = value.type.tensor_type.shape.dim
        if not dims:
            raise ModelLoadError(f"{source}: {value.name} has no shape")
        dims[0].ClearField("dim_value")
        dims[0].dim_param = "batch"
    del graph.value_info[:]  # inferred shapes still say batch 1
    onnx.checker.check_model(model)
    staged = target.with_name(target.name + ".partial")
    onnx.save(model, str(staged))
    try:
        _check_batch_of_two(staged, source)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    os.replace(staged, target)
    return target


def _check_batch_of_two(path: Path, source: Path) -> None:
    """Two different images in one batch must each give what they give alone (on the CPU)."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (model_input,) = session.get_inputs()
        dims = [d if isinstance(d, int) and d > 0 else 416 for d in model_input.shape[1:]]
        images = np.random.default_rng(0).uniform(0, 255, (2, *dims)).astype(np.float32)
        together = session.run(None, {model_input.name: images})
        alone = [session.run(None, {model_input.name: images[i : i + 1]}) for i in range(2)]
    except Exception as err:  # onnxruntime raises several unrelated types for a shape that does not fit
        raise ModelLoadError(f"{source}: the copy does not run at a batch of 2 ({err})") from err
    for index, output in enumerate(together):
        fits = output.shape[:1] == (2,) and all(
            np.allclose(output[i], alone[i][index][0], rtol=1e-3, atol=1e-3) for i in range(2)
        )
        if not fits:
            raise ModelLoadError(
                f"{source}: at a batch of 2 output {index} is {output.shape}, not each image's own: the batch is "
                "fixed elsewhere in the graph (a shape computed at run time?); export with YOLOX's --dynamic"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    try:
        dynamic_batch_copy(args.source, args.target)
    except (ConfigError, ModelLoadError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.target}: batch dimension free")
    return 0


if __name__ == "__main__":
    sys.exit(main())
