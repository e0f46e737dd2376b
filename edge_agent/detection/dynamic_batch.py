"""Make a fixed-batch YOLOX ONNX export take any batch size, so that one inference serves every camera.

YOLOX's own ``tools/export_onnx.py --dynamic`` does the same at export time; this edits an existing file (the
batch dimension of the input and output, and the head's ``Reshape`` to ``[1, 85, -1]``, which becomes
``[0, 85, -1]``: keep the input's batch). Needs the ``onnx`` package (``pip install onnx``), which the agent
itself does not. Usage: ``python -m edge_agent.detection.dynamic_batch yolox_nano.onnx yolox_nano-batch.onnx``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    if len(graph.input) != 1 or not graph.output:
        raise ModelLoadError(f"{source} is not a YOLOX detector (expected one input)")
    initialisers = {tensor.name: tensor for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Reshape" and len(node.input) > 1 and node.input[1] in initialisers:
            shape = numpy_helper.to_array(initialisers[node.input[1]]).copy()
            if shape.ndim == 1 and len(shape) >= 2 and shape[0] == 1:
                shape[0] = 0  # 0 = the input's own size in that dimension: the batch
                initialisers[node.input[1]].CopyFrom(numpy_helper.from_array(shape, node.input[1]))
    for value in list(graph.input) + list(graph.output):
        dims = value.type.tensor_type.shape.dim
        if not dims:
            raise ModelLoadError(f"{source}: {value.name} has no shape")
        dims[0].ClearField("dim_value")
        dims[0].dim_param = "batch"
    del graph.value_info[:]  # inferred shapes still say batch 1
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return target


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
