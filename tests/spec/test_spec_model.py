"""The generated metadata agrees with amqp0-9-1.xml, read here independently.

This module parses the XML with ``xml.etree`` on its own (it does not reuse the
generator's model), so a generator bug cannot hide by being repeated. The
only hand-kept data are the Python names the XML cannot give (aliases that
aio-pika users read) and the XML's known omissions, each in one table below.
"""

from __future__ import annotations

import datetime
import inspect
import keyword
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from amqpio import spec
from amqpio.codec import errors as codec_errors
from amqpio.codec.table import decode_table, encode_table
from amqpio.spec.constants import HARD_ERRORS, SOFT_ERRORS

ROOT = Path(__file__).resolve().parents[2]
XML_ROOT = ET.parse(ROOT / "amqp0-9-1.xml").getroot()

# Python names the XML cannot derive. Key: (class, method or "" for the
# content properties, XML field name).
ALIASES: dict[tuple[str, str, str], str] = {
    # shadows the builtin; pamqp and aio-pika call it exchange_type
    ("exchange", "declare", "type"): "exchange_type",
    # shadows the builtin; pamqp and aio-pika call it message_type
    ("basic", "", "type"): "message_type",
    # "reserved" in the 0-9-1 XML was cluster-id in 0-9; clients keep that name
    ("basic", "", "reserved"): "cluster_id",
}

# What the XML leaves out but the broker does. Key: (class, method); value:
# the XML names of the replies. RabbitMQ answers basic.recover with
# basic.recover-ok (pamqp and aiormq wait for it), yet the XML gives recover
# neither synchronous="1" nor a <response>.
XML_WRONG_DIRECTION: dict[tuple[str, str], tuple[bool, bool]] = {
    ("connection", "update-secret"): (True, False),
    ("connection", "update-secret-ok"): (False, True),
}
XML_OMITTED_RESPONSES: dict[tuple[str, str], tuple[str, ...]] = {
    ("basic", "recover"): ("recover-ok",),
}


@dataclass(frozen=True)
class XField:
    name: str
    wire: str
    reserved: bool


@dataclass(frozen=True)
class XMethod:
    cls: str
    name: str
    class_index: int
    index: int
    synchronous: bool
    content: bool
    responses: tuple[str, ...]
    chassis: frozenset[str]
    fields: tuple[XField, ...]

    def __str__(self) -> str:
        return f"{camel(self.cls)}.{camel(self.name)}"


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


_DOMAINS = {d.get("name"): d.get("type") for d in XML_ROOT.iter("domain")}
_WIRE_TYPES = {d for d, t in _DOMAINS.items() if d == t}


def _wire(field: ET.Element) -> str:
    wire = field.get("type") or field.get("domain")
    while wire not in _WIRE_TYPES:
        wire = _DOMAINS[wire]
    assert wire is not None
    return wire


def _fields(parent: ET.Element) -> tuple[XField, ...]:
    return tuple(
        XField(str(f.get("name")), _wire(f), f.get("reserved") == "1")
        for f in parent.findall("field")
    )


def _xml_methods() -> list[XMethod]:
    out = []
    for c in XML_ROOT.findall("class"):
        for m in c.findall("method"):
            out.append(
                XMethod(
                    cls=str(c.get("name")),
                    name=str(m.get("name")),
                    class_index=int(str(c.get("index"))),
                    index=int(str(m.get("index"))),
                    synchronous=m.get("synchronous") == "1",
                    content=m.get("content") == "1",
                    responses=tuple(str(r.get("name")) for r in m.findall("response")),
                    chassis=frozenset(
                        str(ch.get("name")) for ch in m.findall("chassis")
                    ),
                    fields=_fields(m),
                )
            )
    return out


XML_METHODS = _xml_methods()
(_BASIC_XML,) = [c for c in XML_ROOT.findall("class") if c.findall("field")]
XML_PROPERTIES = _fields(_BASIC_XML)


