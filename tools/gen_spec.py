#!/usr/bin/env python3
"""Generate ``src/amqpio/spec/`` from ``amqp0-9-1.xml``.

Pipeline: XML -> typed intermediate model (``Spec``) -> emitters, one per
generated module. Standard library only: it must run when ``spec/`` is broken.

    python tools/gen_spec.py            # (re)write src/amqpio/spec/
    python tools/gen_spec.py --check    # regenerate in memory; diff + exit 1 on drift

Everything the XML does not say lives in the override tables below, one
commented row each. The emitted code is already in ``ruff format`` style.
"""

from __future__ import annotations

import argparse
import builtins
import difflib
import hashlib
import keyword
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
XML_PATH: Final = ROOT / "amqp0-9-1.xml"
OUT_DIR: Final = ROOT / "src" / "amqpio" / "spec"

# -- overrides: what the XML does not say ---------------------------------

# Python names for fields whose XML name clashes with a builtin (keywords get
# a trailing underscore automatically). Key: (class, method or "", field);
# method "" means the class's content properties.
FIELD_RENAMES: Final[dict[tuple[str, str, str], str]] = {
    # builtin `type`; the name pamqp/aiormq (and so aio-pika users) use
    ("exchange", "declare", "type"): "exchange_type",
    # builtin `type`; pamqp's and aio-pika's Basic.Properties name
    ("basic", "", "type"): "message_type",
    # the property the XML calls "reserved" was cluster-id in 0-9; clients
    # (pamqp, aio-pika) still expose it under that name
    ("basic", "", "reserved"): "cluster_id",
}

# Defaults other than the wire type's zero value. Key as in FIELD_RENAMES.
FIELD_DEFAULTS: Final[dict[tuple[str, str, str], object]] = {
    # the exchange type aio-pika and pamqp default to
    ("exchange", "declare", "type"): "direct",
    # the only protocol version this spec describes
    ("connection", "start", "version-major"): 0,
    ("connection", "start", "version-minor"): 9,
    # what RabbitMQ offers; keeps a bare Connection.Start() meaningful
    ("connection", "start", "mechanisms"): b"PLAIN",
    ("connection", "start", "locales"): b"en_US",
    ("connection", "start-ok", "mechanism"): "PLAIN",
    ("connection", "start-ok", "locale"): "en_US",
    # the default virtual host
    ("connection", "open", "virtual-host"): "/",
}

# Replies the XML omits. RabbitMQ answers basic.recover with basic.recover-ok
# (and pamqp/aiormq wait for it), but the XML gives recover neither
# synchronous="1" nor a <response>. Key: (class, method).
METHOD_RESPONSES: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("basic", "recover"): ("recover-ok",),
}

# Who sends a method, where the XML's <chassis> is wrong. RabbitMQ's XML marks
# connection.update-secret as implemented by the client, but the client sends
# it (to renew an expiring credential) and the server answers update-secret-ok.
# Key: (class, method); value: (sent_by_client, sent_by_server).
METHOD_DIRECTIONS: Final[dict[tuple[str, str], tuple[bool, bool]]] = {
    ("connection", "update-secret"): (True, False),
    ("connection", "update-secret-ok"): (False, True),
}

# -- intermediate model ----------------------------------------------------

FIXED_FORMATS: Final[dict[str, str]] = {
    "octet": "B",
    "short": "H",
    "long": "I",
    "longlong": "Q",
    "timestamp": "Q",
}
FIXED_SIZES: Final[dict[str, int]] = {"B": 1, "H": 2, "I": 4, "Q": 8}
WIRE_TYPES: Final = frozenset((*FIXED_FORMATS, "bit", "shortstr", "longstr", "table"))
ZERO_VALUES: Final[dict[str, object]] = {
    "bit": False,
    "octet": 0,
    "short": 0,
    "long": 0,
    "longlong": 0,
    "shortstr": "",
    "longstr": b"",
    "timestamp": 0,
    "table": None,
}
PY_TYPES: Final[dict[str, str]] = {
    "bit": "bool",
    "octet": "int",
    "short": "int",
    "long": "int",
    "longlong": "int",
    "shortstr": "str",
    "longstr": "bytes",
    "timestamp": "int",
    "table": "FieldTable",
}


@dataclass(frozen=True)
class Constant:
    name: str
    value: int
    error_class: str | None  # "soft-error", "hard-error" or None


@dataclass(frozen=True)
class Field:
    name: str
    py_name: str
    type: str  # resolved wire type
    reserved: bool
    default: object
    label: str


@dataclass(frozen=True)
class Method:
    class_name: str
    name: str
    index: int
    synchronous: bool
    content: bool
    responses: tuple[str, ...]
    sent_by_client: bool  # the server implements it
    sent_by_server: bool  # the client implements it
    fields: tuple[Field, ...]
    label: str

    @property
    def py_name(self) -> str:
        return camel(self.name)


@dataclass(frozen=True)
class AmqpClass:
    name: str
    index: int
    label: str
    methods: tuple[Method, ...]
    properties: tuple[Field, ...]

    @property
    def py_name(self) -> str:
        return camel(self.name)


@dataclass(frozen=True)
class Spec:
    major: int
    minor: int
    revision: int
    port: int
    sha256: str
    constants: tuple[Constant, ...]
    domains: dict[str, str]
    classes: tuple[AmqpClass, ...]


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def upper(name: str) -> str:
    return name.replace("-", "_").upper()


