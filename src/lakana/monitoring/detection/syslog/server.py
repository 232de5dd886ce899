"""The syslog receiver: an asyncio TCP server (TLS when configured) reading RFC 6587 frames
from registered senders and storing them as detection events.

How it holds up:

* **Attribution**: a connection is resolved once, when it opens, to a registered sender
  (:mod:`.sources`: peer address and TLS client certificate); an unknown sender is refused
  (closed at once, counted). Its events go to the sender's institution and system.
* **Batching**: a connection gathers frames and hands them over every ``flush_interval``
  seconds, or at ``batch_lines`` lines or ``batch_bytes`` bytes, whichever comes first.
* **Fairness and backpressure**: each institution has its own bounded queue of batches and
  one writer, which stores them through ``flows.ingest`` in a thread pool (the event loop
  never waits on the database). A connection whose institution's queue is full waits to
  hand its batch over and stops reading meanwhile: the sender's TCP window closes. Another
  institution's queue and writer are untouched, so a flood never stalls it.
* **Bad input**: frames over ``max_frame`` bytes are skipped, invalid UTF-8 is replaced, a
  client that never finishes a frame is closed after ``idle_timeout`` seconds of silence;
  past ``max_connections`` new connections are closed at once. All counted.
* **Shutdown**: stop accepting, close connections handing over what they received, store
  every queued batch, then stop.

The counters (:meth:`SyslogReceiver.stats`) are logged every ``stats_every`` seconds and,
when ``stats_path`` is set, written there as JSON (``lakana detection syslog stats``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from lakana.core.auth.rbac import system_actor
from lakana.core.config import Settings
from lakana.core.db import transaction
from lakana.monitoring.detection import flows
from lakana.monitoring.detection.syslog import sources
from lakana.monitoring.detection.syslog.framing import (
    DEFAULT_MAX_FRAME,
    FrameCounters,
    FrameDecoder,
)

__all__ = ["BackgroundReceiver", "ReceiverConfig", "Store", "SyslogReceiver", "tls_context"]

log = logging.getLogger("lakana.detection.syslog")

#: Bytes asked of the socket per read.
READ_SIZE = 64 * 1024
#: How a batch is stored: (institution id, system id, lines) -> events stored.
Store = Callable[[int, int | None, list[str]], int]


@dataclasses.dataclass
class ReceiverConfig:
    """How the receiver listens and paces itself (defaults suit production)."""

    host: str = "127.0.0.1"
    port: int = 6514
    ssl: ssl.SSLContext | None = None
    max_frame: int = DEFAULT_MAX_FRAME
    #: Seconds without a byte before a connection is closed.
    idle_timeout: float = 300.0
    max_connections: int = 1000
    batch_lines: int = 500
    batch_bytes: int = 1024 * 1024
    flush_interval: float = 0.5
    #: Batches an institution's queue holds before its connections stop being read.
    queue_batches: int = 4
    #: Threads storing batches (each institution uses at most one at a time).
    writers: int = 4
    #: Seconds the registered senders are cached (a new sender is accepted after that).
    sources_ttl: float = 5.0
    handshake_timeout: float = 15.0
    stats_every: float = 60.0
    stats_path: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, host: str | None = None,
                      port: int | None = None, **overrides: Any) -> ReceiverConfig:
        """The configuration the settings describe (TLS when a certificate is set)."""
        context = None
        if settings.syslog_tls_cert is not None:
            context = tls_context(settings.syslog_tls_cert, settings.syslog_tls_key,
                                  settings.syslog_tls_client_ca)
        return cls(host=host or settings.syslog_host,
                   port=settings.syslog_port if port is None else port, ssl=context,
                   writers=max(2, settings.detection_ingest_concurrency * 2),
                   stats_path=settings.resolved_home / "syslog-receiver.json", **overrides)


def tls_context(cert: Path, key: Path | None, client_ca: Path | None) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2 or later); with ``client_ca`` a client certificate
    signed by it is required."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key) if key else None)
    # No TLS 1.3 session tickets: a sender that writes and closes without ever reading
    # would leave them unread, its kernel would answer with a reset, and the reset drops
    # the messages not yet read on this side. Syslog connections are long-lived anyway.
    context.num_tickets = 0
    if client_ca is not None:
        context.load_verify_locations(cafile=str(client_ca))
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@dataclasses.dataclass
class Counters:
    """What the receiver did since it started."""

    connections: int = 0
    refused_senders: int = 0
    refused_busy: int = 0
    idle_closed: int = 0
    stored: int = 0
    ingest_errors: int = 0
    dropped: int = 0
    frames: FrameCounters = dataclasses.field(default_factory=FrameCounters)


def database_store(session_factory: sessionmaker[Session]) -> Store:
    """Store a batch through ``flows.ingest`` (escalation included), acting as the
    receiver, in one transaction."""
    actor = system_actor("syslog receiver", "syslog")

    def store(institution_id: int, system_id: int | None, lines: list[str]) -> int:
        with transaction(session_factory) as session:
            result = flows.ingest(session=session, actor=actor, lines=lines,
                                  system_id=system_id, channel="syslog",
                                  institution_id=institution_id)
        return int(result.stored)

    return store


class _Lane:
    """One institution's bounded queue of batches and its writer."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[tuple[int | None, list[str]] | None] = asyncio.Queue(size)
        self.task: asyncio.Task[None] | None = None


