"""The URL object of ``Connection.url`` and ``make_url()``: ``yarl.URL`` or a stand-in.

aio-pika hands users ``yarl.URL`` objects and users read them with yarl's API
(``url.host``, ``url.query``, ``url.with_password("******")`` ...). amqpio has
no runtime dependency, so :data:`URL` is ``yarl.URL`` when yarl is importable
(it is wherever aio-pika is installed) and otherwise :class:`SimpleURL`, which
implements the part of yarl's API that aio-pika code uses:

* reading: ``scheme``, ``user``, ``password``, ``host``, ``port`` (the
  explicit port; yarl knows no default for ``amqp``), ``path`` (decoded),
  ``query`` (a read-only mapping, the first value of a repeated key),
  ``query_string``, ``fragment`` and their ``raw_*`` (encoded) forms;
* building: ``URL.build(...)``, ``with_scheme``, ``with_user``,
  ``with_password``, ``with_host``, ``with_port``, ``with_path``,
  ``with_query``, ``update_query`` (values ``str``, ``int`` or ``float``; a
  ``bool`` or ``None`` raises ``TypeError``, as yarl does);
* ``str()``, ``repr()``, hashing, and equality with another URL or with the
  ``str`` of one (``yarl.URL`` never equals a ``str``).

Parts are kept encoded, as in the text, so a URL read from a string prints
back as it was written (``%2F`` in a virtual host stays ``%2F``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

__all__ = ["URL", "SimpleURL", "to_url"]

#: Characters left as they are in an encoded user name or password.
_USERINFO_SAFE: Final = "!$&'()*+,;="
_PATH_SAFE: Final = "/!$&'()*+,;=:@"


class SimpleURL:
    """A URL with the subset of ``yarl.URL``'s API described in the module."""

    __slots__ = (
        "_fragment",
        "_host",
        "_password",
        "_path",
        "_port",
        "_query",
        "_scheme",
        "_user",
    )

    _scheme: str
    _user: str | None
    _password: str | None
    _host: str | None
    _port: int | None
    _path: str
    _query: str
    _fragment: str

    def __init__(self, val: object = "") -> None:
        """Parse ``val``: a ``str``, or any URL object (read through ``str()``)."""
        text = str(val).strip()
        parts = urlsplit(text)
        self._scheme = parts.scheme.lower()
        userinfo, at, hostinfo = parts.netloc.rpartition("@")
        if at:
            user, colon, password = userinfo.partition(":")
            self._user = user
            self._password = password if colon else None
        else:
            self._user = self._password = None
        self._host, self._port = _split_host(hostinfo, text)
        self._path = parts.path
        self._query = parts.query
        self._fragment = parts.fragment

    @classmethod
    def build(
        cls,
        *,
        scheme: str = "",
        user: str | None = None,
        password: str | None = None,
        host: str = "",
        port: int | None = None,
        path: str = "",
        query: Any = None,
        query_string: str = "",
        fragment: str = "",
    ) -> SimpleURL:
        """A URL from decoded parts (``query``: a mapping, pairs or a string)."""
        url = cls.__new__(cls)
        url._scheme = scheme.lower()
        url._user = None if user is None else quote(user, safe=_USERINFO_SAFE)
        url._password = (
            None if password is None else quote(password, safe=_USERINFO_SAFE)
        )
        url._host = host.lower() if host else None
        url._port = _port(port)
        url._path = quote(path, safe=_PATH_SAFE)
        url._query = _encode_query(query) if query is not None else query_string
        url._fragment = quote(fragment, safe="")
        return url

    def _copy(self, **changes: Any) -> SimpleURL:
        url = SimpleURL.__new__(SimpleURL)
        for name in SimpleURL.__slots__:
            setattr(url, name, changes.get(name, getattr(self, name)))
        return url

    # -- reading ----------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return self._scheme

    @property
    def raw_user(self) -> str | None:
        return self._user

    @property
    def user(self) -> str | None:
        return unquote(self._user) if self._user else None

    @property
    def raw_password(self) -> str | None:
        return self._password

    @property
    def password(self) -> str | None:
        return None if self._password is None else unquote(self._password)

    @property
    def host(self) -> str | None:
        return self._host

    @property
    def raw_host(self) -> str | None:
        return self._host

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def explicit_port(self) -> int | None:
        return self._port

    @property
    def raw_path(self) -> str:
        if not self._path and self._host is not None:
            return "/"
        return self._path

    @property
    def path(self) -> str:
        return unquote(self.raw_path)

    @property
    def query_string(self) -> str:
        return unquote(self._query.replace("+", " "))

    @property
    def raw_query_string(self) -> str:
        return self._query

    @property
    def query(self) -> Mapping[str, str]:
        values: dict[str, str] = {}
        for key, value in parse_qsl(self._query, keep_blank_values=True):
            values.setdefault(key, value)  # yarl's query[key]: the first one
        return MappingProxyType(values)

    @property
    def fragment(self) -> str:
        return unquote(self._fragment)

    @property
    def is_absolute(self) -> bool:
        return self._host is not None

    # -- building ---------------------------------------------------------------

    def with_scheme(self, scheme: str) -> SimpleURL:
        return self._copy(_scheme=scheme.lower())

    def with_user(self, user: str | None) -> SimpleURL:
        """Replace the user name; ``None`` removes it and the password."""
        if user is None:
            return self._copy(_user=None, _password=None)
        return self._copy(_user=quote(user, safe=_USERINFO_SAFE))

    def with_password(self, password: str | None) -> SimpleURL:
        if password is None:
            return self._copy(_password=None)
        return self._copy(
            _user=self._user or "", _password=quote(password, safe=_USERINFO_SAFE)
        )

    def with_host(self, host: str) -> SimpleURL:
        return self._copy(_host=host.lower())

    def with_port(self, port: int | None) -> SimpleURL:
        return self._copy(_port=_port(port))

    def with_path(self, path: str) -> SimpleURL:
        """Replace the path (and, as yarl does, drop the query and fragment)."""
        return self._copy(_path=quote(path, safe=_PATH_SAFE), _query="", _fragment="")

    def with_query(self, *args: Any, **kwargs: Any) -> SimpleURL:
        """Replace the query (a mapping, pairs, a string, keywords, or ``None``)."""
        query = _query_argument(args, kwargs)
        return self._copy(_query="" if query is None else _encode_query(query))

    def update_query(self, *args: Any, **kwargs: Any) -> SimpleURL:
        """Set the given query parameters, keeping the others."""
        query = _query_argument(args, kwargs)
        if query is None:
            return self._copy(_query="")
        merged: dict[str, list[str]] = {}
        for key, value in parse_qsl(self._query, keep_blank_values=True):
            merged.setdefault(key, []).append(value)
        for key, value in _pairs(query):
            merged[key] = [value]
        return self._copy(
            _query="&".join(
                f"{quote_plus(key)}={quote_plus(value)}"
                for key, values in merged.items()
                for value in values
            )
        )

    # -- text and comparison ----------------------------------------------------

    def __str__(self) -> str:
        text = f"{self._scheme}:" if self._scheme else ""
        if self._host is not None:
            text += "//"
            if self._user is not None:
                text += self._user
                if self._password is not None:
                    text += ":" + self._password
                text += "@"
            text += f"[{self._host}]" if ":" in self._host else self._host
            if self._port is not None:
                text += f":{self._port}"
        text += self._path
        if self._query:
            if not self._path and self._host is not None:
                text += "/"
            text += "?" + self._query
        if self._fragment:
            text += "#" + self._fragment
        return text

    def __repr__(self) -> str:
        return f"URL({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str(self) == other
        if isinstance(other, SimpleURL) or _is_url(other):
            return str(self) == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def human_repr(self) -> str:
        """The URL with its parts decoded, for display."""
        return unquote(str(self))