def py_field_name(class_name: str, method_name: str, field_name: str) -> str:
    renamed = FIELD_RENAMES.get((class_name, method_name, field_name))
    if renamed is not None:
        return renamed
    name = field_name.replace("-", "_")
    if keyword.iskeyword(name):
        return name + "_"
    if hasattr(builtins, name):
        raise SystemExit(
            f"field {class_name}.{method_name}.{field_name} shadows a builtin: "
            "add it to FIELD_RENAMES"
        )
    return name


def parse(xml_bytes: bytes) -> Spec:
    """Read the spec XML into the intermediate model."""
    root = ET.fromstring(xml_bytes)
    domains = {d.attrib["name"]: d.attrib["type"] for d in root.iter("domain")}

    def resolve(el: ET.Element) -> str:
        wire = el.attrib.get("type") or domains[el.attrib["domain"]]
        while wire not in WIRE_TYPES:
            wire = domains[wire]
        return wire

    def fields(cls: str, method: str, parent: ET.Element) -> tuple[Field, ...]:
        out = []
        for f in parent.findall("field"):
            wire = resolve(f)
            key = (cls, method, f.attrib["name"])
            out.append(
                Field(
                    name=f.attrib["name"],
                    py_name=py_field_name(*key),
                    type=wire,
                    reserved=f.attrib.get("reserved") == "1",
                    default=FIELD_DEFAULTS.get(key, ZERO_VALUES[wire]),
                    label=f.attrib.get("label", ""),
                )
            )
        return tuple(out)

    classes = []
    for c in root.findall("class"):
        cname = c.attrib["name"]
        methods = []
        for m in c.findall("method"):
            chassis = {ch.attrib["name"] for ch in m.findall("chassis")}
            direction = METHOD_DIRECTIONS.get(
                (cname, m.attrib["name"]), ("server" in chassis, "client" in chassis)
            )
            methods.append(
                Method(
                    class_name=cname,
                    name=m.attrib["name"],
                    index=int(m.attrib["index"]),
                    synchronous=m.attrib.get("synchronous") == "1"
                    or (cname, m.attrib["name"]) in METHOD_RESPONSES,
                    content=m.attrib.get("content") == "1",
                    responses=tuple(r.attrib["name"] for r in m.findall("response"))
                    or METHOD_RESPONSES.get((cname, m.attrib["name"]), ()),
                    sent_by_client=direction[0],
                    sent_by_server=direction[1],
                    fields=fields(cname, m.attrib["name"], m),
                    label=m.attrib.get("label", "").strip(),
                )
            )
        classes.append(
            AmqpClass(
                name=cname,
                index=int(c.attrib["index"]),
                label=c.attrib.get("label", "").strip(),
                methods=tuple(methods),
                properties=fields(cname, "", c),
            )
        )
    constants = tuple(
        Constant(
            name=c.attrib["name"],
            value=int(c.attrib["value"]),
            error_class=c.attrib.get("class"),
        )
        for c in root.findall("constant")
    )
    return Spec(
        major=int(root.attrib["major"]),
        minor=int(root.attrib["minor"]),
        revision=int(root.attrib["revision"]),
        port=int(root.attrib["port"]),
        sha256=hashlib.sha256(xml_bytes).hexdigest(),
        constants=constants,
        domains=domains,
        classes=tuple(classes),
    )


# -- emitters ----------------------------------------------------------------


def marker(spec: Spec) -> str:
    return (
        f"# Generated by tools/gen_spec.py from amqp0-9-1.xml (sha256 {spec.sha256}):"
        " do not edit, change the generator.\n"
    )


def literal(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bytes):
        return "b" + literal(value.decode("latin-1"))
    return repr(value)


