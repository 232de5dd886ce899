"""``lakana detect file``: the detection rules over log files, without a server or database."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakana.monitoring.detection.cli_hunt import detect_app
from lakana.monitoring.detection.hunt import LINE_BYTES, Hunter, build_pack, iter_lines

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SSH_LOG = SHARED / "logs" / "OpenSSH_2k.log"
SIGMA_WINDOWS = SHARED / "sigma" / "rules" / "windows"
WIN_EVENTS = SHARED / "windows-events"
needs_ssh = pytest.mark.skipif(not SSH_LOG.is_file(), reason="shared OpenSSH log absent")
needs_windows = pytest.mark.skipif(not (SIGMA_WINDOWS.is_dir() and WIN_EVENTS.is_dir()),
                                   reason="shared SigmaHQ rules or Windows events absent")

INVALID_USER = "aa7eeeea-cfbd-54ef-bd13-57d70607ba4b"  # Lakana: SSH invalid user (medium)
SSH_BRUTE_FORCE = "73bcc91c-60c6-574c-a3a9-b29f24c93f15"  # Lakana correlation (high)
AUDIT_LOG_CLEARED_TITLE = "Windows security audit log cleared"  # Lakana, 1102
ESENTUTL_RULE = "e7be6119-fc37-43f0-ad4f-1f3f99be2f9f"  # SigmaHQ: Copying Sensitive Files
runner = CliRunner()


@pytest.fixture(autouse=True)
def no_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Hunting must not need settings or a database: the home is a path that cannot exist."""
    home = tmp_path / "missing" / "home"
    monkeypatch.setenv("LAKANA_HOME", str(home))
    monkeypatch.delenv("LAKANA_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def _lines(text: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    for r in records:
        assert r["kind"] in ("rule", "correlation")
        assert {"rule_id", "title", "level", "tags", "author", "license", "file", "line"} <= set(r)
        assert isinstance(r["line"], int) and r["line"] >= 1
    return records


def _nothing_written(root: Path, *allowed: Path) -> None:
    """No database, no home folder, nothing but ``allowed`` under ``root``."""
    made = {p for p in root.rglob("*") if p.is_file()}
    assert made <= set(allowed), made
    assert not (root / "missing").exists() and not (root / "var").exists()


@needs_ssh
def test_openssh_log_with_lakana_rules(tmp_path: Path) -> None:
    # When the real OpenSSH sample is hunted with Lakana's own rules
    done = runner.invoke(detect_app, ["file", str(SSH_LOG)])
    # Then every invalid-user line is a match, and brute force shows as correlations
    assert done.exit_code == 0, done.output
    records = _lines(done.stdout)
    invalid = [r for r in records if r["rule_id"] == INVALID_USER]
    expected = [n for n, line in enumerate(SSH_LOG.read_text().splitlines(), 1)
                if "Invalid user" in line]
    assert [r["line"] for r in invalid] == expected
    first = invalid[0]
    assert first["kind"] == "rule" and first["level"] == "medium"
    assert first["license"] == "AGPL-3.0-or-later" and first["author"] == "Lakana"
    assert first["file"] == str(SSH_LOG) and first["member"] is None
    assert first["event"]["event.dataset"] == "sshd"
    assert first["event"]["source.ip"] and first["event"]["user.name"]
    assert first["event"]["log.original"] == SSH_LOG.read_text().splitlines()[first["line"] - 1]
    brute = [r for r in records if r["rule_id"] == SSH_BRUTE_FORCE]
    assert brute and all(r["kind"] == "correlation" and r["level"] == "high" for r in brute)
    assert all(r["count"] >= 1 and "source.ip" in r["group"] and r["first"] <= r["last"]
               for r in brute)
    # And the summary is on standard error, not mixed into the JSON lines
    assert "2000 events" in done.stderr and "matches" in done.stderr
    _nothing_written(tmp_path)


@needs_windows
def test_windows_zip_with_sigmahq_rules(tmp_path: Path) -> None:
    # When a real recording (a zip of JSON lines) is hunted with the SigmaHQ Windows rules
    recording = WIN_EVENTS / "cmd_sam_copy_esentutl.zip"
    done = runner.invoke(detect_app, ["file", "--rules", str(SIGMA_WINDOWS), "--no-builtin",
                                      "--min-level", "high", str(recording)])
    assert done.exit_code == 0, done.output
    records = _lines(done.stdout)
    # Then the esentutl SAM copy rule fires, on the Sysmon and the Security process creation
    hits = [r for r in records if r["rule_id"] == ESENTUTL_RULE]
    assert {r["event"]["winlog.event_id"] for r in hits} == {1, 4688}
    for r in hits:
        assert r["license"] == "DRL-1.1" and "Kheirkhabarov" in r["author"]
        assert "attack.t1003.002" in r["tags"]
        assert r["file"] == str(recording) and r["member"].endswith(".json")
        assert "esentutl" in r["event"]["process.command_line"].lower()
        assert json.loads(r["event"]["log.original"])["EventID"] == r["event"]["winlog.event_id"]
    # And --min-level keeps high and critical only; nothing of Lakana's own rules
    assert {r["level"] for r in records} <= {"high", "critical"}
    assert all(r["license"] == "DRL-1.1" for r in records)
    _nothing_written(tmp_path)


@needs_ssh
def test_real_subprocess_gzip_input_output_file(tmp_path: Path) -> None:
    # Given the OpenSSH sample gzipped under a name that does not say so, and a read-only home
    packed = tmp_path / "auth-log"
    with SSH_LOG.open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    out = tmp_path / "matches.jsonl"
    script = Path(sys.executable).parent / "lakana"
    env = {**os.environ, "LAKANA_HOME": "/proc/lakana-no-home", "COLUMNS": "120"}
    env.pop("LAKANA_DATABASE_URL", None)
    # When the installed ``lakana`` command hunts it, keeping high only, into a file
    done = subprocess.run([str(script), "detect", "file", "--min-level", "high", "--output",
                           str(out), str(packed)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300, check=False)
    # Then it succeeds, writes only correlation lines (the invalid-user rule is medium)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    records = _lines(out.read_text(encoding="utf-8"))
    assert records and {r["kind"] for r in records} == {"correlation"}
    assert SSH_BRUTE_FORCE in {r["rule_id"] for r in records}
    # And standard error (not a terminal) has the summary, no progress bar
    assert "2000 events" in done.stderr and "\r" not in done.stderr
    _nothing_written(tmp_path, packed, out)


def test_malformed_input_is_kept_and_matched(tmp_path: Path) -> None:
    # Given a file mixing broken UTF-8, broken JSON, a line over the limit, blank lines and a
    # real Windows audit-log-cleared event at the end
    cleared = {"EventID": 1102, "Channel": "Security", "Hostname": "DC01",
               "SubjectUserName": "mallory", "SubjectDomainName": "CORP"}
    log = tmp_path / "mixed.log"
    log.write_bytes(b"\xff\xfe not utf-8 \xc3\x28\n"
                    b'{"EventID": 4625, "Channel": "Secu\n'
                    + b"x" * (LINE_BYTES * 3) + b"\n"
                    + b"\n   \n"
                    + json.dumps(cleared).encode() + b"\n")
    done = runner.invoke(detect_app, ["file", str(log)])
    assert done.exit_code == 0, done.output
    records = _lines(done.stdout)
    # Then the event is found at its line (blank lines count, events do not)
    assert [(r["title"], r["line"]) for r in records] == [(AUDIT_LOG_CLEARED_TITLE, 6)]
    assert records[0]["event"]["user.name"] == "mallory"
    assert "4 events (3 not recognised, 1 lines cut)" in done.stderr
    # And the same through the engine: each bad line is a raw event, the long one cut
    hunter = Hunter(build_pack([]))
    assert len(list(hunter.scan(log))) == 1
    assert hunter.stats.events == 4 and hunter.stats.raw_events == 3
    assert hunter.stats.cut_lines == 1


def test_archives_and_compressions(tmp_path: Path) -> None:
    lines = b"one\ntwo\r\nthree"
    (tmp_path / "a.bz2").write_bytes(bz2.compress(lines))
    (tmp_path / "a.xz").write_bytes(lzma.compress(lines))
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("logs/", b"")
        zf.writestr("logs/first.log", lines)
        zf.writestr("__MACOSX/logs/._first.log", b"\x00\x05\x16\x07 resource fork")
        zf.writestr("logs/second.log", b"four\n")
    for name in ("a.bz2", "a.xz"):
        got = [(m, n, d) for m, n, d, _ in iter_lines(tmp_path / name)]
        assert got == [(None, 1, b"one\n"), (None, 2, b"two\r\n"), (None, 3, b"three")]
    got = [(m, n, d) for m, n, d, _ in iter_lines(tmp_path / "a.zip")]
    assert got == [("logs/first.log", 1, b"one\n"), ("logs/first.log", 2, b"two\r\n"),
                   ("logs/first.log", 3, b"three"), ("logs/second.log", 1, b"four\n")]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("hello\n")
    rule = tmp_path / "hello.yml"
    rule.write_text("title: hello\nlogsource: {product: linux}\nlevel: low\n"
                    "detection: {keywords: [hello], condition: keywords}\n")
    # A single rule file is a rule pack too
    done = runner.invoke(detect_app, ["file", "--no-builtin", "--rules", str(rule), str(log)])
    assert done.exit_code == 0, done.output
    assert [r["title"] for r in _lines(done.stdout)] == ["hello"]
    cases = [
        (["file", str(tmp_path / "nope.log")], "no such file"),
        (["file", str(tmp_path)], "is a folder"),
        (["file", "--rules", str(tmp_path / "no-rules"), str(log)], "no such file"),
        (["file", "--min-level", "severe", str(log)], "Unknown level severe"),
        (["file", "--no-builtin", str(log)], "No rules"),
        (["file"], ""),
    ]
    for args, message in cases:
        done = runner.invoke(detect_app, args)
        assert done.exit_code == 2, (args, done.output)
        assert message in done.output
        assert done.stdout.strip() == "" or "Usage" in done.output


def test_unreadable_and_corrupt_files(tmp_path: Path) -> None:
    good = tmp_path / "good.log"
    good.write_text("hello\n")
    corrupt = tmp_path / "broken.gz"
    packed = gzip.compress(b"".join(b"line %d %s\n" % (i, os.urandom(8).hex().encode())
                                    for i in range(2000)))
    corrupt.write_bytes(packed[: len(packed) // 2])
    # A truncated archive: the other files are read, the error named, exit status 2
    done = runner.invoke(detect_app, ["file", str(corrupt), str(good)])
    assert done.exit_code == 2
    assert f"lakana: {corrupt}:" in done.stderr
    assert "2 file(s)" in done.stderr
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.log"
        locked.write_text("x\n")
        locked.chmod(0)
        done = runner.invoke(detect_app, ["file", str(locked)])
        assert done.exit_code == 2 and "Permission denied" in done.output


@needs_ssh
def test_reader_closing_the_pipe_early_is_not_an_error(tmp_path: Path) -> None:
    # ``lakana detect file big.log | head -1``: the command stops quietly when the reader goes
    script = Path(sys.executable).parent / "lakana"
    proc = subprocess.Popen([str(script), "detect", "file", str(SSH_LOG), str(SSH_LOG)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    errors = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0
    assert json.loads(first)["kind"] == "rule"
    assert "Traceback" not in errors and "BrokenPipe" not in errors
