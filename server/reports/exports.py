"""Every analytic of one site over a time range as tables (a header and rows), for the CSV and XLSX exports.

Each section is a generator, so that a large range streams: rows leave as they are read (visits and alerts are
iterated from the database in chunks; the heat map is one grid, the rest are per hour or per zone).
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from server.alerts.models import Alert
from server.errors import ApplicationError
from server.insights import heat_query
from server.insights import selectors as insights
from server.insights.models import PersonVisit
from server.inventory.localtime import hour_fraction
from server.retention.privacy import heatmap_suppressed
from server.sales import selectors as sales
from server.sales.visits import conversion_visits
from server.timeseries.base import TimeSeriesBackend
from server.timeseries.errors import TimeSeriesError
from server.timeseries.measurements import OCCUPANCY
from server.timeseries.types import SeriesQuery

logger = logging.getLogger(__name__)

Cell = str | int | float | None


@dataclass(frozen=True)
class ExportContext:
    site_id: int
    start: datetime
    end: datetime
    zone: zoneinfo.ZoneInfo
    timeseries: Callable[[], TimeSeriesBackend]


@dataclass(frozen=True)
class Section:
    name: str
    header: tuple[str, ...]
    rows: Callable[[ExportContext], Iterator[list[Cell]]]
    permission: str
    eager: bool = False  # read before the answer starts (a failure is then a clear error, not a cut-off file)


def prepared(section: Section, ctx: ExportContext) -> Section:
    """An eager section with its rows read now (the time series: hourly, bounded); others as they are."""
    if not section.eager:
        return section
    try:
        rows = list(section.rows(ctx))
    except TimeSeriesError as err:
        raise ApplicationError(
            f"the {section.name} series cannot be read now ({err.code}); try again, or export another analytic",
            code="timeseries_unavailable",
            status_code=503,
        ) from err
    return replace(section, rows=lambda _ctx: iter(rows))


def _local(moment: datetime | None, zone: tzinfo) -> str:
    return "" if moment is None else moment.astimezone(zone).isoformat()


def _visits_per_hour(ctx: ExportContext) -> Iterator[list[Cell]]:
    counts = conversion_visits(
        site_ids=[ctx.site_id], start=ctx.start, end=ctx.end, bucket="hour", zone=ctx.zone
    )
    for (_, moment), count in sorted(counts.items()):
        yield [_local(moment, ctx.zone), count]


def _visit_rows(ctx: ExportContext) -> Iterator[list[Cell]]:
    visits = (
        PersonVisit.objects.filter(site_id=ctx.site_id, started_at__gte=ctx.start, started_at__lt=ctx.end)
        .order_by("started_at", "id")
        .values_list("person_id", "started_at", "ended_at")
    )
    for person_id, started_at, ended_at in visits.iterator(chunk_size=5000):
        duration = None if ended_at is None else round((ended_at - started_at).total_seconds(), 1)
        yield [person_id, _local(started_at, ctx.zone), _local(ended_at, ctx.zone), duration]


def _occupancy(ctx: ExportContext) -> Iterator[list[Cell]]:
    # The store's hours, as the footfall and conversion sheets have them: in a zone of half or three-quarter hours
    # they start 30 or 45 minutes past the UTC hour (Lord Howe, whose clocks change by half an hour, keeps UTC's).
    fraction = hour_fraction(ctx.zone)
    series: dict[tuple[int, str], dict[str, Any]] = {}
    for aggregate in ("mean", "max"):
        query = SeriesQuery(
            measurement=OCCUPANCY,
            start_ns=int(ctx.start.timestamp() * 1e9),
            end_ns=int(ctx.end.timestamp() * 1e9),
            tags={"site": str(ctx.site_id)},
            fields=["people"],
            group_by_time_s=3600,
            window_offset_s=fraction.total_seconds() if fraction else 0.0,
            aggregate=aggregate,  # type: ignore[arg-type]
            group_by_tags=["zone"],
        )
        for row in ctx.timeseries().query(query):
            value = row.fields.get("people")
            if value is None:
                continue
            key = (row.time_ns, str(row.tags.get("zone", "")))
            series.setdefault(key, {})[aggregate] = float(value)
    for (time_ns, zone_id), values in sorted(series.items()):
        moment = datetime.fromtimestamp(time_ns / 1e9, tz=ctx.zone)
        yield [
            moment.isoformat(),
            zone_id or "site",
            round(values.get("mean", 0.0), 2),
            round(values.get("max", 0.0), 2),
        ]


def _dwell(ctx: ExportContext) -> Iterator[list[Cell]]:
    for row in insights.zone_interest(site_id=ctx.site_id, start=ctx.start, end=ctx.end):
        yield [
            row["zone_id"],
            row["zone_name"],
            row["visits"],
            row["dwell_s"],
            row["mean_dwell_s"],
            row["interest"],
        ]


def _heatmap(ctx: ExportContext) -> Iterator[list[Cell]]:
    heat = heatmap_suppressed(  # the API's small-count suppression: docs/privacy.md
        heat_query.heatmap(site_id=ctx.site_id, start=ctx.start, end=ctx.end),
        site_id=ctx.site_id,
        start=ctx.start,
        end=ctx.end,
    )
    cell_m = float(heat["cell_m"])
    for column, row, person_s, dx, dy in heat["cells"]:
        yield [column, row, round(column * cell_m, 2), round(row * cell_m, 2), person_s, dx, dy]


def _flow(ctx: ExportContext) -> Iterator[list[Cell]]:
    for row in insights.flow(site_id=ctx.site_id, start=ctx.start, end=ctx.end):
        yield [row["from_zone"], row["from_zone_name"], row["to_zone"], row["to_zone_name"], row["count"]]


def _alerts(ctx: ExportContext) -> Iterator[list[Cell]]:
    alerts = (
        Alert.objects.filter(site_id=ctx.site_id, raised_at__gte=ctx.start, raised_at__lt=ctx.end)
        .order_by("raised_at", "id")
        .values_list("id", "raised_at", "closed_at", "kind", "zone_id", "state", "person_name", "message")
    )
    for alert_id, raised_at, closed_at, kind, zone_id, state, person_name, message in alerts.iterator(2000):
        yield [
            alert_id,
            _local(raised_at, ctx.zone),
            _local(closed_at, ctx.zone),
            kind,
            zone_id,
            state,
            person_name,
            message,
        ]


def _conversion(ctx: ExportContext) -> Iterator[list[Cell]]:
    result = sales.conversion(site_id=ctx.site_id, start=ctx.start, end=ctx.end, bucket="hour", zone=ctx.zone)
    for row in result["series"]:
        yield [row["t"], row["visits"], row["transactions"], row["revenue"], row["conversion"]]


VIEW_ANALYTICS = "insights.view_heatmaphour"
SECTIONS: dict[str, Section] = {
    section.name: section
    for section in (
        Section("footfall", ("hour", "visits"), _visits_per_hour, VIEW_ANALYTICS),
        Section("visits", ("person_id", "entered", "left", "duration_s"), _visit_rows, VIEW_ANALYTICS),
        Section(
            "occupancy", ("hour", "zone", "mean_people", "max_people"), _occupancy, VIEW_ANALYTICS, eager=True
        ),
        Section(
            "dwell",
            ("zone_id", "zone", "visits", "dwell_s", "mean_dwell_s", "interest"),
            _dwell,
            VIEW_ANALYTICS,
        ),
        Section(
            "heatmap", ("column", "row", "x_m", "y_m", "person_s", "dx_m", "dy_m"), _heatmap, VIEW_ANALYTICS
        ),
        Section(
            "flow",
            ("from_zone_id", "from_zone", "to_zone_id", "to_zone", "transitions"),
            _flow,
            VIEW_ANALYTICS,
        ),
        Section(
            "alerts",
            ("id", "raised", "closed", "kind", "zone_id", "state", "person", "message"),
            _alerts,
            "alerts.view_alert",
        ),
        Section(
            "conversion",
            ("hour", "visits", "transactions", "revenue", "conversion"),
            _conversion,
            "sales.view_postransaction",
        ),
    )
}
MAX_EXPORT_RANGE = timedelta(days=400)


# A text cell starting with one of these is a formula to a spreadsheet (zone, camera, person names and alert
# messages are typed by users): CSV cells get a leading apostrophe (OWASP "CSV injection"), XLSX cells are typed
# as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _csv_safe(row: list[Cell]) -> list[Cell]:
    return [f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell for cell in row]


def csv_stream(section: Section, ctx: ExportContext) -> Iterator[str]:
    """The section as CSV text, a chunk of lines at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(section.header)
    for count, row in enumerate(section.rows(ctx), start=1):
        writer.writerow(_csv_safe(row))
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _xlsx_cell(sheet: Any, cell: Cell) -> Any:
    """openpyxl writes a string starting with "=" as a formula: such text goes in as a text cell."""
    if not (isinstance(cell, str) and cell.startswith(FORMULA_STARTS)):
        return cell
    text = WriteOnlyCell(sheet, value=f"'{cell}")
    text.data_type = "s"
    return text


def xlsx_file(sections: list[Section], ctx: ExportContext) -> IO[bytes]:
    """A workbook with one sheet per section, written row by row (openpyxl's write-only mode) into a temporary
    file that the response then streams; the file is gone once closed."""
    workbook = Workbook(write_only=True)
    for section in sections:
        sheet = workbook.create_sheet(title=section.name)
        sheet.append(list(section.header))
        for row in section.rows(ctx):
            sheet.append([_xlsx_cell(sheet, cell) for cell in row])
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (the response closes it)
    workbook.save(handle)
    handle.seek(0)
    return handle