def split_top_level(inner: str) -> list[str]:
    """Split a call's argument text at its top-level commas."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    tail = inner[start:].strip()
    if tail:
        parts.append(tail)
    return parts


def fit(line: str, force: bool = False) -> list[str]:
    """Wrap a too-long ``... = call(args)`` line the way ``ruff format`` does."""
    if len(line) > 88 and line.endswith("),"):
        *most, last = fit(line[:-1], force=True)
        return [*most, last + ","]
    if (len(line) <= 88 and not force) or not line.endswith(")"):
        return [line]
    depth = 0
    for i in range(len(line) - 1, -1, -1):
        if line[i] == ")":
            depth += 1
        elif line[i] == "(":
            depth -= 1
            if depth == 0:
                break
    head, inner = line[: i + 1], line[i + 1 : -1]
    indent = " " * (len(line) - len(line.lstrip()))
    if len(indent) + 4 + len(inner) <= 88:
        return [head, f"{indent}    {inner}", f"{indent})"]
    return (
        [head] + [f"{indent}    {a}," for a in split_top_level(inner)] + [f"{indent})"]
    )


def sentence(label: str) -> str:
    text = " ".join(label.split())
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def emit_constants(spec: Spec) -> str:
    out = [marker(spec)]
    out.append('"""Constants and reply codes of AMQP 0-9-1."""\n\n')
    out.append("from __future__ import annotations\n\n")
    out.append("from enum import IntEnum\nfrom typing import Final\n\n")
    out.append(f'SPEC_SHA256: Final = "{spec.sha256}"\n')
    out.append(
        f"PROTOCOL_VERSION: Final = ({spec.major}, {spec.minor}, {spec.revision})\n"
    )
    out.append(f"DEFAULT_PORT: Final = {spec.port}\n")
    out.append(
        "PROTOCOL_HEADER: Final = "
        f'b"AMQP\\x00\\x{spec.major:02x}\\x{spec.minor:02x}\\x{spec.revision:02x}"\n'
    )
    for c in spec.constants:
        if c.error_class is None:
            out.append(f"{upper(c.name)}: Final = {c.value}\n")
    out.append("\n\nclass ReplyCode(IntEnum):\n")
    out.append(
        '    """Reply codes; soft errors close a channel, hard ones the connection."""\n\n'
    )
    for c in spec.constants:
        if c.error_class is not None or c.name == "reply-success":
            out.append(f"    {upper(c.name)} = {c.value}\n")
    out.append("\n    @property\n    def is_hard_error(self) -> bool:\n")
    out.append('        """True when the spec classes this code as a hard error."""\n')
    out.append("        return self in HARD_ERRORS\n")
    out.append("\n    @property\n    def is_soft_error(self) -> bool:\n")
    out.append('        """True when the spec classes this code as a soft error."""\n')
    out.append("        return self in SOFT_ERRORS\n\n\n")
    for kind, name in (("soft-error", "SOFT_ERRORS"), ("hard-error", "HARD_ERRORS")):
        out.append(f"{name}: Final[frozenset[ReplyCode]] = frozenset(\n    (\n")
        for c in spec.constants:
            if c.error_class == kind:
                out.append(f"        ReplyCode.{upper(c.name)},\n")
        out.append("    )\n)\n")
    out.append("\n\nclass ClassId(IntEnum):\n")
    out.append('    """AMQP class ids."""\n\n')
    for cls in spec.classes:
        out.append(f"    {upper(cls.name)} = {cls.index}\n")
    return "".join(out)


def struct_name(method: Method, n: int) -> str:
    return f"_S_{method.class_name.replace('-', '_')}_{method.name.replace('-', '_')}_{n}".upper()


def plan(fields: tuple[Field, ...]) -> list[tuple[str, object]]:
    """Group fields into steps: ("fixed", [(fmt, field|None, bitlist)]), ("str", f)...

    Returns a list of steps; each step is one of
      ("fixed", fmt_char, field)           a fixed-width field
      ("bits", [field, ...])              up to 8 consecutive bits in one octet
      ("shortstr" | "longstr" | "table", field)
    """
    steps: list[tuple[str, object]] = []
    bits: list[Field] = []
    for f in fields:
        if f.type == "bit":
            if len(bits) == 8:
                steps.append(("bits", bits))
                bits = []
            bits.append(f)
            continue
        if bits:
            steps.append(("bits", bits))
            bits = []
        if f.type in FIXED_FORMATS:
            steps.append(("fixed", f))
        else:
            steps.append((f.type, f))
    if bits:
        steps.append(("bits", bits))
    return steps


class MethodEmitter:
    """Emits the encode and decode functions of one method."""

    def __init__(self, method: Method) -> None:
        self.method = method
        self.structs: list[tuple[str, str]] = []

    def new_struct(self, fmt: str) -> str:
        for name, existing in self.structs:
            if existing == fmt:
                return name
        name = struct_name(self.method, len(self.structs))
        self.structs.append((name, fmt))
        return name

    # encode ---------------------------------------------------------------

    def encode_lines(self) -> list[str]:
        m = self.method
        lines: list[str] = []
        parts: list[str] = []
        fmt = "HH"
        args = [str(m_class_index(m)), str(m.index)]
        for kind, item in plan(m.fields):
            if kind == "fixed":
                assert isinstance(item, Field)
                fmt += FIXED_FORMATS[item.type]
                args.append("0" if item.reserved else f"self.{item.py_name}")
            elif kind == "bits":
                assert isinstance(item, list)
                terms = [
                    f"({1 << i} if self.{f.py_name} else 0)"
                    for i, f in enumerate(item)
                    if not f.reserved
                ]
                fmt += "B"
                if not terms:
                    args.append("0")
                    continue
                var = "bits"
                if len(terms) == 1:
                    terms[0] = terms[0][1:-1]
                one = f"{var} = {' | '.join(terms)}"
                if len(one) + 12 <= 88:
                    lines.append(one)
                else:
                    lines.append(f"{var} = (")
                    lines.append(f"    {terms[0]}")
                    lines.extend(f"    | {t}" for t in terms[1:])
                    lines.append(")")
                args.append(var)
            else:
                assert isinstance(item, Field)
                if item.reserved:
                    if kind == "table":
                        fmt += "I"
                    else:
                        fmt += "B" if kind == "shortstr" else "I"
                    args.append("0")
                    continue
                var = item.py_name
                if kind == "table":
                    parts.append(self.pack_expr(fmt, args))
                    parts.append(f"encode_table(self.{var})")
                    fmt, args = "", []
                    continue
                if kind == "shortstr":
                    lines.append(f"{var} = self.{var}.encode()")
                    lines.append(f"if len({var}) > 255:")
                    lines.append(f'    raise _too_long("{m_name(m)}.{var}", {var})')
                    fmt += "B"
                else:
                    lines.append(f"{var} = bytes(self.{var})")
                    fmt += "I"
                args.append(f"len({var})")
                parts.append(self.pack_expr(fmt, args))
                parts.append(var)
                fmt, args = "", []
        if fmt:
            parts.append(self.pack_expr(fmt, args))
        parts = [p for p in parts if p]
        if len(parts) == 1:
            lines.append(f"return {parts[0]}")
        else:
            lines.append("return b''.join(")
            lines.append("    (")
            lines.extend(f"        {p}," for p in parts)
            lines.append("    )")
            lines.append(")")
        return [line.replace("b''", 'b""') for line in lines]

    def pack_expr(self, fmt: str, args: list[str]) -> str:
        if not fmt:
            return ""
        name = self.new_struct(">" + fmt)
        return f"{name}.pack({', '.join(args)})"

    # decode ---------------------------------------------------------------

    def decode_lines(self) -> list[str]:
        m = self.method
        lines: list[str] = []
        fmt = ""
        targets: list[str] = []
        post: list[str] = []  # statements after the unpack of the current run

        def flush() -> None:
            nonlocal fmt, targets, post
            if not fmt:
                return
            if fmt == "B":
                # a lone octet (string length or bits): indexing beats a Struct
                lines.append(f"{targets[0]} = buf[o]")
                lines.append("o += 1")
                lines.extend(post)
                fmt, targets, post = "", [], []
                return
            name = self.new_struct(">" + fmt)
            size = sum(FIXED_SIZES[ch] for ch in fmt if ch in FIXED_SIZES)
            size += sum(int(tok[:-1]) for tok in split_pads(fmt))
            real = [t for t in targets if t]
            if real:
                target = ", ".join(real)
                if len(real) == 1:
                    target = f"({real[0]},)"
                lines.append(f"{target} = {name}.unpack_from(buf, o)")
            lines.append(f"o += {size}")
            lines.extend(post)
            fmt, targets, post = "", [], []

        for kind, item in plan(m.fields):
            if kind == "fixed":
                assert isinstance(item, Field)
                ch = FIXED_FORMATS[item.type]
                if item.reserved:
                    fmt += f"{FIXED_SIZES[ch]}x"
                else:
                    fmt += ch
                    targets.append(item.py_name)
            elif kind == "bits":
                assert isinstance(item, list)
                live = [(i, f) for i, f in enumerate(item) if not f.reserved]
                if not live:
                    fmt += "1x"
                    continue
                fmt += "B"
                bits_var = f"bits{len(lines)}"
                targets.append(bits_var)
                for i, f in live:
                    post.append(f"{f.py_name} = {bits_var} & {1 << i} != 0")
            elif kind == "table":
                assert isinstance(item, Field)
                flush()
                var = "_" if item.reserved else item.py_name
                lines.append(f"{var}, o = read_table(buf, o)")
            else:
                assert isinstance(item, Field)
                var = item.py_name if not item.reserved else "_reserved"
                fmt += "B" if kind == "shortstr" else "I"
                targets.append(f"{var}_len")
                flush()
                lines.append(f"end = o + {var}_len")
                lines.append("if end > size:")
                lines.append(f'    raise _truncated("{m_name(m)}.{item.py_name}", o)')
                if not item.reserved:
                    conv = "buf[o:end].decode()" if kind == "shortstr" else "buf[o:end]"
                    if kind == "shortstr":
                        lines.append("try:")
                        lines.append(f"    {var} = {conv}")
                        lines.append("except UnicodeDecodeError:")
                        lines.append(
                            f'    raise _not_utf8("{m_name(m)}.{item.py_name}", o - 1)'
                            " from None"
                        )
                    else:
                        lines.append(f"{var} = {conv}")
                lines.append("o = end")
        flush()
        lines.append("if o != size:")
        lines.append(f'    raise _trailing("{m_name(m)}", o)')
        names = [f.py_name for f in m.fields if not f.reserved]
        lines.append(f"return cls({', '.join(names)})")
        return lines


def split_pads(fmt: str) -> Iterator[str]:
    num = ""
    for ch in fmt:
        if ch.isdigit():
            num += ch
        elif ch == "x":
            yield num + "x"
            num = ""
        else:
            num = ""


_CLASS_INDEX: dict[str, int] = {}


def m_class_index(m: Method) -> int:
    return _CLASS_INDEX[m.class_name]


def m_name(m: Method) -> str:
    return f"{camel(m.class_name)}.{m.py_name}"


def emit_methods(spec: Spec) -> str:
    for cls in spec.classes:
        _CLASS_INDEX[cls.name] = cls.index
    out: list[str] = [marker(spec)]
    out.append(
        '"""Every AMQP 0-9-1 method as a class, grouped per AMQP class.\n\n'
        "``encode()`` returns the whole method payload (class id, method id and\n"
        "arguments); ``decode(buf, offset)`` reads the arguments starting at\n"
        "``offset`` (by default just after the ids) up to the end of ``buf``.\n"
        "``decode_method(payload)`` dispatches on the ids and raises only\n"
        "``DecodeError`` subclasses.\n"
        '"""\n\n'
    )
    out.append("from __future__ import annotations\n\n")
    out.append("import struct\n")
    out.append("from typing import ClassVar, Final\n\n")
    out.append("from ..codec.errors import (\n")
    out.append("    EncodeError,\n    FrameDecodeError,\n    SyntaxDecodeError,\n)\n")
    out.append("from ..codec.table import FieldTable, encode_table, read_table\n")
    out.append("from ..codec.values import Buffer\n")
    out.append("from .properties import BasicProperties\n\n")
    out.append("__all__ = [\n")
    names = sorted(
        ["METHODS", "METHODS_BY_INDEX", "Method", "decode_method"]
        + [c.py_name for c in spec.classes],
        key=lambda s: (not s.isupper(), s),
    )
    for name in names:
        out.append(f'    "{name}",\n')
    out.append("]\n\n")
    out.append('_IDS: Final = struct.Struct(">I")\n\n\n')
    out.append(HELPERS)
    body: list[str] = []
    structs: list[tuple[str, str]] = []
    for cls in spec.classes:
        body.append("\n\n")
        body.append(f"class {cls.py_name}:\n")
        body.append(f'    """{sentence(cls.label)}"""\n\n')
        body.append(f"    CLASS_ID: ClassVar[int] = {cls.index}\n")
        if cls.properties:
            body.append("    Properties = BasicProperties\n")
        for m in cls.methods:
            em = MethodEmitter(m)
            enc = em.encode_lines()
            dec = em.decode_lines()
            structs.extend(em.structs)
            body.append("\n")
            for line in emit_method_class(cls, m, enc, dec):
                body.extend(part + "\n" for part in fit(line))
    out.append(
        "".join(f'{name}: Final = struct.Struct("{fmt}")\n' for name, fmt in structs)
    )
    out.extend(body)
    out.append("\n\n# Replies, set once every class exists.\n")
    for cls in spec.classes:
        for m in cls.methods:
            if m.responses:
                refs = ", ".join(f"{cls.py_name}.{camel(r)}" for r in m.responses)
                line = f"{cls.py_name}.{m.py_name}.RESPONSES = ({refs},)"
                if len(m.responses) == 1 and len(line) <= 88:
                    out.append(line + "\n")
                else:
                    out.append(f"{cls.py_name}.{m.py_name}.RESPONSES = (\n")
                    for r in m.responses:
                        out.append(f"    {cls.py_name}.{camel(r)},\n")
                    out.append(")\n")
    out.append("\nMETHODS: Final[dict[tuple[int, int], type[Method]]] = {\n")
    for cls in spec.classes:
        for m in cls.methods:
            out.append(f"    ({cls.index}, {m.index}): {cls.py_name}.{m.py_name},\n")
    out.append("}\n")
    out.append("METHODS_BY_INDEX: Final[dict[int, type[Method]]] = {\n")
    out.append("    cls.INDEX: cls for cls in METHODS.values()\n}\n")
    out.append(DECODE_METHOD)
    return "".join(out)


