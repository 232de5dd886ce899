"""Incremental RFC 6587 decoding: feed the bytes read from a TCP stream, get whole frames.

Both framings of RFC 6587 are read, decided frame by frame: *octet counting* (``MSG-LEN SP
MSG``, what rsyslog sends with ``TCP_Framing="octet-counted"`` and syslog-ng's
``syslog()`` driver) when a frame starts with a non-zero digit followed by at most nine
more digits and a space; *non-transparent framing* (the message ends at LF; a CR before it
is dropped) otherwise. A line that merely starts with digits (``2026-01-01 ...``) is read as
LF-framed.

Memory stays bounded: a frame over ``max_frame`` bytes is skipped (an octet-counted one by
discarding exactly its length, an LF-framed one up to its LF) and counted, never buffered;
a 10 MB line costs at most ``max_frame`` plus one read. Frames that are not valid UTF-8 are
decoded with replacement characters and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_FRAME", "FrameCounters", "FrameDecoder"]

#: Largest frame kept (bytes); larger ones are skipped and counted.
DEFAULT_MAX_FRAME = 64 * 1024
#: MSG-LEN has at most this many digits (a larger count is not a length but text).
_MAX_DIGITS = 10
_SP, _LF, _CR = 0x20, b"\n", b"\r"


@dataclass
class FrameCounters:
    """What a decoder saw: frames returned (and how many of them were octet-counted),
    frames skipped as too large, frames with bytes that are not UTF-8, and an octet-counted
    frame cut short by the end of the stream."""

    frames: int = 0
    octet_counted: int = 0
    oversize: int = 0
    invalid_utf8: int = 0
    truncated: int = 0


class FrameDecoder:
    """Decode one TCP stream's syslog frames incrementally (see the module's docstring)."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME,
                 counters: FrameCounters | None = None) -> None:
        """A decoder keeping frames of at most ``max_frame`` bytes, counting into
        ``counters`` (shared by a server's connections) or its own."""
        if max_frame < 1:
            raise ValueError("max_frame must be positive")
        self.max_frame = max_frame
        self.counters = counters if counters is not None else FrameCounters()
        self._buf = bytearray()
        #: Octet-counted frame being read: bytes still expected (None between frames).
        self._need: int | None = None
        #: Octet-counted frame over the limit: bytes still to discard.
        self._skip = 0
        #: LF-framed frame over the limit: discard up to the next LF.
        self._discard_line = False
        #: Where the next LF search starts (the buffer before it holds none).
        self._scanned = 0

    @property
    def pending(self) -> int:
        """Bytes buffered towards an unfinished frame."""
        return len(self._buf)

    def _emit(self, frame: bytes, out: list[str]) -> None:
        if frame.endswith(_CR):
            frame = frame[:-1]
        if not frame.strip():
            return  # blank lines between frames are not events
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError:
            text = frame.decode("utf-8", "replace")
            self.counters.invalid_utf8 += 1
        self.counters.frames += 1
        out.append(text)

    def _octet_header(self) -> int | None:
        """At a frame start: the MSG-LEN of an octet-counted frame (header consumed), -1
        when more bytes are needed to decide, None for an LF-framed frame."""
        buf = self._buf
        if not 0x31 <= buf[0] <= 0x39:
            return None
        end = min(len(buf), _MAX_DIGITS + 1)
        digits = 1
        while digits < end and 0x30 <= buf[digits] <= 0x39:
            digits += 1
        if digits == len(buf) and digits <= _MAX_DIGITS:
            return -1
        if digits < len(buf) and digits <= _MAX_DIGITS and buf[digits] == _SP:
            length = int(buf[:digits])
            del buf[:digits + 1]
            return length
        return None

    def _drop(self) -> None:
        """Discard what belongs to a frame skipped as too large."""
        buf = self._buf
        if self._skip:
            n = min(self._skip, len(buf))
            del buf[:n]
            self._skip -= n
            return
        end = buf.find(_LF)
        if end < 0:
            buf.clear()
            return
        del buf[:end + 1]
        self._discard_line = False

    def feed(self, data: bytes) -> list[str]:
        """The frames completed by ``data`` (possibly none), in order."""
        out: list[str] = []
        buf = self._buf
        buf += data
        while buf:
            if self._skip or self._discard_line:
                self._drop()
                continue
            if self._need is not None:
                if len(buf) < self._need:
                    break
                frame = bytes(buf[:self._need])
                del buf[:self._need]
                self._need = None
                self.counters.octet_counted += 1
                self._emit(frame, out)
                continue
            if self._scanned == 0:
                length = self._octet_header()
                if length == -1:
                    break
                if length is not None:
                    if length > self.max_frame:
                        self.counters.oversize += 1
                        self._skip = length
                    else:
                        self._need = length
                    continue
            end = buf.find(_LF, self._scanned)
            if end < 0:
                if len(buf) > self.max_frame:
                    self.counters.oversize += 1
                    buf.clear()
                    self._discard_line = True
                    self._scanned = 0
                else:
                    self._scanned = len(buf)
                break
            self._scanned = 0
            if end > self.max_frame:
                self.counters.oversize += 1
                del buf[:end + 1]
                continue
            frame = bytes(buf[:end])
            del buf[:end + 1]
            self._emit(frame, out)
        return out

    def finish(self) -> list[str]:
        """At the end of the stream: an unterminated LF-framed message is still a message; an
        octet-counted frame cut short is counted as truncated and dropped."""
        out: list[str] = []
        if self._need is not None or self._skip:
            self.counters.truncated += 1
        elif self._buf and not self._discard_line:
            if len(self._buf) <= self.max_frame:
                self._emit(bytes(self._buf), out)
        self._buf.clear()
        self._need, self._skip, self._discard_line, self._scanned = None, 0, False, 0
        return out
