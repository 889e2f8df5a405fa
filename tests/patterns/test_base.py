"""amqpio.patterns without a broker: names, signatures, proxy, serializers."""

from __future__ import annotations

import gzip
import inspect
import json
import pickle
from typing import Any

import aio_pika.patterns
import aio_pika.patterns.base
import aio_pika.patterns.master
import aio_pika.patterns.rpc
import pytest

import amqpio
from amqpio import patterns
from amqpio.patterns import base, master, rpc
from helpers.reference import AIO_PIKA_10


def test_public_names_match_aio_pika() -> None:
    assert amqpio.patterns is patterns
    assert "patterns" in amqpio.__all__
    assert set(aio_pika.patterns.__all__) <= set(patterns.__all__)
    assert set(aio_pika.patterns.rpc.__all__) <= set(rpc.__all__)
    for name in ("CompressedJsonMaster", "MessageProcessingError"):
        assert hasattr(master, name)
    for name in ("Base", "Method", "Proxy", "CallbackType"):
        assert hasattr(base, name)
    assert rpc.RPCMessageTypes is rpc.RPCMessageType
    assert issubclass(patterns.NackMessage, master.MessageProcessingError)
    assert issubclass(patterns.RejectMessage, master.MessageProcessingError)


CLASS_DEFAULTS = [
    ("RPC", "DLX_NAME"),
    ("RPC", "DELIVERY_MODE"),
    ("RPC", "CONTENT_TYPE"),
    ("JsonRPC", "CONTENT_TYPE"),
    ("Master", "DELIVERY_MODE"),
    ("Master", "CONTENT_TYPE"),
    ("JsonMaster", "CONTENT_TYPE"),
]


@pytest.mark.parametrize(("cls", "attr"), CLASS_DEFAULTS)
def test_class_constants_match_aio_pika(cls: str, attr: str) -> None:
    ours = getattr(getattr(patterns, cls), attr)
    theirs = getattr(getattr(aio_pika.patterns, cls), attr)
    assert ours == theirs
    assert patterns.RPC.SERIALIZER is pickle
    assert patterns.Master.SERIALIZER is pickle
    assert master.CompressedJsonMaster.CONTENT_TYPE == (
        aio_pika.patterns.master.CompressedJsonMaster.CONTENT_TYPE
    )


SIGNATURES = [
    ("RPC", "__init__"),
    ("RPC", "create"),
    ("RPC", "call"),
    ("RPC", "register"),
    ("RPC", "unregister"),
    ("RPC", "close"),
    ("RPC", "execute"),
    ("RPC", "serialize"),
    ("RPC", "deserialize"),
    ("RPC", "serialize_exception"),
    ("RPC", "serialize_message"),
    ("RPC", "deserialize_message"),
    ("RPC", "on_call_message"),
    ("RPC", "on_result_message"),
    ("RPC", "on_message_returned"),
    ("RPC", "on_close"),
    ("Master", "__init__"),
    ("Master", "create_task"),
    ("Master", "create_worker"),
    ("Master", "create_queue"),
    ("Master", "execute"),
    ("Master", "on_message"),
    ("Master", "serialize"),
    ("Master", "deserialize"),
    ("Worker", "__init__"),
    ("Worker", "close"),
    ("NackMessage", "__init__"),
    ("RejectMessage", "__init__"),
]


def _shape(func: Any) -> list[tuple[str, Any, Any]]:
    return [
        (p.name, p.kind, p.default) for p in inspect.signature(func).parameters.values()
    ]


@pytest.mark.parametrize(("cls", "method"), SIGNATURES)
def test_signatures_match_aio_pika(cls: str, method: str) -> None:
    if (cls, method) == ("RPC", "create") and not AIO_PIKA_10:
        pytest.skip("aio-pika 9.6's RPC.create takes **kwargs (10.x: keywords)")
    ours = getattr(getattr(patterns, cls), method)
    theirs = getattr(getattr(aio_pika.patterns, cls), method)
    assert _shape(ours) == _shape(theirs)


def test_initialize_accepts_aio_pika_arguments_and_direct_reply_to() -> None:
    ours = inspect.signature(patterns.RPC.initialize).parameters
    theirs = inspect.signature(aio_pika.patterns.RPC.initialize).parameters
    for name in ("auto_delete", "durable", "exchange"):
        assert ours[name].default == theirs[name].default
    assert ours["direct_reply_to"].kind is inspect.Parameter.KEYWORD_ONLY
    assert ours["direct_reply_to"].default is None
    assert patterns.RPC.DIRECT_REPLY_TO is False


def test_proxy_builds_dotted_names_and_passes_kwargs_only() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(name: str, kwargs: dict[str, Any]) -> str:
        calls.append((name, kwargs))
        return "done"

    proxy = base.Proxy(record)
    assert proxy.resize(width=1) == "done"
    assert proxy.images.thumbs.resize(width=2) == "done"
    assert calls == [("resize", {"width": 1}), ("images.thumbs.resize", {"width": 2})]
    with pytest.raises(TypeError):
        proxy.resize(1)
    assert "images.x" in repr(proxy.images.x)


def test_default_serializer_is_pickle() -> None:
    value = {"a": [1, 2.5, None], "b": ValueError("x")}

    class Serializer(base.Base):
        pass

    data = Serializer().serialize(value)
    assert pickle.loads(data)["a"] == value["a"]
    assert Serializer().deserialize(data)["a"] == value["a"]
    assert data == aio_pika.patterns.base.Base().serialize(value)


def bare(cls: type[Any]) -> Any:
    """An instance without __init__ (the serializers need no channel)."""
    return cls.__new__(cls)


def test_json_serializers_match_aio_pika_bytes() -> None:
    value = {"text": "héllo", "n": [1, 2]}
    assert bare(master.JsonMaster).serialize(value) == (
        bare(aio_pika.patterns.JsonMaster).serialize(value)
    )
    assert bare(rpc.JsonRPC).serialize({"x": object}).startswith(b'{"x": "<class')
    compressed = bare(master.CompressedJsonMaster).serialize(value)
    assert json.loads(gzip.decompress(compressed)) == value
    assert bare(master.CompressedJsonMaster).deserialize(compressed) == value


def test_json_rpc_error_payload_matches_aio_pika() -> None:
    error = KeyError("k")
    ours = bare(rpc.JsonRPC).serialize_exception(error)
    assert ours == bare(aio_pika.patterns.JsonRPC).serialize_exception(error)


def test_exceptions_keep_requeue_through_pickle() -> None:
    for cls in (patterns.NackMessage, patterns.RejectMessage):
        assert cls().requeue is False
        assert pickle.loads(pickle.dumps(cls(requeue=True))).requeue is True