HELPERS = '''\
def _too_long(name: str, raw: bytes) -> EncodeError:
    return EncodeError(f"{name} is {len(raw)} bytes long, a shortstr holds 255")


def _truncated(name: str, offset: int) -> FrameDecodeError:
    return FrameDecodeError(f"{name} runs past the end of the payload", offset)


def _not_utf8(name: str, offset: int) -> SyntaxDecodeError:
    return SyntaxDecodeError(f"{name} is not valid UTF-8", offset)


def _unencodable(name: str, exc: Exception) -> EncodeError:
    return EncodeError(f"{name} has a value that cannot be encoded: {exc}")


def _trailing(name: str, offset: int) -> FrameDecodeError:
    return FrameDecodeError(f"{name} is followed by unexpected bytes", offset)


class Method:
    """Base of every generated method class."""

    __slots__ = ()

    CLASS_ID: ClassVar[int]
    METHOD_ID: ClassVar[int]
    #: ``CLASS_ID << 16 | METHOD_ID``, the key of ``METHODS_BY_INDEX``.
    INDEX: ClassVar[int]
    #: Dotted name, e.g. ``"Basic.Publish"``.
    NAME: ClassVar[str]
    SYNCHRONOUS: ClassVar[bool]
    #: True when content (header and body frames) follows the method.
    CONTENT: ClassVar[bool]
    #: The methods that answer this one (empty for asynchronous methods).
    RESPONSES: ClassVar[tuple[type[Method], ...]] = ()
    SENT_BY_CLIENT: ClassVar[bool]
    SENT_BY_SERVER: ClassVar[bool]
    #: ``(python name, wire type)`` of every argument, reserved ones excluded.
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()

    def encode(self) -> bytes:
        """The method payload: class id, method id and arguments."""
        raise NotImplementedError

    @classmethod
    def decode(cls, payload: Buffer, offset: int = 4) -> Method:
        """Decode the arguments in ``payload[offset:]``."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(
            getattr(self, name) == getattr(other, name) for name, _ in self.FIELDS
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name, _ in self.FIELDS)
        return f"<{self.NAME}({args})>"


'''

