"""The log file a user can send: where it is, what it holds, rotation, and that it never gets in
the way (an unwritable log dir does not fail a command). Commands run as real subprocesses of
``python -m photofind``, as a user runs them, each with its own temporary data and log dirs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import platformdirs
import pytest

from photofind import __version__
from photofind.config import ENV_DATA_DIR, ENV_LOG_DIR, LOG_FILE_NAME, Paths, get_paths

# One log line: date time,ms pid thread LEVEL logger: message
LINE_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\d+) (\S+) (INFO|WARNING|ERROR|CRITICAL) ([\w.]+): ")


def run(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], check=False, env=env, capture_output=True, text=True, timeout=timeout
    )


def photofind(*args: str, data: Path, log_dir: Path | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_LOG_DIR}
    env[ENV_DATA_DIR] = str(data)
    if log_dir is not None:
        env[ENV_LOG_DIR] = str(log_dir)
    return run("-m", "photofind", *args, env=env)


def python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (the root logger and excepthooks are process state)."""
    env = dict(os.environ, PHOTOFIND_TEST_DIR=str(tmp_path))
    return run("-c", textwrap.dedent(code), env=env, timeout=120)


def test_a_cli_run_writes_its_log_file_and_stats_names_it(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    proc = photofind("stats", "--json", data=tmp_path / "data", log_dir=logs)
    assert proc.returncode == 0, proc.stderr
    log_file = logs / LOG_FILE_NAME
    assert json.loads(proc.stdout)["log_file"] == str(log_file)
    lines = log_file.read_text(encoding="utf-8").splitlines()
    matches = [LINE_RE.match(line) for line in lines]
    assert matches and all(matches), lines  # every line has time, pid, thread, level, logger
    pids = {m.group(1) for m in matches if m}
    assert len(pids) == 1 and pids != {str(os.getpid())}
    assert any(line.endswith(f"INFO photofind.cli: photofind {__version__}: stats --json") for line in lines)
    assert all(m.group(2) == "MainThread" for m in matches if m)
    assert not any("alembic" in line for line in lines)  # other libraries: warnings only
    assert proc.stderr == ""  # the console keeps its old behaviour: quiet unless -v

    # The plain-text stats name it too, and a second run appends to the same file.
    proc = photofind("stats", data=tmp_path / "data", log_dir=logs)
    assert proc.returncode == 0, proc.stderr
    assert f"Log file:   {log_file}" in proc.stdout.splitlines()
    assert len(log_file.read_text(encoding="utf-8").splitlines()) > len(lines)


def test_the_log_never_goes_into_the_data_dir(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    proc = photofind("folders", "--json", data=data, log_dir=logs)
    assert proc.returncode == 0, proc.stderr
    text = (logs / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert f"INFO photofind.cli: photofind {__version__}: folders --json" in text
    assert not (data / "logs").exists()  # a search or a stats run leaves the data dir as it was


def test_a_failed_command_says_why_in_the_log_once_on_the_console(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    missing = tmp_path / "no-such-folder"
    proc = photofind("folders", "remove", str(missing), data=tmp_path / "data", log_dir=logs)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr  # said once, not also as a log line
    message = proc.stderr.strip().removeprefix("photofind: ")
    assert f"ERROR photofind.cli: {message}" in (logs / LOG_FILE_NAME).read_text(encoding="utf-8")


@pytest.mark.parametrize("how", ["parent-is-a-file", "log-file-is-a-dir", "read-only-dir"])
def test_an_unwritable_log_dir_does_not_fail_the_cli(tmp_path: Path, how: str) -> None:
    if how == "parent-is-a-file":
        (tmp_path / "blocker").write_text("a file, not a folder")
        logs = tmp_path / "blocker" / "logs"
    elif how == "log-file-is-a-dir":
        logs = tmp_path / "logs"
        (logs / LOG_FILE_NAME).mkdir(parents=True)
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        logs = tmp_path / "logs"
        logs.mkdir()
        logs.chmod(0o555)
    try:
        proc = photofind("folders", "--json", data=tmp_path / "data", log_dir=logs)
    finally:
        if logs.is_dir():
            logs.chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    warnings = [line for line in proc.stderr.splitlines() if "cannot write the log file" in line]
    assert len(warnings) == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert not (logs / LOG_FILE_NAME).is_file()


def test_the_log_rotates_at_its_size_limit(tmp_path: Path) -> None:
    proc = python(
        """
        import logging, os
        from pathlib import Path
        from photofind.config import Paths
        from photofind.logs import add_log_file, setup_logging
        setup_logging(0)
        file = add_log_file(Paths(Path(os.environ["PHOTOFIND_TEST_DIR"]) / "data", log_dir=Path(os.environ["PHOTOFIND_TEST_DIR"]) / "data" / "logs"), max_bytes=4000, backup_count=3)
        log = logging.getLogger("photofind.test")
        for i in range(400):
            log.info("line %05d %s", i, "x" * 40)
        print(file)
        """,
        tmp_path,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    log_file = Path(proc.stdout.strip())
    files = [p for p in log_file.parent.iterdir() if not p.name.startswith(".")]  # not the lock
    assert sorted(p.name for p in files) == [LOG_FILE_NAME] + [f"{LOG_FILE_NAME}.{i}" for i in (1, 2, 3)]
    for p in files:
        assert 0 < p.stat().st_size <= 4000
    last = log_file.read_text(encoding="utf-8").splitlines()[-1]
    assert "line 00399" in last
    oldest = (log_file.parent / f"{LOG_FILE_NAME}.3").read_text(encoding="utf-8").splitlines()
    assert all("photofind.test: line" in line for line in oldest)  # whole lines in every file


def test_two_processes_share_a_rotating_log_without_losing_lines(tmp_path: Path) -> None:
    code = """
        import logging, os, sys
        from pathlib import Path
        from photofind.config import Paths
        from photofind.logs import add_log_file
        add_log_file(Paths(Path(os.environ["PHOTOFIND_TEST_DIR"]) / "data", log_dir=Path(os.environ["PHOTOFIND_TEST_DIR"]) / "data" / "logs"), max_bytes=20_000, backup_count=200)
        log = logging.getLogger("photofind.test")
        for i in range(1500):
            log.info("writer %s line %05d", sys.argv[1], i)
        """
    env = dict(os.environ, PHOTOFIND_TEST_DIR=str(tmp_path))
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), name], env=env, stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0 and err == "", err
    lines = [
        line
        for f in (tmp_path / "data" / "logs").iterdir()
        for line in f.read_text(encoding="utf-8").splitlines()
        if "photofind.test: writer" in line
    ]
    assert len(lines) == len(set(lines)) == 3000
    assert len(list((tmp_path / "data" / "logs").iterdir())) > 2  # it did rotate


def test_uncaught_exceptions_land_in_the_log(tmp_path: Path) -> None:
    proc = python(
        """
        import os, threading
        from pathlib import Path
        from photofind.config import Paths
        from photofind.logs import add_log_file, setup_logging
        setup_logging(0)
        add_log_file(Paths(Path(os.environ["PHOTOFIND_TEST_DIR"]) / "data", log_dir=Path(os.environ["PHOTOFIND_TEST_DIR"]) / "data" / "logs"), catch_uncaught=True)
        def worker():
            raise ValueError("thread boom")
        t = threading.Thread(target=worker, name="worker-1")
        t.start(); t.join()
        raise RuntimeError("main boom")
        """,
        tmp_path,
    )
    assert proc.returncode == 1
    # The console shows each traceback once, as Python always did.
    assert proc.stderr.count("RuntimeError: main boom") == 1
    assert proc.stderr.count("ValueError: thread boom") == 1
    text = (tmp_path / "data" / "logs" / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert "CRITICAL photofind.uncaught: Uncaught exception in thread worker-1" in text
    assert "ValueError: thread boom" in text
    assert "CRITICAL photofind.uncaught: Uncaught exception\n" in text
    assert "RuntimeError: main boom" in text


def test_where_the_log_dir_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_LOG_DIR, raising=False)
    monkeypatch.delenv(ENV_DATA_DIR, raising=False)
    assert get_paths().logs_dir == Path(platformdirs.user_log_dir("photofind", appauthor=False))
    user_logs = Path(platformdirs.user_log_dir("photofind", appauthor=False))
    assert get_paths(tmp_path / "d").logs_dir == user_logs  # --data-dir: not inside it
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "e"))
    assert get_paths().logs_dir == user_logs
    monkeypatch.setenv(ENV_LOG_DIR, str(tmp_path / "l"))
    assert get_paths().log_file == tmp_path / "l" / LOG_FILE_NAME
    assert get_paths(tmp_path / "d").logs_dir == tmp_path / "l"
    assert Paths(tmp_path / "p").logs_dir == tmp_path / "l"
    Paths(tmp_path / "p").ensure()
    assert not (tmp_path / "p" / "logs").exists()  # made by the logging, never a reason to fail


def test_help_menu_opens_the_log_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("PySide6")
    from PySide6.QtWidgets import QApplication, QMenu

    from photofind.gui import help_menu

    app = QApplication.instance() or QApplication([])  # noqa: F841 - needed for QMenu
    opened: list[str] = []
    monkeypatch.setattr(
        help_menu.QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url.toLocalFile()) or True)
    )
    menu = QMenu()
    action = help_menu.add_log_folder_action(menu, tmp_path / "logs")
    assert action in menu.actions() and "log folder" in action.text().replace("&", "")
    action.trigger()
    expected = help_menu.log_folder(tmp_path / "logs")
    assert opened == [str(expected)] and expected.is_dir()