def py_name(cls: str, method: str, field: str) -> str:
    alias = ALIASES.get((cls, method, field))
    if alias is not None:
        return alias
    name = field.replace("-", "_")
    return name + "_" if keyword.iskeyword(name) else name


def live_fields(m: XMethod) -> list[tuple[str, str]]:
    return [
        (py_name(m.cls, m.name, f.name), f.wire) for f in m.fields if not f.reserved
    ]


def generated(m: XMethod) -> type[spec.Method]:
    return spec.METHODS[(m.class_index, m.index)]


method_params = pytest.mark.parametrize("m", XML_METHODS, ids=str)


# -- methods ------------------------------------------------------------------


def test_methods_table_has_exactly_the_xml_methods() -> None:
    assert sorted(spec.METHODS) == sorted((m.class_index, m.index) for m in XML_METHODS)
    assert {cls.INDEX: cls for cls in spec.METHODS.values()} == spec.METHODS_BY_INDEX


@method_params
def test_method_ids_and_names(m: XMethod) -> None:
    cls = generated(m)
    assert m.class_index == cls.CLASS_ID
    assert m.index == cls.METHOD_ID
    assert m.class_index << 16 | m.index == cls.INDEX
    assert str(m) == cls.NAME
    # reachable as spec.<Class>.<Method>, the path aio-pika users see
    assert getattr(getattr(spec, camel(m.cls)), camel(m.name)) is cls
    assert m.class_index == getattr(spec, camel(m.cls)).CLASS_ID
    assert issubclass(cls, spec.Method)


@method_params
def test_method_flags_follow_the_xml(m: XMethod) -> None:
    cls = generated(m)
    if (m.cls, m.name) not in XML_OMITTED_RESPONSES:
        assert cls.SYNCHRONOUS is m.synchronous
    assert cls.CONTENT is m.content
    if (m.cls, m.name) in XML_WRONG_DIRECTION:
        # RabbitMQ's client sends update-secret; the XML's chassis says otherwise
        expected = XML_WRONG_DIRECTION[(m.cls, m.name)]
        assert (cls.SENT_BY_CLIENT, cls.SENT_BY_SERVER) == expected
        assert cls.SENT_BY_CLIENT is not ("server" in m.chassis)
        return
    # <chassis name="server"> means the server implements it: the client sends it
    assert cls.SENT_BY_CLIENT is ("server" in m.chassis)
    assert cls.SENT_BY_SERVER is ("client" in m.chassis)


def _classes(m: XMethod, names: tuple[str, ...]) -> tuple[type[spec.Method], ...]:
    owner = getattr(spec, camel(m.cls))
    return tuple(getattr(owner, camel(r)) for r in names)


@method_params
def test_method_responses_follow_the_xml(m: XMethod) -> None:
    if (m.cls, m.name) in XML_OMITTED_RESPONSES:
        return  # see test_xml_omitted_responses_are_supplied
    assert _classes(m, m.responses) == generated(m).RESPONSES


@pytest.mark.parametrize(
    "m",
    [m for m in XML_METHODS if (m.cls, m.name) in XML_OMITTED_RESPONSES],
    ids=str,
)
def test_xml_omitted_responses_are_supplied(m: XMethod) -> None:
    # Without the reply a client that matches replies against RESPONSES
    # treats RabbitMQ's Basic.RecoverOk as unsolicited (a protocol error).
    cls = generated(m)
    assert _classes(m, XML_OMITTED_RESPONSES[(m.cls, m.name)]) == cls.RESPONSES
    assert cls.SYNCHRONOUS is True


@method_params
def test_method_fields_names_order_and_wire_types(m: XMethod) -> None:
    cls = generated(m)
    assert tuple(live_fields(m)) == cls.FIELDS
    names = [name for name, _ in cls.FIELDS]
    parameters = list(inspect.signature(cls).parameters.values())
    assert [p.name for p in parameters] == names
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters)
    assert sorted(cls.__slots__) == sorted(names)


