import grpc
import pytest

from proto.retail.v1 import track_pb2
from server.ingest.servicer import GRPC_STATUS
from server.ingest.validation import InvalidFrameError, Rejection, TimeWindow, decode_frame

NOW_US = 1_764_000_000_000_000
WINDOW = TimeWindow(max_past_us=3600 * 10**6, max_future_us=60 * 10**6)


def make_frame(count=3, **overrides):
    frame = track_pb2.TrackFrame(camera_id=7, sequence=42, capture_time_us=NOW_US)
    frame.local_id_deltas.extend([5] + [1] * (count - 1) if count else [])
    frame.bbox_x_px.extend([10 * i for i in range(count)])
    frame.bbox_y_px.extend([20] * count)
    frame.bbox_w_px.extend([40] * count)
    frame.bbox_h_px.extend([120] * count)
    frame.floor_x_cm.extend([100 * i for i in range(count)])
    frame.floor_y_cm.extend([-50] * count)
    frame.score_permille.extend([900] * count)
    frame.state.extend([track_pb2.TRACK_STATE_CONFIRMED] * count)
    for name, value in overrides.items():
        field = getattr(frame, name)
        if hasattr(field, "extend"):
            del field[:]
            field.extend(value)
        else:
            setattr(frame, name, value)
    return frame


def test_valid_frame_decodes_columns():
    decoded = decode_frame(make_frame(), now_us=NOW_US, window=WINDOW)
    assert decoded.local_ids.tolist() == [5, 6, 7]
    assert decoded.bbox_xywh_px.tolist() == [[0, 20, 40, 120], [10, 20, 40, 120], [20, 20, 40, 120]]
    assert decoded.floor_xy_cm.tolist() == [[0, -50], [100, -50], [200, -50]]
    assert decoded.flags.tolist() == [0, 0, 0]


def test_empty_frame_is_valid():
    assert decode_frame(make_frame(count=0), now_us=NOW_US, window=WINDOW).track_count == 0


@pytest.mark.parametrize(
    ("overrides", "status", "reason_part"),
    [
        ({"camera_id": 0}, grpc.StatusCode.INVALID_ARGUMENT, "camera_id"),
        ({"sequence": 0}, grpc.StatusCode.INVALID_ARGUMENT, "sequence"),
        ({"sequence": 2**63}, grpc.StatusCode.INVALID_ARGUMENT, "legal range 1 .. 2^63-1"),
        ({"sequence": 2**64 - 1}, grpc.StatusCode.INVALID_ARGUMENT, "legal range 1 .. 2^63-1"),
        ({"sequence_epoch": 2**63}, grpc.StatusCode.INVALID_ARGUMENT, "sequence_epoch"),
        ({"capture_time_us": NOW_US - 2 * 3600 * 10**6}, grpc.StatusCode.FAILED_PRECONDITION, "clock"),
        ({"capture_time_us": NOW_US + 120 * 10**6}, grpc.StatusCode.FAILED_PRECONDITION, "window"),
        ({"bbox_w_px": [40, 0, 40]}, grpc.StatusCode.INVALID_ARGUMENT, "bbox_w_px[1] = 0"),
        ({"floor_x_cm": [0, 2_000_000, 0]}, grpc.StatusCode.INVALID_ARGUMENT, "floor_x_cm[1]"),
        ({"score_permille": [900, 900, 1001]}, grpc.StatusCode.INVALID_ARGUMENT, "score_permille[2]"),
        ({"state": [2, 0, 2]}, grpc.StatusCode.INVALID_ARGUMENT, "state[1]"),
        ({"local_id_deltas": [5, 0, 1]}, grpc.StatusCode.INVALID_ARGUMENT, "ascending"),
        ({"bbox_y_px": [1, 2]}, grpc.StatusCode.INVALID_ARGUMENT, "one per track"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(overrides, status, reason_part):
    with pytest.raises(InvalidFrameError) as caught:
        decode_frame(make_frame(**overrides), now_us=NOW_US, window=WINDOW)
    assert GRPC_STATUS[caught.value.rejection] == status  # the status the device is told
    assert reason_part in caught.value.message


def test_too_many_tracks():
    with pytest.raises(InvalidFrameError, match="at most 1000"):
        decode_frame(make_frame(count=1001), now_us=NOW_US, window=WINDOW)


def test_largest_legal_sequence_and_epoch_decode():
    decoded = decode_frame(
        make_frame(sequence=2**63 - 1, sequence_epoch=2**63 - 1), now_us=NOW_US, window=WINDOW
    )
    assert (decoded.sequence, decoded.sequence_epoch) == (2**63 - 1, 2**63 - 1)


def test_every_rejection_reason_has_its_grpc_status():
    assert set(GRPC_STATUS) == set(Rejection)


@pytest.mark.parametrize(
    ("status", "rejection"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, Rejection.INVALID_ARGUMENT),
        (grpc.StatusCode.FAILED_PRECONDITION, Rejection.OUT_OF_WINDOW),
    ],
)
def test_a_status_named_at_a_raise_site_is_taken_as_its_reason(status, rejection):
    error = InvalidFrameError(status, "epoch too old")
    assert (error.rejection, error.code, GRPC_STATUS[error.rejection]) == (rejection, rejection.value, status)