DECODE_METHOD = '''

def decode_method(payload: Buffer) -> Method:
    """Decode a method frame's payload.

    Raises ``FrameDecodeError`` (501) for an unknown method or a payload of
    the wrong length and ``SyntaxDecodeError`` (502) for an illegal value.
    """
    if not isinstance(payload, bytes):
        payload = bytes(payload)
    if len(payload) < 4:
        raise FrameDecodeError("method payload shorter than 4 bytes", 0)
    (index,) = _IDS.unpack_from(payload, 0)
    cls = METHODS_BY_INDEX.get(index)
    if cls is None:
        raise FrameDecodeError(f"unknown method {index >> 16}.{index & 0xFFFF}", 0)
    try:
        return cls.decode(payload, 4)
    except (struct.error, IndexError):
        raise FrameDecodeError(f"truncated {cls.NAME}", 4) from None
    except UnicodeDecodeError as exc:
        raise SyntaxDecodeError(
            f"{cls.NAME} has a string that is not UTF-8", 4 + exc.start
        ) from None
'''


def emit_method_class(
    cls: AmqpClass, m: Method, enc: list[str], dec: list[str]
) -> list[str]:
    live = [f for f in m.fields if not f.reserved]
    q = f"{cls.py_name}.{m.py_name}"
    lines = [f"    class {m.py_name}(Method):"]
    lines.append(f'        """{sentence(m.label or m.name)}"""')
    lines.append("")
    slot_names = sorted(f'"{f.py_name}"' for f in live)
    slots = ", ".join(slot_names) + ("," if len(live) == 1 else "")
    if len(f"        __slots__ = ({slots})") <= 88:
        lines.append(f"        __slots__ = ({slots})")
    else:
        lines.append("        __slots__ = (")
        lines.extend(f"            {s}," for s in slot_names)
        lines.append("        )")
    lines.append("")
    lines.append(f"        CLASS_ID: ClassVar[int] = {cls.index}")
    lines.append(f"        METHOD_ID: ClassVar[int] = {m.index}")
    lines.append(f"        INDEX: ClassVar[int] = {hex_index(cls.index, m.index)}")
    lines.append(f'        NAME: ClassVar[str] = "{q}"')
    lines.append(f"        SYNCHRONOUS: ClassVar[bool] = {m.synchronous}")
    lines.append(f"        CONTENT: ClassVar[bool] = {m.content}")
    lines.append(f"        SENT_BY_CLIENT: ClassVar[bool] = {m.sent_by_client}")
    lines.append(f"        SENT_BY_SERVER: ClassVar[bool] = {m.sent_by_server}")
    one = (
        f'        FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (("{live[0].py_name}", "{live[0].type}"),)'
        if len(live) == 1
        else ""
    )
    if 0 < len(one) <= 88:
        lines.append(one)
    elif live:
        lines.append("        FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (")
        for f in live:
            lines.append(f'            ("{f.py_name}", "{f.type}"),')
        lines.append("        )")
    for f in live:
        lines.append(f"        {f.py_name}: {PY_TYPES[f.type]}")
    if live:
        lines.append("")
        lines.append("        def __init__(")
        lines.append("            self,")
        for f in live:
            if f.type == "table":
                lines.append(f"            {f.py_name}: FieldTable | None = None,")
            else:
                lines.append(
                    f"            {f.py_name}: {PY_TYPES[f.type]} = {literal(f.default)},"
                )
        lines.append("        ) -> None:")
        for f in live:
            if f.type == "table":
                lines.append(f"            if {f.py_name} is None:")
                lines.append(f"                {f.py_name} = {{}}")
                lines.append(f"            self.{f.py_name} = {f.py_name}")
            else:
                lines.append(f"            self.{f.py_name} = {f.py_name}")
    lines.append("")
    lines.append("        def encode(self) -> bytes:")
    lines.append("            try:")
    lines.extend(f"                {line}" for line in enc)
    lines.append("            except (struct.error, UnicodeEncodeError) as exc:")
    lines.append(f'                raise _unencodable("{q}", exc) from None')
    lines.append("")
    lines.append("        @classmethod")
    lines.append(f"        def decode(cls, payload: Buffer, offset: int = 4) -> {q}:")
    lines.append(
        "            buf = payload if isinstance(payload, bytes) else bytes(payload)"
    )
    lines.append("            size = len(buf)")
    lines.append("            o = offset")
    lines.extend(f"            {line}" for line in dec)
    return lines


