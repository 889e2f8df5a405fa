"""Hypothesis strategies derived from the generated spec metadata.

Every strategy starts from a wire type, as listed in a method's or in
``BasicProperties``' ``FIELDS``: ``wire_value(wire_type, profile)`` is the one
place that knows what a ``short`` or a ``table`` may hold. Nothing here lists
methods by hand, so a method added to the XML is covered without edits.

A ``Profile`` narrows value ranges. ``FULL`` is everything amqpio must carry;
the ``PAMQP_*`` profiles restrict it to what pamqp, the differential oracle,
can decode or encode. Each restriction is documented on the field that makes it.
"""

from __future__ import annotations

import datetime
import decimal
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from hypothesis import strategies as st

from amqpio import spec
from amqpio.codec.table import FieldTable, FieldValue

__all__ = [
    "FULL",
    "PAMQP_DECODES",
    "PAMQP_ENCODES",
    "Profile",
    "field_table",
    "method_instances",
    "properties_instances",
    "wire_value",
]

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
# 9999-12-31T23:59:59Z, the last second a datetime can hold.
_MAX_DATETIME_SECONDS = 253_402_300_799
_PAMQP_NAME_ALPHABET = string.ascii_letters + string.digits + "-_.:@#,/+ "
# pamqp.constants.DOMAIN_REGEX, repeated so the strategy can be checked against it.
PAMQP_NAME_RE = re.compile(r"^[a-zA-Z0-9-_.:@#,/+ ]*$")


@dataclass(frozen=True)
class Profile:
    """Value ranges for the generated data."""

    name: str
    #: Largest ``longlong``; AMQP's is unsigned 64-bit.
    longlong_max: int = 2**64 - 1
    #: Largest timestamp, in seconds since the epoch.
    timestamp_max: int = _MAX_DATETIME_SECONDS
    #: Largest unscaled value of a field-table decimal (spec: long-uint).
    decimal_unscaled_max: int = 2**32 - 1
    #: 64 for any double; 32 for values a float32 holds exactly.
    float_width: Literal[32, 64] = 64
    #: Longest field-table key in UTF-8 bytes (a shortstr: 255).
    table_key_max: int = 255
    #: Draw longstr values as UTF-8 text (encoded) instead of any bytes.
    longstr_utf8: bool = False
    #: Apply pamqp's constructor validation (names, reserved properties).
    pamqp_validation: bool = False


FULL = Profile("full")

# What pamqp 4 *decodes* faithfully (our encode -> pamqp decode):
PAMQP_DECODES = Profile(
    "pamqp-decodes",
    # pamqp decodes longlong with ">q" (signed): values >= 2**63 turn negative.
    longlong_max=2**63 - 1,
    # pamqp reads a timestamp > 0xFFFFFFFF as milliseconds (a heuristic).
    timestamp_max=2**32 - 1,
    # pamqp decodes a decimal's value with ">i" (signed), the spec says unsigned.
    decimal_unscaled_max=2**31 - 1,
)

# What pamqp 4 also *encodes* faithfully (pamqp encode -> our decode):
PAMQP_ENCODES = Profile(
    "pamqp-encodes",
    longlong_max=PAMQP_DECODES.longlong_max,
    timestamp_max=PAMQP_DECODES.timestamp_max,
    decimal_unscaled_max=PAMQP_DECODES.decimal_unscaled_max,
    # pamqp encodes a Python float in a table as "f" (float32), we as "d".
    float_width=32,
    # pamqp truncates field-table keys to 128 bytes (logging a warning).
    table_key_max=128,
    # pamqp's longstr encoder accepts only str.
    longstr_utf8=True,
    pamqp_validation=True,
)