@method_params
def test_reserved_fields_are_hidden(m: XMethod) -> None:
    cls = generated(m)
    reserved = {py_name(m.cls, m.name, f.name) for f in m.fields if f.reserved}
    assert not reserved & {name for name, _ in cls.FIELDS}
    assert not reserved & set(inspect.signature(cls).parameters)
    for name in reserved:
        with pytest.raises(TypeError):
            cls(**{name: 0})


@method_params
def test_defaults_are_wire_zero_values(m: XMethod) -> None:
    instance = generated(m)()
    zero: dict[str, object] = {
        "bit": False,
        "octet": 0,
        "short": 0,
        "long": 0,
        "longlong": 0,
        "shortstr": "",
        "longstr": b"",
        "table": {},
    }
    # Defaults the generator documents as deliberate, everything else is zero.
    deliberate: dict[str, dict[str, object]] = {
        "Exchange.Declare": {"exchange_type": "direct"},
        "Connection.Start": {
            "version_major": 0,
            "version_minor": 9,
            "mechanisms": b"PLAIN",
            "locales": b"en_US",
        },
        "Connection.StartOk": {"mechanism": "PLAIN", "locale": "en_US"},
        "Connection.Open": {"virtual_host": "/"},
    }
    overrides = deliberate.get(str(m), {})
    for name, wire in live_fields(m):
        expected = overrides.get(name, zero[wire])
        assert getattr(instance, name) == expected, name


def test_table_defaults_are_not_shared() -> None:
    first, second = spec.Queue.Declare(), spec.Queue.Declare()
    assert first.arguments == {} and first.arguments is not second.arguments


# -- an independent, XML-driven reference codec ----------------------------------

_FIXED = {
    "octet": ">B",
    "short": ">H",
    "long": ">I",
    "longlong": ">Q",
    "timestamp": ">Q",
}


def ref_decode(fields: tuple[XField, ...], payload: bytes) -> dict[str, Any]:
    """Decode method arguments by walking the XML fields (bits LSB first)."""
    out: dict[str, Any] = {}
    o, bit, octet = 4, 8, 0
    for f in fields:
        if f.wire == "bit":
            if bit == 8:
                octet, bit = payload[o], 0
                o += 1
            out[f.name] = bool(octet >> bit & 1)
            bit += 1
            continue
        bit = 8
        if f.wire in _FIXED:
            fmt = struct.Struct(_FIXED[f.wire])
            (out[f.name],) = fmt.unpack_from(payload, o)
            o += fmt.size
        elif f.wire == "shortstr":
            out[f.name] = payload[o + 1 : o + 1 + payload[o]].decode()
            o += 1 + payload[o]
        elif f.wire == "longstr":
            (size,) = struct.unpack_from(">I", payload, o)
            out[f.name] = payload[o + 4 : o + 4 + size]
            o += 4 + size
        else:
            assert f.wire == "table"
            out[f.name], o = decode_table(payload, o)
    assert o == len(payload), "payload not consumed exactly"
    return out


def ref_encode(m: XMethod, values: dict[str, Any]) -> bytes:
    """Encode method arguments by walking the XML fields (bits LSB first)."""
    parts = [struct.pack(">HH", m.class_index, m.index)]
    bits: list[bool] = []

    def flush() -> None:
        if bits:
            parts.append(bytes([sum(b << i for i, b in enumerate(bits))]))
            bits.clear()

    for f in m.fields:
        value = values[f.name]
        if f.wire == "bit":
            if len(bits) == 8:
                flush()
            bits.append(bool(value))
            continue
        flush()
        if f.wire in _FIXED:
            parts.append(struct.pack(_FIXED[f.wire], value))
        elif f.wire == "shortstr":
            raw = value.encode()
            parts.append(bytes([len(raw)]) + raw)
        elif f.wire == "longstr":
            parts.append(struct.pack(">I", len(value)) + value)
        else:
            parts.append(encode_table(value))
    flush()
    return b"".join(parts)


