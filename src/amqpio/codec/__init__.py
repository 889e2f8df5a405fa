"""Wire primitives of AMQP 0-9-1: values, field tables and frames.

No protocol state lives here, and nothing here imports the rest of amqpio.
"""

from .errors import (
    DecodeError,
    EncodeError,
    FrameDecodeError,
    SyntaxDecodeError,
    UnexpectedFrameError,
)
from .frames import (
    FRAME_BODY,
    FRAME_END,
    FRAME_HEADER,
    FRAME_HEARTBEAT,
    FRAME_METHOD,
    FRAME_MIN_SIZE,
    FRAME_OVERHEAD,
    HEARTBEAT_FRAME,
    PROTOCOL_HEADER,
    Frame,
    FrameReader,
    encode_content,
    encode_frame,
    encode_method_frame,
)
from .table import (
    FieldArray,
    FieldTable,
    FieldValue,
    decode_array,
    decode_table,
    encode_array,
    encode_table,
)

__all__ = [
    "FRAME_BODY",
    "FRAME_END",
    "FRAME_HEADER",
    "FRAME_HEARTBEAT",
    "FRAME_METHOD",
    "FRAME_MIN_SIZE",
    "FRAME_OVERHEAD",
    "HEARTBEAT_FRAME",
    "PROTOCOL_HEADER",
    "DecodeError",
    "EncodeError",
    "FieldArray",
    "FieldTable",
    "FieldValue",
    "Frame",
    "FrameDecodeError",
    "FrameReader",
    "SyntaxDecodeError",
    "UnexpectedFrameError",
    "decode_array",
    "decode_table",
    "encode_array",
    "encode_content",
    "encode_frame",
    "encode_method_frame",
    "encode_table",
]