def hex_index(class_index: int, method_index: int) -> str:
    return f"0x{class_index:04X}_{method_index:04X}"


# -- properties ----------------------------------------------------------------


PROPERTY_TYPES: Final[dict[str, str]] = {
    "shortstr": "str",
    "octet": "int",
    "timestamp": "datetime.datetime",
    "table": "FieldTable",
}


def emit_properties(spec: Spec) -> str:
    (basic,) = [c for c in spec.classes if c.properties]
    props = basic.properties
    out = [marker(spec)]
    out.append(
        '"""Content header properties of the basic class, with the flag-word codec.\n\n'
        "Bit 15 of the flag word flags the first property, bit 14 the second and\n"
        "so on; bit 0 announces a continuation flag word. A property set to\n"
        "``None`` is absent from the wire.\n\n"
        "Unset properties read the class-level ``None``: an instance stores only\n"
        "the properties that are present, which keeps decoding a typical message\n"
        "(two to four properties) from paying for all fourteen.\n"
        '"""\n\n'
    )
    out.append("from __future__ import annotations\n\n")
    out.append("import datetime\nimport struct\nfrom typing import ClassVar, Final\n\n")
    out.append(
        "from ..codec.errors import EncodeError, FrameDecodeError, SyntaxDecodeError\n"
    )
    out.append("from ..codec.table import FieldTable, encode_table, read_table\n")
    out.append(
        "from ..codec.values import (\n    Buffer,\n    datetime_to_timestamp,\n"
        "    timestamp_to_datetime,\n)\n\n"
    )
    out.append(
        '__all__ = ["BasicProperties", "decode_content_header", "encode_properties"]\n\n'
    )
    out.append('_CONTENT_HEADER: Final = struct.Struct(">HHQ")\n')
    out.append('_H: Final = struct.Struct(">H")\n')
    out.append('_B: Final = struct.Struct(">B")\n')
    out.append('_Q: Final = struct.Struct(">Q")\n')
    out.append("_unpack_flags: Final = _H.unpack_from\n")
    known = 0
    for i in range(len(props)):
        known |= 1 << (15 - i)
    out.append(f"_KNOWN_FLAGS: Final = 0x{known:04X}\n")
    out.append("\n\nclass BasicProperties:\n")
    out.append(f'    """Properties of a {basic.name} content header."""\n\n')
    out.append(f"    CLASS_ID: ClassVar[int] = {basic.index}\n")
    out.append(
        "    #: ``(python name, wire type)`` of every property, in flag order.\n"
    )
    out.append("    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (\n")
    for f in props:
        out.append(f'        ("{f.py_name}", "{f.type}"),\n')
    out.append("    )\n")
    for f in props:
        out.append(f"    {f.py_name}: {PROPERTY_TYPES[f.type]} | None = None\n")
    out.append("\n    def __init__(\n        self,\n")
    for f in props:
        out.append(f"        {f.py_name}: {PROPERTY_TYPES[f.type]} | None = None,\n")
    out.append("    ) -> None:\n")
    for f in props:
        out.append(f"        if {f.py_name} is not None:\n")
        out.append(f"            self.{f.py_name} = {f.py_name}\n")
    # encode: through the module-level encode_properties (below the class)
    out.append("\n    def encode(self) -> bytes:\n")
    out.append(
        '        """The flag word followed by the values of the set properties."""\n'
    )
    out.append(
        "        # only present properties are in the instance dict (see module doc)\n"
    )
    out.append("        d = self.__dict__\n")
    out.append("        return encode_properties(\n")
    for f in props:
        out.append(f'            d.get("{f.py_name}"),\n')
    out.append("        )\n")
    # decode
    out.append("\n    @classmethod\n")
    out.append(
        "    def decode(cls, payload: Buffer, offset: int = 0) -> BasicProperties:\n"
    )
    out.append(
        '        """Decode ``payload[offset:]``; it must hold exactly the properties."""\n'
    )
    out.append(
        "        buf = payload if isinstance(payload, bytes) else bytes(payload)\n"
    )
    out.append("        props = cls.__new__(cls)\n")
    out.append("        try:\n")
    out.append("            (flags,) = _unpack_flags(buf, offset)\n")
    out.append("            o = offset + 2\n")
    out.append("            if flags & ~_KNOWN_FLAGS:\n")
    out.append("                if flags & ~_KNOWN_FLAGS & 0xFFFE:\n")
    out.append("                    raise SyntaxDecodeError(\n")
    out.append(
        '                        f"unknown property flags {flags:#06x}", offset\n'
    )
    out.append("                    )\n")
    out.append("                o = _skip_continuation(buf, o)\n")
    out.append("            size = len(buf)\n")
    for i, f in enumerate(props):
        bit = 1 << (15 - i)
        out.append(f"            if flags & 0x{bit:04X}:\n")
        if f.type == "shortstr":
            out.append("                end = o + 1 + buf[o]\n")
            out.append("                if end > size:\n")
            out.append(f'                    raise _truncated("{f.py_name}", o)\n')
            out.append(
                f"                props.{f.py_name} = buf[o + 1 : end].decode()\n"
            )
            out.append("                o = end\n")
        elif f.type == "octet":
            out.append(f"                props.{f.py_name} = buf[o]\n")
            out.append("                o += 1\n")
        elif f.type == "timestamp":
            out.append(
                f"                props.{f.py_name} = timestamp_to_datetime("
                "_Q.unpack_from(buf, o)[0])\n"
            )
            out.append("                o += 8\n")
        elif f.type == "table":
            out.append(f"                props.{f.py_name}, o = read_table(buf, o)\n")
    out.append("        except (struct.error, IndexError):\n")
    out.append("            raise FrameDecodeError(\n")
    out.append('                "truncated content header properties", offset\n')
    out.append("            ) from None\n")
    out.append("        except UnicodeDecodeError:\n")
    out.append(
        '            raise SyntaxDecodeError("property is not valid UTF-8", offset)'
        " from None\n"
    )
    out.append("        if o != size:\n")
    out.append(
        '            raise FrameDecodeError("content header has trailing bytes", o)\n'
    )
    out.append("        return props\n")
    out.append(
        "\n    def __eq__(self, other: object) -> bool:\n"
        "        if type(other) is not type(self):\n"
        "            return NotImplemented\n"
        "        return all(\n"
        "            getattr(self, name) == getattr(other, name) for name, _ in self.FIELDS\n"
        "        )\n\n"
        "    __hash__ = None  # type: ignore[assignment]\n\n"
        "    def __repr__(self) -> str:\n"
        '        args = ", ".join(\n'
        '            f"{name}={getattr(self, name)!r}"\n'
        "            for name, _ in self.FIELDS\n"
        "            if getattr(self, name) is not None\n"
        "        )\n"
        '        return f"<Basic.Properties({args})>"\n'
    )
    out.append("\n\ndef encode_properties(\n")
    for f in props:
        # a timestamp may also be given as whole POSIX seconds
        extra = " | int" if f.type == "timestamp" else ""
        out.append(f"    {f.py_name}: {PROPERTY_TYPES[f.type]}{extra} | None = None,\n")
    out.append(") -> bytes:\n")
    out.append(
        '    """The flag word and values of a content header\'s properties.\n\n'
        "    ``None`` leaves a property out; a timestamp may be whole POSIX seconds.\n"
        "    Publishers that hold the values already call this directly, without\n"
        "    building a :class:`BasicProperties`.\n"
        '    """\n'
    )
    out.append("    flags = 0\n")
    out.append('    parts: list[bytes] = [b""]\n')
    out.append("    try:\n")
    for i, f in enumerate(props):
        bit = 1 << (15 - i)
        name = f.py_name
        out.append(f"        if {name} is not None:\n")
        out.append(f"            flags |= 0x{bit:04X}\n")
        if f.type == "shortstr":
            out.append(f"            raw = {name}.encode()\n")
            out.append("            if len(raw) > 255:\n")
            out.append(
                f'                raise EncodeError("property {name} is longer '
                'than 255 bytes")\n'
            )
            out.append("            parts.append(_B.pack(len(raw)))\n")
            out.append("            parts.append(raw)\n")
        elif f.type == "octet":
            out.append(f"            parts.append(_B.pack({name}))\n")
        elif f.type == "timestamp":
            out.append(f"            if isinstance({name}, datetime.datetime):\n")
            out.append(f"                {name} = datetime_to_timestamp({name})\n")
            out.append(f"            parts.append(_Q.pack({name}))\n")
        elif f.type == "table":
            out.append(f"            parts.append(encode_table({name}))\n")
        else:
            raise SystemExit(f"unsupported property type {f.type}")
    out.append("    except (struct.error, UnicodeEncodeError) as exc:\n")
    out.append(
        '        raise EncodeError(f"property value cannot be encoded: {exc}") from None\n'
    )
    out.append("    parts[0] = _H.pack(flags)\n")
    out.append('    return b"".join(parts)\n')
    out.append(
        "\n\ndef decode_content_header(payload: Buffer) -> tuple[int, int, BasicProperties]:\n"
        '    """Decode a content header frame\'s payload: ``(class_id, body_size, properties)``.\n\n'
        "    Only the basic class carries content; any other class id is a frame error.\n"
        '    """\n'
        "    if len(payload) < 14:\n"
        '        raise FrameDecodeError("content header shorter than 14 bytes", 0)\n'
        "    class_id, weight, body_size = _CONTENT_HEADER.unpack_from(payload, 0)\n"
        f"    if class_id != {basic.index}:\n"
        '        raise FrameDecodeError(f"content header for class {class_id}", 0)\n'
        "    if weight:\n"
        '        # spec: "The weight field is unused and must be zero."\n'
        '        raise SyntaxDecodeError("content header weight is not zero", 2)\n'
        "    return class_id, body_size, BasicProperties.decode(payload, 12)\n"
        "\n\ndef _truncated(name: str, offset: int) -> FrameDecodeError:\n"
        '    return FrameDecodeError(f"property {name} runs past the end", offset)\n'
        "\n\ndef _skip_continuation(buf: Buffer, o: int) -> int:\n"
        '    """Skip continuation flag words, which may not flag anything more."""\n'
        "    while True:\n"
        "        (more,) = _unpack_flags(buf, o)\n"
        "        if more & 0xFFFE:\n"
        '            raise SyntaxDecodeError("unknown property flags", o)\n'
        "        o += 2\n"
        "        if not more & 1:\n"
        "            return o\n"
    )
    return "".join(out)


