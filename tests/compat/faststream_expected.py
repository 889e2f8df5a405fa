"""What each check of ``faststream_checks.py`` must observe, on either library.

These are FastStream's and RabbitMQ's semantics written out (routing, ack
policies, dead-lettering, message properties), not a recording: the real
aio-pika is checked against them too, so a change in FastStream or aio-pika
shows up as a reference failure instead of silently moving the target.
Values are in the children's JSON form: bytes are ``{"bytes": hex}``,
datetimes ``{"datetime": iso}``, the run's name prefix is ``P``.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

#: FastStream's default ``app_id`` on everything it publishes
APP_ID = f"faststream-{version('faststream')}"


def raw(data: bytes) -> dict[str, str]:
    return {"bytes": data.hex()}


def incoming(
    body: bytes,
    routing_key: str,
    *,
    fake: bool = False,
    **properties: Any,
) -> dict[str, Any]:
    """``describe_raw()`` of an ``IncomingMessage``: its attributes and ``info()``.

    ``fake``: one of TestRabbitBroker's deliveries, which have no delivery
    or consumer tag (else an int and a str). ``info()`` repeats the attributes,
    adds ``cluster_id`` and, like aio-pika, shows ``type`` as ``str(type)``.
    """
    props: dict[str, Any] = {
        "app_id": APP_ID,
        "content_encoding": None,
        "content_type": "text/plain",
        "delivery_mode": 1,
        "expiration": None,
        "headers": {},
        "priority": 0,
        "reply_to": None,
        "timestamp": True,
        "type": None,
        "user_id": None,
        "exchange": "",
        "redelivered": False,
        **properties,
    }
    common = {
        **props,
        "body_size": len(body),
        "routing_key": routing_key,
        "consumer_tag": "NoneType" if fake else "str",
        "delivery_tag": "NoneType" if fake else "int",
    }
    info = {
        **common,
        "cluster_id": "",
        "correlation_id": "str",
        "message_id": "str",
        "type": str(props["type"]),
    }
    return {
        **common,
        "is_aio_pika_incoming_message": True,
        "is_abstract_incoming_message": True,
        "body": raw(body),
        "message_count": None,
        "info": info,
    }


#: the headers ``message_attributes`` publishes: every field-table type is
#: read back as the same Python value
HEADERS = {
    "x-bool": True,
    "x-float": 1.5,
    "x-int": 7,
    "x-list": [1, "two", False],
    "x-negative": -3,
    "x-nested": {"k": "v", "n": 2},
    "x-none": None,
    "x-str": "text",
}
TIMESTAMP = {"datetime": "2024-01-02T03:04:05+00:00"}
#: the properties ``message_attributes`` publishes, as the handler reads them
PROPERTIES = {
    "content_encoding": "identity",
    "delivery_mode": 2,  # persist=True
    "expiration": 60.0,
    "priority": 3,
    "reply_to": "nowhere",
    "timestamp": TIMESTAMP,
    "type": "kind",
    "user_id": "guest",
}


def dead(body: str, queue: str) -> list[str]:
    """A message dead-lettered by a reject or a nack without requeue."""
    return [body, "rejected", queue]


EXPECTED: dict[str, dict[str, Any]] = {
    "pubsub": {
        # [type of the decoded body, body, content type]; sorted
        "bodies": [
            ["bytes", raw(b""), None],  # publish(None): an empty body
            ["bytes", raw(b"\x00\x01raw"), None],
            ["dict", {"a": 1, "b": [1, 2]}, "application/json"],
            ["int", 42, "application/json"],
            ["list", ["x", None], "application/json"],
            ["str", "routed", "text/plain"],
            ["str", "text", "text/plain"],
        ],
        "message_attributes": {
            "body": raw(b"attributes"),
            "content_type": "text/x-custom",
            "correlation_id_kept": True,
            "message_id_kept": True,
            "headers": HEADERS,
            "reply_to": "nowhere",
            "raw": incoming(
                b"attributes",
                "P.message_attributes.in",
                content_type="text/x-custom",
                headers=HEADERS,
                **PROPERTIES,
            ),
        },
        "default_properties": {
            "message_id_is_correlation_id": False,
            "raw": incoming(b"plain", "P.default_properties.in"),
        },
        "publisher_decorator": [
            {
                "body": f"processed:{n}",
                "correlation_id": f"c-{n}",  # FastStream keeps the request's
                "priority": 2,
                "static": "header",
            }
            for n in ("one", "two")
        ],
        # first publish on the channel: the broker acks delivery tag 1
        "publish_confirmation": {"class": "Ack", "delivery_tag": 1, "multiple": False},
        "channel_options": {
            # Channel(on_return_raises=True): aiormq's PublishError
            "on_return_raises": {"raised": "PublishError", "is_delivery_error": True},
            "routed": "Ack",
            "without_confirms": None,  # Channel(publisher_confirms=False)
        },
        # aio-pika's channels do not raise on returns: publish() succeeds
        "unroutable": {"mandatory=True": "published", "mandatory=False": "published"},
        "returned_message": {
            "body": raw(b"lost"),
            "routing_key": "P.returned_message.nobody",
            "exchange": "",
            "delivery": {
                "class": "Return",
                "reply_code": 312,
                "reply_text": "NO_ROUTE",
            },
            "header_message_id": "returned-mid",
        },
    },
    # what aio-pika users write with aiormq's names (``import aiormq``)
    "aiormq": {
        "confirmation_frame": {"class": "Ack", "is_aiormq_spec_basic_ack": True},
        "exceptions": {
            "raised": "ChannelNotFoundEntity",
            "aio_pika_channel_not_found": True,
            "aiormq_channel_not_found": True,
            "aiormq_amqp_error": True,
        },
    },
    "ack": {
        # [body, redelivered] as the handlers saw them, sorted
        "reject_on_error_default": [
            ["fail-1", False],
            ["fail-2", False],
            ["ok-1", False],
            ["ok-2", False],
        ],
        "nack_on_error": [["flaky", False], ["flaky", True]],
        "ack_policies": [
            ["ack", "a-1"],
            ["ack", "a-2"],
            ["first", "f-1"],
            ["first", "f-2"],
        ],
        "manual": [
            ["ack", False],
            ["leave", False],
            ["nack-drop", False],
            ["nack-requeue", False],
            ["nack-requeue", True],
            ["raise", False],
            ["reject", False],
            ["reject-requeue", False],
            ["reject-requeue", True],
        ],
        "prefetch": {
            "ready_while_first_held": 2,
            "most_in_flight": {"P.prefetch.limited": 1, "P.prefetch.unlimited": 3},
        },
        "handler_exceptions": [
            ["ack", False],
            ["nack", False],
            ["nack", True],
            ["reject", False],
        ],
    },
    "rpc": {
        "request": [
            {
                "class": "RabbitMessage",
                "body": raw(body),
                "decoded": decoded,
                "content_type": content_type,
                "correlation_id_kept": True,
                "raw_is_incoming_message": True,
                "raw_routing_key_is_reply_to": True,
            }
            for body, decoded, content_type in [
                (b"echo:hi", "echo:hi", "text/plain"),
                (b'{"got":{"n":1}}', {"got": {"n": 1}}, "application/json"),
                (b"\x03\x02\x01", raw(b"\x03\x02\x01"), None),
            ]
        ],
        "concurrent_requests": [0, 2, 4, 6, 8],
        "rabbit_response": {
            "body": "answer:q",
            "correlation_id": "c-1",
            "headers": {"h": "v"},
            "message_id": "reply-mid",
            "priority": 4,
            "type": "reply",
        },
        "reply_to_queue": [
            {
                "body": {"sum": total},
                "correlation_id": cid,
                "exchange": "",
                "routing_key": "P.reply_to_queue.replies",
            }
            for total, cid in [(3, "r-1"), (5, "r-2")]
        ],
        "request_timeout": {
            "raised": "TimeoutError",
            "again": {"raised": "TimeoutError"},
            "handled": ["wait", "again"],
        },
    },
    "exchanges": {
        # queue -> sorted [body, routing key of the delivery]
        "fanout": {f"P.fanout.q{n}": [["m1", ""], ["m2", "ignored"]] for n in range(3)},
        "topic": {
            "P.topic.star": [["logs.info", "logs.info"]],  # logs.*
            "P.topic.hash": [  # logs.#
                ["logs.db.error", "logs.db.error"],
                ["logs.info", "logs.info"],
            ],
            "P.topic.error": [["app.error", "app.error"]],  # *.error
            "P.topic.all": [  # #
                [key, key]
                for key in [
                    "app.error",
                    "audit.login",
                    "logs.db.error",
                    "logs.info",
                    "other",
                ]
            ],
            "P.topic.exact": [["audit.login", "audit.login"]],
        },
        "topic_path": [["a", "created"], ["b", "paid"]],
        "direct": {
            "routed": {
                "P.direct.blue": [["blue", "blue"]],
                "P.direct.red": [["red", "red"], ["red", "red"]],
            },
            "unroutable": "published",
        },
        "headers": {
            "P.headers.all": [["both", ""]],
            "P.headers.any": [["a-only", ""], ["both", ""]],
        },
        "exchange_to_exchange": {
            "P.exchange_to_exchange.q": [
                ["via-source", "kept.1"],
                ["via-target", "kept.2"],
            ]
        },
    },
    "middleware_di": {
        "middleware": {
            # per message, in order: the middleware's hooks
            "events": {
                **{
                    f"P.middleware.source:{body}": [
                        ["publish"],  # broker.publish(...) by the test
                        ["receive"],
                        ["consume"],
                        ["after", error],
                    ]
                    for body, error in [
                        ("one", None),
                        ("boom", "ValueError"),
                        ("two", None),
                    ]
                },
                **{
                    f"P.middleware.target:processed:{body}": [
                        ["publish"],  # the handler's return value
                        ["receive"],
                        ["consume"],
                        ["after", None],
                    ]
                    for body in ("ONE", "TWO")
                },
            },
            # consume_scope upper-cased the body before each handler
            "handled": [
                ["PROCESSED:ONE", "publish_scope"],
                ["PROCESSED:TWO", "publish_scope"],
            ],
        },
        "dependencies": {
            "calls": ["broker", "sync", "async", "nested", "enter", "exit"],
            "cid": "di-cid",
            "incremented": 2,
            "order": {"id": 7, "item": "book"},
            "resource": "resource",
            "routing_key": "P.dependencies.in",
            "sync": 1,
            "tenant": "acme",
        },
        "body_unpacking": [["ann", 3], ["cy", 5]],
    },
    "testbroker": {
        "handler_mock": [["text"], [{"a": 1}], [raw(b"raw")]],
        "request_and_publisher": {
            "class": "RabbitMessage",
            "collected": ["processed:x", "processed:y"],
            "correlation_id": "t-cid",
            "decoded": "processed:x",
            "published": ["processed:x", "processed:y"],
            "raw_is_incoming_message": True,
        },
        "message_attributes_in_memory": [
            {
                "body": raw(b"attributes"),
                "content_type": "text/plain",
                "correlation_id_kept": True,
                "message_id_kept": True,
                "headers": {"x-int": 7, "x-str": "text"},
                "reply_to": "nowhere",
                "raw": incoming(
                    b"attributes",
                    "P.message_attributes_in_memory.in",
                    fake=True,
                    headers={"x-int": 7, "x-str": "text"},
                    # TestRabbitBroker's fake delivery drops delivery_mode
                    **{**PROPERTIES, "delivery_mode": 1},
                ),
            }
        ],
        # [action, [raw.locked, raw.processed] before it, msg.committed set]
        "manual_ack_in_memory": [
            [action, [True, True], True] for action in ("ack", "nack", "reject")
        ],
        "topic_routing_in_memory": {
            "calls": ["in"],
            "unmatched": {"raised": "SubscriberNotFound"},
        },
        "with_real_broker": {
            "calls": ["hi", "ping"],
            "raw_is_incoming_message": True,
            "response": "real:ping",
        },
    },
    "lifecycle": {
        "start_stop_restart": {
            "ping_before": False,
            "connection": {
                "is_abstract_robust": True,
                "is_closed": False,
                "is_robust_connection": True,
            },
            "ping_started": True,
            "after_stop": {"connection_is_closed": True, "ping": False},
            "received": ["first", "second"],
        },
        # on a clean stop aio-pika passes None or CancelledError(): "clean"
        "on_close_callback": ["clean", "clean"],
        "reconnect": {
            "received": ["before", "after"],
            "ping": True,
            # FastStream's stop() raises what the last reconnect attempt did
            "stop_while_reconnecting": {
                "raised": "ExceptionGroup",
                "members": [{"raised": "AMQPConnectionError"}],
            },
        },
        "get_one_and_iterator": {
            "get_one": {
                "class": "RabbitMessage",
                "correlation_id": "g-0",
                "decoded": {"n": 0},
            },
            "get_one_ack": {"n": 1},
            "iterated": [{"n": 2}, {"n": 3}, {"n": 4}],
            "empty": None,
        },
    },
}

#: (scenario, check) -> {queue: the messages left in it}; queues not listed
#: must be empty once the child has exited (its unacked messages requeued)
LEFT_IN_BROKER: dict[tuple[str, str], dict[str, Any]] = {
    ("pubsub", "publish_confirmation"): {"P.publish_confirmation.in": ["confirmed"]},
    ("aiormq", "confirmation_frame"): {"P.confirmation_frame.in": ["confirmed"]},
    ("pubsub", "channel_options"): {"P.channel_options.in": ["kept", "kept"]},
    ("ack", "reject_on_error_default"): {
        "P.reject_on_error_default.work.dlq": [
            dead(body, "P.reject_on_error_default.work")
            for body in ("fail-1", "fail-2")
        ]
    },
    ("ack", "manual"): {
        # neither acked nor rejected: back in the queue when the channel closed
        "P.manual.work": ["leave", "raise"],
        "P.manual.work.dlq": [
            dead(body, "P.manual.work") for body in ("nack-drop", "reject")
        ],
    },
    ("ack", "handler_exceptions"): {
        "P.handler_exceptions.work.dlq": [dead("reject", "P.handler_exceptions.work")]
    },
    ("middleware_di", "body_unpacking"): {
        # the message FastStream could not validate is rejected
        "P.body_unpacking.in.dlq": [dead('{"user":"bob"}', "P.body_unpacking.in")]
    },
}
