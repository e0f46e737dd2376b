"""Point-of-sale rows: parsing and validation of the CSV file and the JSON body, with row-level errors.

Pure Python (no database): every row is checked, and each problem is reported with where it is (`line` of the CSV
file, 1 being the header; `index` of the JSON list, from 0), the `field` and the `reason`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

REQUIRED_COLUMNS = ("time", "till", "amount")
OPTIONAL_COLUMNS = ("currency", "transaction_id")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
MAX_ROWS = 200_000
MAX_AMOUNT = Decimal("1000000000000")
MAX_TILL_CHARS = 64
MAX_TRANSACTION_ID_CHARS = 128
MAX_ERRORS_LISTED = 100
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)  # a till clock a little ahead is fine; a typo'd year is not


@dataclass(frozen=True, slots=True)
class SaleRow:
    occurred_at: datetime
    till: str
    amount: Decimal
    currency: str
    transaction_id: str

    @property
    def key(self) -> str:
        """The idempotency key: the transaction id, or time (UTC)|till|amount when there is none: the same moment
        written in another offset is the same transaction."""
        if self.transaction_id:
            return f"id:{self.transaction_id}"
        return f"{self.occurred_at.astimezone(UTC).isoformat()}|{self.till}|{self.amount}"


@dataclass(frozen=True, slots=True)
class RowError:
    where: dict[str, int]  # {"line": n} (CSV) or {"index": i} (JSON)
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {**self.where, "field": self.field, "reason": self.reason}


@dataclass
class ParsedRows:
    rows: list[SaleRow]
    errors: list[RowError]
    first_seen: dict[str, tuple[SaleRow, dict[str, int]]] = field(default_factory=dict)  # key -> row, where


def _time(value: Any, zone: tzinfo) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("required: an ISO 8601 date-time such as 2026-12-01T14:05:00")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise ValueError(f"not an ISO 8601 date-time: {value!r}") from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)  # the site's local time
    try:
        utc = moment.astimezone(UTC)
    except OverflowError as err:  # year 1 or 9999 with an offset: outside what a date-time holds
        raise ValueError(f"must be after {EARLIEST_TIME:%Y-%m-%d} and not in the future: {value!r}") from err
    if utc < EARLIEST_TIME:
        raise ValueError(f"must be after {EARLIEST_TIME:%Y-%m-%d}: {value!r}")
    if utc > datetime.now(UTC) + FUTURE_SLACK:
        raise ValueError(f"in the future (more than a day ahead): {value!r}; is the year right?")
    return moment


def _till(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise ValueError("required: the till (register) name or number")
    if len(text) > MAX_TILL_CHARS:
        raise ValueError(f"at most {MAX_TILL_CHARS} characters")
    return text


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("required: a decimal number such as 12.50 (negative for a refund)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("not a finite number")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as err:
        raise ValueError(f"not a decimal number (use a dot, no thousands separator): {value!r}") from err
    if not amount.is_finite():
        raise ValueError("not a finite number")
    if abs(amount) >= MAX_AMOUNT:
        raise ValueError(f"must be below {MAX_AMOUNT} in absolute value")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError("at most 2 decimal places")
    return amount.quantize(Decimal("0.01"))


def _currency(value: Any) -> str:
    text = "" if value is None else str(value).strip().upper()
    if text and (len(text) != 3 or not text.isalpha() or not text.isascii()):
        raise ValueError(f"an ISO 4217 code of 3 letters such as EUR, or empty: {value!r}")
    return text


def _transaction_id(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > MAX_TRANSACTION_ID_CHARS:
        raise ValueError(f"at most {MAX_TRANSACTION_ID_CHARS} characters")
    return text


_FIELDS = {
    "till": _till,
    "amount": _amount,
    "currency": _currency,
    "transaction_id": _transaction_id,
}


def parse_row(item: Mapping[str, Any], *, where: dict[str, int], zone: tzinfo) -> SaleRow | list[RowError]:
    """One row, or the errors of its fields (all of them, not only the first)."""
    errors: list[RowError] = []
    values: dict[str, Any] = {}
    try:
        values["occurred_at"] = _time(item.get("time"), zone)
    except ValueError as err:
        errors.append(RowError(where, "time", str(err)))
    for name, parse in _FIELDS.items():
        try:
            values[name] = parse(item.get(name))
        except ValueError as err:
            errors.append(RowError(where, name, str(err)))
    unknown = sorted(set(item) - set(COLUMNS))
    if unknown:
        errors.append(RowError(where, unknown[0], f"unknown field; fields are {list(COLUMNS)}"))
    if errors:
        return errors
    return SaleRow(**values)


def parse_items(items: Iterable[Any], *, zone: tzinfo) -> ParsedRows:
    """The JSON body's list of transactions."""
    parsed = ParsedRows([], [])
    for index, item in enumerate(items):
        where = {"index": index}
        if index >= MAX_ROWS:
            parsed.errors.append(RowError(where, "", f"at most {MAX_ROWS} transactions per request"))
            break
        if not isinstance(item, Mapping):
            parsed.errors.append(RowError(where, "", "each transaction is an object"))
            continue
        _collect(parsed, parse_row(item, where=where, zone=zone), where)
    return parsed