def _split_host(hostinfo: str, text: str) -> tuple[str | None, int | None]:
    if not hostinfo:
        return None, None
    if hostinfo.startswith("["):
        end = hostinfo.find("]")
        if end < 0:
            raise ValueError(f"unclosed '[' in the host of {text!r}")
        host, rest = hostinfo[1:end], hostinfo[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, colon, port_text = hostinfo.rpartition(":")
        if not colon:
            host, port_text = hostinfo, ""
    if port_text and not port_text.isdigit():
        raise ValueError(f"invalid port {port_text!r} in {text!r}")
    return host.lower(), int(port_text) if port_text else None


def _port(port: int | None) -> int | None:
    if port is None:
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int from 0 to 65535, not {port!r}")
    return port


def _query_argument(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if args and kwargs:
        raise ValueError("Either kwargs or single query parameter must be present")
    if kwargs:
        return kwargs
    if len(args) != 1:
        raise ValueError("Either kwargs or single query parameter must be present")
    return args[0]


def _value(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            "Invalid variable type: value should be str, int or float, got "
            f"{value!r} of type {type(value)}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("float('inf') and float('nan') are not supported")
    return str(value)


def _pairs(query: Any) -> Iterable[tuple[str, str]]:
    if isinstance(query, str):
        return parse_qsl(query, keep_blank_values=True)
    items = query.items() if isinstance(query, Mapping) else query
    return [(str(key), _value(value)) for key, value in items]


def _encode_query(query: Any) -> str:
    if isinstance(query, str):
        return query.lstrip("?")
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in _pairs(query))


def _is_url(value: object) -> bool:
    """A URL object of another library (``yarl.URL``)."""
    return type(value).__name__ == "URL" and hasattr(value, "with_password")


#: ``yarl.URL`` wherever yarl is installed (aio-pika depends on it), else
#: :class:`SimpleURL`.
URL: Any
try:
    from yarl import URL
except ImportError:  # tests/api/test_url_object.py runs this branch too
    URL = SimpleURL


def to_url(value: object) -> Any:
    """``value`` (a ``str`` or any URL object) as a :data:`URL`."""
    if isinstance(value, URL):
        return value
    return URL(str(value))