_BUSY = {
    "bit": True,
    "octet": 0xFF,
    "short": 0xFFFF,
    "long": 0xFFFF_FFFF,
    "longlong": 2**64 - 1,
    "shortstr": "busy",
    "longstr": b"busy",
    "table": {"busy": 1},
}
_ZERO = {
    "bit": False,
    "octet": 0,
    "short": 0,
    "long": 0,
    "longlong": 0,
    "shortstr": "",
    "longstr": b"",
    "table": {},
}


@method_params
def test_encoding_matches_the_xml_layout_and_zeroes_reserved_fields(
    m: XMethod,
) -> None:
    # every live field at its maximum, so a reserved bit or integer sitting
    # next to them would show any bleed-through
    cls = generated(m)
    live = {name: _BUSY[wire] for name, wire in live_fields(m)}
    payload = cls(**live).encode()
    assert payload[:4] == struct.pack(">HH", m.class_index, m.index)
    decoded = ref_decode(m.fields, payload)
    for f in m.fields:
        if f.reserved:
            assert decoded[f.name] == _ZERO[f.wire], f.name
        else:
            assert decoded[f.name] == _BUSY[f.wire], f.name


@method_params
def test_decoding_follows_the_xml_layout_and_ignores_reserved_values(
    m: XMethod,
) -> None:
    # peers do put values in reserved fields (pamqp sends "0" as
    # Channel.Open's reserved shortstr): they must be skipped, not rejected
    values = {f.name: _BUSY[f.wire] for f in m.fields}
    decoded = spec.decode_method(ref_encode(m, values))
    assert type(decoded) is generated(m)
    for name, wire in live_fields(m):
        assert getattr(decoded, name) == _BUSY[wire], name


# -- aliases users rely on ------------------------------------------------------


def test_exchange_declare_type_is_exchange_type() -> None:
    declare = spec.Exchange.Declare(exchange="logs", exchange_type="fanout")
    decoded = spec.decode_method(declare.encode())
    assert isinstance(decoded, spec.Exchange.Declare)
    assert decoded.exchange_type == "fanout"
    assert spec.Exchange.Declare().exchange_type == "direct"


def test_basic_qos_global_is_global_underscore() -> None:
    qos = spec.Basic.Qos(prefetch_count=10, global_=True)
    decoded = spec.decode_method(qos.encode())
    assert isinstance(decoded, spec.Basic.Qos)
    assert decoded.global_ is True
    assert ("global_", "bit") in spec.Basic.Qos.FIELDS


def test_properties_aliases() -> None:
    assert spec.Basic.Properties is spec.BasicProperties
    names = [name for name, _ in spec.BasicProperties.FIELDS]
    assert "message_type" in names and "cluster_id" in names
    assert "type" not in names and "reserved" not in names
    props = spec.BasicProperties(message_type="event", cluster_id="c1")
    decoded = spec.BasicProperties.decode(props.encode())
    assert decoded.message_type == "event"
    assert decoded.cluster_id == "c1"


def test_queue_declare_ok_attributes_read_by_aio_pika_users() -> None:
    payload = struct.pack(">HHB", 50, 11, 5) + b"q.one" + struct.pack(">II", 7, 2)
    ok = spec.decode_method(payload)
    assert isinstance(ok, spec.Queue.DeclareOk)
    assert (ok.queue, ok.message_count, ok.consumer_count) == ("q.one", 7, 2)


# -- properties -----------------------------------------------------------------


def test_properties_fields_follow_the_xml() -> None:
    expected = tuple((py_name("basic", "", f.name), f.wire) for f in XML_PROPERTIES)
    assert expected == spec.BasicProperties.FIELDS
    assert int(str(_BASIC_XML.get("index"))) == spec.BasicProperties.CLASS_ID
    parameters = inspect.signature(spec.BasicProperties).parameters
    assert list(parameters) == [name for name, _ in expected]
    assert all(p.default is None for p in parameters.values())


