"""RFC 6587 framing: octet counting and LF framing decided per frame, frames split across
reads, oversize frames skipped in bounded memory, invalid UTF-8, garbage length prefixes."""

from __future__ import annotations

import tracemalloc

import pytest

from lakana.monitoring.detection.syslog.framing import FrameDecoder

M5424 = "<34>1 2026-11-23T04:00:00Z web1 sshd 123 - - Failed password for root from 203.0.113.9"
M3164 = "<38>Nov 23 04:00:00 web1 sshd[123]: Accepted publickey for alice from 192.0.2.1"


def octet(message: str) -> bytes:
    """One octet-counted frame."""
    data = message.encode()
    return str(len(data)).encode() + b" " + data


def feed_all(decoder: FrameDecoder, chunks: list[bytes]) -> list[str]:
    """Every frame out of the chunks, end of stream included."""
    out: list[str] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    out.extend(decoder.finish())
    return out


def test_octet_counted_and_lf_frames_mixed_in_one_stream() -> None:
    """Each frame's framing is detected on its own."""
    stream = octet(M5424) + M3164.encode() + b"\r\n" + octet("<13>1 - h a - - - x\ny")
    decoder = FrameDecoder()
    assert feed_all(decoder, [stream]) == [M5424, M3164, "<13>1 - h a - - - x\ny"]
    assert decoder.counters.frames == 3
    assert decoder.counters.octet_counted == 2


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_frames_split_across_reads(size: int) -> None:
    """Bytes arriving one (or a few) at a time give the same frames."""
    stream = (octet(M5424) + M3164.encode() + b"\n") * 3 + b"2026-01-01 raw line\n"
    chunks = [stream[i:i + size] for i in range(0, len(stream), size)]
    assert feed_all(FrameDecoder(), chunks) == [M5424, M3164] * 3 + ["2026-01-01 raw line"]


def test_unterminated_lf_frame_is_kept_at_end_of_stream() -> None:
    """A sender that closes after its last message without LF loses nothing."""
    decoder = FrameDecoder()
    assert decoder.feed(M3164.encode()) == []
    assert decoder.finish() == [M3164]


def test_octet_counted_frame_cut_short_is_counted() -> None:
    """An octet-counted frame the stream ends inside is dropped and counted."""
    decoder = FrameDecoder()
    assert feed_all(decoder, [b"100 <13>short"]) == []
    assert decoder.counters.truncated == 1


def test_blank_lines_are_not_events() -> None:
    """Stray LFs (some senders add one after an octet-counted frame) are skipped."""
    assert feed_all(FrameDecoder(), [octet("a") + b"\n\r\n" + octet("b") + b"\n"]) == ["a", "b"]


def test_oversize_octet_counted_frame_is_skipped_exactly() -> None:
    """A too-long counted frame is discarded by its length; the next frame is intact."""
    decoder = FrameDecoder(max_frame=100)
    big = b"<13>" + b"x" * 5000
    out = feed_all(decoder, [str(len(big)).encode() + b" " + big[:10], big[10:], octet("ok")])
    assert out == ["ok"]
    assert decoder.counters.oversize == 1


def test_ten_megabyte_line_costs_bounded_memory() -> None:
    """A 10 MB LF-framed line is skipped without being buffered, and the stream goes on."""
    decoder = FrameDecoder()  # 64 KiB
    chunk = b"A" * 65536
    tracemalloc.start()
    out: list[str] = []
    out += decoder.feed(b"<13>")
    for _ in range(160):  # 10 MiB
        out += decoder.feed(chunk)
        assert decoder.pending <= decoder.max_frame + len(chunk)
    out += decoder.feed(b"\n" + M3164.encode() + b"\n")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert out == [M3164]
    assert decoder.counters.oversize == 1
    assert peak < 2 * 1024 * 1024


def test_oversize_line_ending_inside_one_read_is_skipped() -> None:
    """A long line whose LF arrives in the same read is skipped too."""
    decoder = FrameDecoder(max_frame=10)
    assert feed_all(decoder, [b"x" * 50 + b"\nshort\n"]) == ["short"]
    assert decoder.counters.oversize == 1


def test_invalid_utf8_is_replaced_and_counted() -> None:
    """Bytes that are not UTF-8 are kept (replaced), never a crash."""
    decoder = FrameDecoder()
    out = feed_all(decoder, [b"<13>caf\xe9 \xff\n", octet("ok")])
    assert out == ["<13>caf\ufffd \ufffd", "ok"]
    assert decoder.counters.invalid_utf8 == 1


@pytest.mark.parametrize("garbage", [b"99999999999999999999 text\n", b"12abc\n", b"0 zero\n",
                                     b"123\n", b"-5 minus\n"])
def test_garbage_length_prefix_is_read_as_a_line(garbage: bytes) -> None:
    """Digits that are not a valid MSG-LEN make an LF-framed line, kept as it is."""
    out = feed_all(FrameDecoder(), [garbage, octet("next")])
    assert out == [garbage.decode().rstrip("\n"), "next"]


def test_huge_length_prefix_skips_and_counts() -> None:
    """A length far over the limit (a lying sender) is skipped, not allocated."""
    decoder = FrameDecoder(max_frame=1000)
    assert decoder.feed(b"9999999999 ") == []
    assert decoder.feed(b"x" * 100_000) == []
    assert decoder.pending == 0
    assert decoder.counters.oversize == 1