class SyslogReceiver:
    """The receiver (see the module's docstring); runs on the current event loop."""

    def __init__(self, session_factory: sessionmaker[Session], config: ReceiverConfig,
                 store: Store | None = None) -> None:
        """A receiver reading senders from ``session_factory``'s database and storing
        batches with ``store`` (by default :func:`database_store`)."""
        self.config = config
        self.counters = Counters()
        self.port: int | None = None
        self._factory = session_factory
        self._store = store or database_store(session_factory)
        self._pool = ThreadPoolExecutor(max(1, config.writers), "syslog-store")
        self._lookup = ThreadPoolExecutor(1, "syslog-sources")
        self._lanes: dict[int, _Lane] = {}
        self._handlers: set[asyncio.Task[Any]] = set()
        self._entries: list[sources.SourceEntry] = []
        self._entries_at = -1e9
        self._entries_lock: asyncio.Lock | None = None
        self._server: asyncio.Server | None = None
        self._stats_task: asyncio.Task[None] | None = None
        self._refusals_logged: dict[str, float] = {}
        self._started = time.time()

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (``port`` 0 picks a free one: see :attr:`port`)."""
        self._entries_lock = asyncio.Lock()
        self._server = await asyncio.start_server(
            self._handle, self.config.host, self.config.port, ssl=self.config.ssl,
            ssl_handshake_timeout=self.config.handshake_timeout if self.config.ssl else None,
            limit=READ_SIZE)
        self.port = self._server.sockets[0].getsockname()[1]
        self._stats_task = asyncio.create_task(self._report_loop())
        log.info("syslog receiver listening on %s:%s (%s)", self.config.host, self.port,
                 "TLS" if self.config.ssl else "plain TCP")

    async def stop(self) -> None:
        """Clean shutdown: stop accepting, close connections (what they received is queued),
        store every queued batch."""
        if self._server is not None:
            self._server.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        for lane in self._lanes.values():
            await lane.queue.put(None)
        await asyncio.gather(*(lane.task for lane in self._lanes.values() if lane.task),
                             return_exceptions=True)
        if self._stats_task is not None:
            self._stats_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stats_task
        self._report()
        self._pool.shutdown(wait=True)
        self._lookup.shutdown(wait=True)
        log.info("syslog receiver stopped")

    def stats(self) -> dict[str, Any]:
        """The counters, connections open and batches waiting, as a JSON-able dict."""
        data = dataclasses.asdict(self.counters)
        frames = data.pop("frames")
        data.update(frames)
        data["active_connections"] = len(self._handlers)
        data["queued_batches"] = {str(k): lane.queue.qsize()
                                  for k, lane in self._lanes.items() if lane.queue.qsize()}
        data["started_at"] = self._started
        data["updated_at"] = time.time()
        return data

    def _report(self) -> None:
        stats = self.stats()
        log.info("syslog receiver: %s", json.dumps(stats, sort_keys=True))
        path = self.config.stats_path
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps(stats, indent=2, sort_keys=True))
            os.replace(temporary, path)
        except OSError as exc:  # the counters are a convenience: never stop receiving
            log.warning("cannot write %s: %s", path, exc)

    async def _report_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.stats_every)
            self._report()

    # --- senders ----------------------------------------------------------------------------

    def _load_entries(self) -> list[sources.SourceEntry]:
        with transaction(self._factory) as session:
            return sources.load_entries(session)

    async def _sources(self) -> list[sources.SourceEntry]:
        assert self._entries_lock is not None
        async with self._entries_lock:
            now = time.monotonic()
            if now - self._entries_at >= self.config.sources_ttl:
                loop = asyncio.get_running_loop()
                try:
                    self._entries = await loop.run_in_executor(self._lookup,
                                                               self._load_entries)
                    self._entries_at = now
                except Exception:  # noqa: BLE001 - keep the last table when the database hiccups
                    log.exception("cannot read the registered syslog senders")
            return self._entries

    # --- storing ----------------------------------------------------------------------------

    def _lane(self, institution_id: int) -> _Lane:
        lane = self._lanes.get(institution_id)
        if lane is None:
            lane = self._lanes[institution_id] = _Lane(max(1, self.config.queue_batches))
            lane.task = asyncio.create_task(self._write(institution_id, lane))
        return lane

    async def _write(self, institution_id: int, lane: _Lane) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await lane.queue.get()
            if item is None:
                return
            system_id, lines = item
            for attempt in range(4):
                try:
                    stored = await loop.run_in_executor(self._pool, self._store,
                                                        institution_id, system_id, lines)
                    self.counters.stored += stored
                    break
                except OperationalError as exc:
                    # The database is busy or restarting: wait and try again, a few times.
                    if attempt == 3:
                        self._lost(institution_id, lines, exc)
                    else:
                        await asyncio.sleep(0.5 * (attempt + 1))
                except Exception as exc:  # noqa: BLE001 - a bad batch must never kill the writer
                    self._lost(institution_id, lines, exc)
                    break

    def _lost(self, institution_id: int, lines: list[str], exc: BaseException) -> None:
        self.counters.ingest_errors += 1
        self.counters.dropped += len(lines)
        log.error("syslog batch of %s lines for institution %s not stored: %s", len(lines),
                  institution_id, exc)

    # --- connections ------------------------------------------------------------------------

    @staticmethod
    def _peer(writer: asyncio.StreamWriter) -> tuple[str | None, str | None]:
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else None
        cert = None
        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is not None:
            der = ssl_object.getpeercert(binary_form=True)
            cert = sources.cert_fingerprint(der) if der else None
        return address, cert

    def _log_refusal(self, address: str | None, cert: str | None) -> None:
        # Once a minute per sender: a misconfigured or hostile one must not flood the log.
        now, key = time.monotonic(), f"{address}|{cert}"
        if now - self._refusals_logged.get(key, -1e9) < 60:
            return
        if len(self._refusals_logged) > 10_000:
            self._refusals_logged.clear()
        self._refusals_logged[key] = now
        log.warning("syslog connection from unregistered sender %s refused%s", address,
                    f" (certificate sha256 {cert})" if cert else "")

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                      ) -> None:
        task = asyncio.current_task()
        if len(self._handlers) >= self.config.max_connections or task is None:
            self.counters.refused_busy += 1
            writer.close()
            return
        self._handlers.add(task)
        self.counters.connections += 1
        try:
            address, cert = self._peer(writer)
            entry = sources.resolve(await self._sources(), address, cert)
            if entry is None:
                self.counters.refused_senders += 1
                self._log_refusal(address, cert)
                return
            await self._receive(reader, entry)
        except asyncio.CancelledError:
            pass  # shutdown: what was received is already handed over
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            log.debug("syslog connection closed: %s", exc)
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)

    async def _receive(self, reader: asyncio.StreamReader,
                       entry: sources.SourceEntry) -> None:
        config, loop = self.config, asyncio.get_running_loop()
        lane = self._lane(entry.institution_id)
        decoder = FrameDecoder(config.max_frame, self.counters.frames)
        batch: list[str] = []
        size = 0
        first = last_read = loop.time()

        async def hand_over() -> None:
            nonlocal batch, size, last_read
            if batch:
                # Waits while the institution's queue is full: this connection is not read
                # meanwhile, which is the sender's backpressure (not idleness).
                await lane.queue.put((entry.system_id, batch))
                batch, size = [], 0
                last_read = loop.time()

        try:
            while True:
                now = loop.time()
                wait = (first + config.flush_interval - now if batch
                        else last_read + config.idle_timeout - now)
                try:
                    data = await asyncio.wait_for(reader.read(READ_SIZE), max(wait, 0.01))
                except TimeoutError:
                    now = loop.time()
                    if batch and now - first >= config.flush_interval:
                        await hand_over()
                    if now - last_read >= config.idle_timeout:
                        self.counters.idle_closed += 1
                        return
                    continue
                if not data:
                    batch.extend(decoder.finish())
                    return
                last_read = loop.time()
                frames = decoder.feed(data)
                if frames:
                    if not batch:
                        first = last_read
                    batch.extend(frames)
                    size += sum(len(f) for f in frames)
                if batch and (len(batch) >= config.batch_lines or size >= config.batch_bytes
                              or last_read - first >= config.flush_interval):
                    await hand_over()
        finally:
            # Also on shutdown (cancelled): the writers still run and store it.
            if batch:
                await lane.queue.put((entry.system_id, batch))


class BackgroundReceiver:
    """A receiver on its own event loop in a thread (tests, embedding): ``start()`` returns
    once it listens; ``stop()`` shuts it down cleanly."""

    def __init__(self, session_factory: sessionmaker[Session], config: ReceiverConfig,
                 store: Store | None = None) -> None:
        """Prepare (nothing listens before :meth:`start`)."""
        self.receiver = SyslogReceiver(session_factory, config, store)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="syslog-receiver")

    @property
    def port(self) -> int:
        """The port it listens on."""
        assert self.receiver.port is not None
        return self.receiver.port

    def start(self) -> BackgroundReceiver:
        """Start the loop and listen."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.receiver.start(), self._loop).result(30)
        return self

    def stats(self) -> dict[str, Any]:
        """The receiver's counters (read on its loop)."""
        async def read() -> dict[str, Any]:
            return self.receiver.stats()
        return asyncio.run_coroutine_threadsafe(read(), self._loop).result(30)

    def stop(self) -> None:
        """Shut the receiver down cleanly, then its loop."""
        asyncio.run_coroutine_threadsafe(self.receiver.stop(), self._loop).result(60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()


async def serve(session_factory: sessionmaker[Session], config: ReceiverConfig,
                stop: asyncio.Event) -> SyslogReceiver:
    """Run a receiver until ``stop`` is set, then shut it down cleanly."""
    receiver = SyslogReceiver(session_factory, config)
    await receiver.start()
    await stop.wait()
    await receiver.stop()
    return receiver