def test_property_flags_are_assigned_in_xml_order() -> None:
    # bit 15 flags the first property, bit 14 the second, ...
    values: dict[str, Any] = {
        "shortstr": "x",
        "octet": 1,
        "table": {},
        "timestamp": datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc),
    }
    for position, (name, wire) in enumerate(spec.BasicProperties.FIELDS):
        encoded = spec.BasicProperties(**{name: values[wire]}).encode()
        assert struct.unpack_from(">H", encoded)[0] == 1 << (15 - position), name


# -- constants -------------------------------------------------------------------


def _xml_constants() -> dict[str, tuple[int, str | None]]:
    return {
        str(c.get("name")): (int(str(c.get("value"))), c.get("class"))
        for c in XML_ROOT.findall("constant")
    }


def test_reply_codes_and_their_classification() -> None:
    constants = _xml_constants()
    errors = {n: v for n, v in constants.items() if v[1] is not None}
    expected_members = {n.replace("-", "_").upper(): v for n, (v, _) in errors.items()}
    expected_members["REPLY_SUCCESS"] = constants["reply-success"][0]
    assert {c.name: c.value for c in spec.ReplyCode} == expected_members
    for name, (value, kind) in errors.items():
        code = spec.ReplyCode(value)
        assert code.is_soft_error is (kind == "soft-error"), name
        assert code.is_hard_error is (kind == "hard-error"), name
        assert kind in ("soft-error", "hard-error"), name
    success = spec.ReplyCode.REPLY_SUCCESS
    assert not success.is_soft_error and not success.is_hard_error
    assert SOFT_ERRORS.isdisjoint(HARD_ERRORS)


@pytest.mark.parametrize(
    ("code", "soft"),
    [
        (spec.ReplyCode.NOT_FOUND, True),
        (spec.ReplyCode.PRECONDITION_FAILED, True),
        (spec.ReplyCode.CONNECTION_FORCED, False),
        (spec.ReplyCode.FRAME_ERROR, False),
    ],
)
def test_well_known_reply_codes(code: spec.ReplyCode, soft: bool) -> None:
    assert code.is_soft_error is soft
    assert code.is_hard_error is not soft


def test_frame_constants_protocol_version_and_class_ids() -> None:
    from amqpio.spec import constants as c

    xml = _xml_constants()
    for name, (value, kind) in xml.items():
        if kind is None:
            assert getattr(c, name.replace("-", "_").upper()) == value, name
    version = tuple(int(str(XML_ROOT.get(k))) for k in ("major", "minor", "revision"))
    assert version == spec.PROTOCOL_VERSION
    assert b"AMQP\x00" + bytes(version) == spec.PROTOCOL_HEADER
    assert int(str(XML_ROOT.get("port"))) == spec.DEFAULT_PORT
    assert {c.name: c.value for c in spec.ClassId} == {
        str(x.get("name")).upper(): int(str(x.get("index")))
        for x in XML_ROOT.findall("class")
    }


def test_codec_reply_codes_repeat_the_spec() -> None:
    # codec/errors.py may not import spec, so it repeats these three codes
    assert int(spec.ReplyCode.FRAME_ERROR) == codec_errors.FRAME_ERROR
    assert int(spec.ReplyCode.SYNTAX_ERROR) == codec_errors.SYNTAX_ERROR
    assert int(spec.ReplyCode.UNEXPECTED_FRAME) == codec_errors.UNEXPECTED_FRAME
    assert codec_errors.FrameDecodeError.reply_code == spec.ReplyCode.FRAME_ERROR
    assert codec_errors.SyntaxDecodeError.reply_code == spec.ReplyCode.SYNTAX_ERROR