def _fit_utf8(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form is at most ``limit`` bytes."""
    return text.encode()[:limit].decode("utf-8", "ignore")


def _text(limit: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(codec="utf-8"), max_size=limit).map(
        lambda s: _fit_utf8(s, limit)
    )


def shortstr() -> st.SearchStrategy[str]:
    # Mostly arbitrary text; sometimes long ASCII so the 255-byte edge is hit.
    return st.one_of(
        _text(255),
        st.text(string.printable, min_size=240, max_size=255),
    )


def _datetimes(profile: Profile) -> st.SearchStrategy[datetime.datetime]:
    # Whole seconds, aware UTC: the wire carries seconds and we decode to UTC.
    return st.integers(0, profile.timestamp_max).map(
        lambda s: _EPOCH + datetime.timedelta(seconds=s)
    )


def _decimals(profile: Profile) -> st.SearchStrategy[decimal.Decimal]:
    return st.builds(
        lambda unscaled, scale: decimal.Decimal(unscaled).scaleb(-scale),
        st.integers(0, profile.decimal_unscaled_max),
        st.integers(0, 255),
    )


def field_values(profile: Profile) -> st.SearchStrategy[FieldValue]:
    """Any value a field table or array may hold, nested a little."""
    scalars: st.SearchStrategy[FieldValue] = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False, width=profile.float_width),
        _decimals(profile),
        _text(300),
        st.binary(max_size=40),
        _datetimes(profile),
    )
    keys = _text(profile.table_key_max)
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(keys, children, max_size=3),
        ),
        max_leaves=6,
    )


def field_table(profile: Profile = FULL) -> st.SearchStrategy[FieldTable]:
    return st.dictionaries(
        _text(profile.table_key_max), field_values(profile), max_size=4
    )


def wire_value(wire_type: str, profile: Profile = FULL) -> st.SearchStrategy[Any]:
    """Every value of ``wire_type`` the profile allows, in amqpio's Python form."""
    if wire_type == "bit":
        return st.booleans()
    if wire_type == "octet":
        return st.integers(0, 0xFF)
    if wire_type == "short":
        return st.integers(0, 0xFFFF)
    if wire_type == "long":
        return st.integers(0, 0xFFFF_FFFF)
    if wire_type == "longlong":
        return st.integers(0, profile.longlong_max)
    if wire_type == "timestamp":
        # Only Basic.Properties has one, as a datetime.
        return _datetimes(profile)
    if wire_type == "shortstr":
        return shortstr()
    if wire_type == "longstr":
        if profile.longstr_utf8:
            return _text(300).map(str.encode)
        return st.binary(max_size=300)
    if wire_type == "table":
        return field_table(profile)
    raise AssertionError(f"no strategy for wire type {wire_type!r}")


# pamqp validates these method arguments (pamqp/commands.py ``validate``):
# exchange and queue names match DOMAIN_REGEX and hold at most 127 characters
# (pamqp's own limit; the wire allows 255 bytes), and so does virtual_host.
def _pamqp_name() -> st.SearchStrategy[str]:
    return st.text(_PAMQP_NAME_ALPHABET, max_size=127)


_PAMQP_FIELD_STRATEGIES: dict[str, Callable[[], st.SearchStrategy[str]]] = {
    "exchange": _pamqp_name,
    "queue": _pamqp_name,
    "destination": _pamqp_name,
    "source": _pamqp_name,
    "virtual_host": lambda: _text(127),
}


def _field(name: str, wire_type: str, profile: Profile) -> st.SearchStrategy[Any]:
    if profile.pamqp_validation and name in _PAMQP_FIELD_STRATEGIES:
        return _PAMQP_FIELD_STRATEGIES[name]()
    return wire_value(wire_type, profile)


def method_instances(
    cls: type[spec.Method], profile: Profile = FULL
) -> st.SearchStrategy[spec.Method]:
    """Instances of ``cls`` with every field drawn from its wire type."""
    return st.builds(
        cls, **{name: _field(name, wire, profile) for name, wire in cls.FIELDS}
    )


def properties_instances(
    profile: Profile = FULL,
) -> st.SearchStrategy[spec.BasicProperties]:
    """BasicProperties with a random subset of the properties set."""
    fields = {}
    for name, wire in spec.BasicProperties.FIELDS:
        value = wire_value(wire, profile)
        if profile.pamqp_validation and name == "delivery_mode":
            # pamqp's Basic.Properties accepts only 1 or 2.
            value = st.sampled_from([1, 2])
        if profile.pamqp_validation and name == "cluster_id":
            # pamqp's Basic.Properties requires cluster_id to be empty.
            fields[name] = st.none()
            continue
        fields[name] = st.none() | value
    return st.builds(spec.BasicProperties, **fields)
