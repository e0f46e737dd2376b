"""The committed generated code must be exactly what `python -m proto.generate` produces from the .proto files."""

from pathlib import Path

from proto.generate import REPO_ROOT, generate


def test_generated_code_matches_proto_files(tmp_path: Path) -> None:
    written = generate(tmp_path)
    assert written, "protoc produced no files"
    stale = []
    for fresh in written:
        committed = REPO_ROOT / fresh.relative_to(tmp_path)
        if not committed.exists() or committed.read_bytes() != fresh.read_bytes():
            stale.append(str(committed.relative_to(REPO_ROOT)))
    assert not stale, f"generated code is stale, run `python -m proto.generate`: {stale}"


def test_every_enum_has_an_unspecified_zero() -> None:
    from proto.retail.v1 import edge_service_pb2, track_pb2

    for module in (track_pb2, edge_service_pb2):
        for enum in module.DESCRIPTOR.enum_types_by_name.values():
            assert enum.values_by_number[0].name.endswith("_UNSPECIFIED"), enum.name
