"""The codec without sockets: framing, handshake, field reading, and hypothesis fuzzing of every decoder."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.gateway import requests as rq
from runtime.gateway.order_wire import decode_place_order
from runtime.gateway.protocol import (
    FieldError,
    FieldReader,
    FrameReader,
    ProtocolError,
    encode_fields,
    fmt_float,
    parse_hello,
    split_fields,
)


def frame(*fields: object) -> bytes:
    return encode_fields(fields)


def test_frames_split_across_and_within_reads():
    data = frame(49, 1) + frame(8, 1, 5) + frame(71, 2, 7, "")
    r = FrameReader()
    out = []
    for i in range(len(data)):
        out += r.feed(data[i : i + 1])
    assert [split_fields(f) for f in out] == [["49", "1"], ["8", "1", "5"], ["71", "2", "7", ""]]
    assert r.buffered == 0
    assert FrameReader().feed(data) == out


def test_oversized_length_prefix_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        FrameReader(max_frame=1000).feed(struct.pack(">I", 1001))


def test_hello_parsing_and_negotiation():
    hello, used = parse_hello(b"API\0" + struct.pack(">I", 9) + b"v100..157" + b"rest")
    assert used == 17 and (hello.min_version, hello.max_version) == (100, 157) and hello.negotiate() == 157
    assert parse_hello(b"API\0" + struct.pack(">I", 18) + b"v157..178 +PACEAPI")[0].options == "+PACEAPI"
    assert parse_hello(b"API\0" + struct.pack(">I", 9) + b"v100..226")[0].negotiate() == 157
    assert parse_hello(b"API\0" + struct.pack(">I", 9) + b"v158..226")[0].negotiate() is None
    assert parse_hello(b"AP") == (None, 0)
    with pytest.raises(ProtocolError):
        parse_hello(b"GET / HTTP/1.1")


def test_field_reader_is_tolerant_but_strict_about_missing_fields():
    r = FieldReader(["12", "12.0", "", "1.5", "", "Infinite", "true", "0"])
    assert (r.int(), r.int(), r.int(7), r.float(), r.float(), r.float()) == (12, 12, 7, 1.5, None, float("inf"))
    assert (r.bool(), r.bool()) == (True, False)
    with pytest.raises(FieldError):
        r.str()
    with pytest.raises(FieldError):
        FieldReader(["x"]).int()


def test_number_formatting():
    assert [fmt_float(x) for x in (100.0, 0.1, -0.0, None, 1.7976931348623157e308, float("nan"))] == [
        "100", "0.1", "0", "", "", ""]


DECODERS = [
    rq.start_api, rq.req_ids, rq.req_contract_details, rq.req_mkt_data, rq.req_historical_data,
    rq.req_real_time_bars, rq.req_executions, rq.req_account_updates, rq.req_account_summary,
    rq.req_account_updates_multi, rq.req_head_timestamp, rq.req_pnl_single, decode_place_order,
]
field = st.one_of(st.text(max_size=12), st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True).map(str),
                  st.sampled_from(["", "0", "1", "BAG", "STK", "Infinite", "1.7976931348623157E308"]))


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.sampled_from(DECODERS), st.lists(field, max_size=140))
def test_decoders_only_ever_raise_field_errors(decoder, fields):
    with contextlib.suppress(FieldError):
        decoder(["0", *fields])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_frame_reader_survives_any_bytes(data):
    r = FrameReader(max_frame=4096)
    try:
        for f in r.feed(data):
            split_fields(f)
    except ProtocolError:
        pass
    assert r.buffered <= 4096 + 4