def emit_init(spec: Spec) -> str:
    out = [marker(spec)]
    out.append(
        '"""The AMQP 0-9-1 specification as Python: constants, methods, properties."""\n\n'
    )
    out.append("from .constants import (\n")
    out.append("    DEFAULT_PORT,\n    PROTOCOL_HEADER,\n    PROTOCOL_VERSION,\n")
    out.append("    SPEC_SHA256,\n    ClassId,\n    ReplyCode,\n)\n")
    out.append("from .methods import (\n    METHODS,\n    METHODS_BY_INDEX,\n")
    for name in sorted([c.py_name for c in spec.classes] + ["Method"]):
        out.append(f"    {name},\n")
    out.append("    decode_method,\n)\n")
    out.append("from .properties import BasicProperties, decode_content_header\n\n")
    names = [
        "decode_content_header",
        "DEFAULT_PORT",
        "METHODS",
        "METHODS_BY_INDEX",
        "PROTOCOL_HEADER",
        "PROTOCOL_VERSION",
        "SPEC_SHA256",
        "BasicProperties",
        *sorted(c.py_name for c in spec.classes),
        "ClassId",
        "Method",
        "ReplyCode",
        "decode_method",
    ]
    out.append("__all__ = [\n")
    for name in sorted(names, key=lambda s: (not s.isupper(), s)):
        out.append(f'    "{name}",\n')
    out.append("]\n")
    return "".join(out)


def generate(xml_bytes: bytes) -> dict[str, str]:
    """Return ``{file name: source}`` for every generated module."""
    spec = parse(xml_bytes)
    return {
        "__init__.py": emit_init(spec),
        "constants.py": emit_constants(spec),
        "methods.py": emit_methods(spec),
        "properties.py": emit_properties(spec),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with the files on disk; print a diff and exit 1 on drift",
    )
    parser.add_argument("--xml", type=Path, default=XML_PATH)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    files = generate(args.xml.read_bytes())
    if args.check:
        drift = False
        expected_names = set(files)
        present = (
            {p.name for p in args.out.glob("*.py")} if args.out.is_dir() else set()
        )
        for extra in sorted(present - expected_names):
            drift = True
            print(f"unexpected file in spec/: {extra}")
        for name, text in files.items():
            path = args.out / name
            current = path.read_text() if path.exists() else ""
            if current != text:
                drift = True
                sys.stdout.writelines(
                    difflib.unified_diff(
                        current.splitlines(keepends=True),
                        text.splitlines(keepends=True),
                        f"{path} (on disk)",
                        f"{path} (generated)",
                    )
                )
        if drift:
            print("spec/ has drifted: run `python tools/gen_spec.py`", file=sys.stderr)
            return 1
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