def _collect(parsed: ParsedRows, result: SaleRow | list[RowError], where: dict[str, int]) -> None:
    if not isinstance(result, SaleRow):
        parsed.errors.extend(result)
        return
    earlier = parsed.first_seen.setdefault(result.key, (result, where))
    if earlier[0] != result:  # one transaction id, two different sales: the second one would vanish silently
        place = ", ".join(f"{name} {value}" for name, value in earlier[1].items())
        what = (
            f"transaction id {result.transaction_id!r}"
            if result.transaction_id
            else "the same time|till|amount"
        )
        name = "transaction_id" if result.transaction_id else "currency"
        parsed.errors.append(RowError(where, name, f"{what} is already on {place} with other values"))
        return
    parsed.rows.append(result)


def _csv_lines(data: bytes) -> Iterator[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"the file is not UTF-8 text (byte {err.start})") from err
    return iter(io.StringIO(text, newline=""))


def parse_csv(data: bytes, *, zone: tzinfo) -> ParsedRows:
    """A CSV file with a header row naming the columns (`time,till,amount[,currency][,transaction_id]`, any
    order); `,` or `;` as the separator."""
    parsed = ParsedRows([], [])
    try:
        lines = list(_csv_lines(data))
    except ValueError as err:
        parsed.errors.append(RowError({"line": 1}, "", str(err)))
        return parsed
    if not lines:
        parsed.errors.append(RowError({"line": 1}, "", "the file is empty; the first line names the columns"))
        return parsed
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = [name.strip().lower() for name in next(reader)]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        unknown = [name for name in header if name not in COLUMNS]
        for name in missing:
            parsed.errors.append(RowError({"line": 1}, name, "missing column"))
        for name in unknown:
            parsed.errors.append(RowError({"line": 1}, name, f"unknown column; columns are {list(COLUMNS)}"))
        if len(set(header)) != len(header):
            parsed.errors.append(RowError({"line": 1}, "", "a column is named twice"))
        if parsed.errors:
            return parsed
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            where = {"line": line}
            if len(parsed.rows) + len(parsed.errors) >= MAX_ROWS:
                parsed.errors.append(RowError(where, "", f"at most {MAX_ROWS} rows per file"))
                break
            if len(cells) != len(header):
                parsed.errors.append(
                    RowError(where, "", f"{len(cells)} cells; the header has {len(header)} columns")
                )
                continue
            _collect(parsed, parse_row(dict(zip(header, cells, strict=True)), where=where, zone=zone), where)
    except csv.Error as err:
        parsed.errors.append(RowError({"line": reader.line_num}, "", f"not valid CSV: {err}"))
    return parsed
