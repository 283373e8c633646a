"""The job runner on its own (no library, no model): order, "latest wins", answers on the GUI
thread, errors, progress, and a shutdown that joins every thread and delivers nothing after."""

from __future__ import annotations

import threading

import pytest

from photofind.gui.jobs import JobRunner
from tests.gui.helpers import photo_thread_names


@pytest.fixture
def jobs(qapp):  # type: ignore[no-untyped-def]
    runner = JobRunner()
    yield runner
    runner.shutdown()


def test_one_queue_runs_jobs_in_order_off_the_gui_thread_and_answers_on_it(jobs, qtbot) -> None:
    gui = threading.get_ident()
    ran_on: list[int] = []
    answered_on: list[int] = []
    answers: list[int] = []

    def work(i: int):  # type: ignore[no-untyped-def]
        def fn(_cancel, _progress):  # type: ignore[no-untyped-def]
            ran_on.append(threading.get_ident())
            return i
        return fn

    def done(value: int) -> None:
        answered_on.append(threading.get_ident())
        answers.append(value)

    for i in range(20):
        jobs.run("q", work(i), done)
    qtbot.waitUntil(lambda: len(answers) == 20)
    assert answers == list(range(20))
    assert len(set(ran_on)) == 1 and gui not in ran_on  # one worker thread, not the GUI's
    assert set(answered_on) == {gui}
    assert "photofind-q" in photo_thread_names()


def test_latest_wins_for_a_key_other_jobs_keep_their_turn(jobs, qtbot) -> None:
    gate, started = threading.Event(), threading.Event()
    seen_cancel: list[bool] = []
    answers: list[str] = []

    def blocking(cancel, _progress):  # type: ignore[no-untyped-def]
        started.set()
        gate.wait(5)
        seen_cancel.append(cancel.is_set())
        return "first search"

    jobs.run("q", blocking, answers.append, key="search")
    assert started.wait(5)
    jobs.run("q", lambda c, p: "second search", answers.append, key="search")
    jobs.run("q", lambda c, p: "folders", answers.append)
    last = jobs.run("q", lambda c, p: "third search", answers.append, key="search")
    gate.set()
    qtbot.waitUntil(lambda: last.finished)
    qtbot.wait(50)
    # the running search was cancelled and its answer dropped; the queued one never ran
    assert seen_cancel == [True]
    assert answers == ["folders", "third search"]


def test_errors_and_progress_reach_the_gui_thread(jobs, qtbot) -> None:
    progress: list[int] = []
    errors: list[BaseException] = []

    def fn(_cancel, report):  # type: ignore[no-untyped-def]
        for i in range(3):
            report(i)
        raise ValueError("broken photo")

    job = jobs.run("q", fn, on_error=errors.append, on_progress=progress.append)
    qtbot.waitUntil(lambda: job.finished)
    assert progress == [0, 1, 2]
    assert len(errors) == 1 and str(errors[0]) == "broken photo"
    # a callback that raises is logged, and the queue goes on
    jobs.run("q", lambda c, p: 1, lambda _v: 1 / 0)
    after = jobs.run("q", lambda c, p: 2)
    qtbot.waitUntil(lambda: after.finished)


def test_shutdown_cancels_joins_and_delivers_nothing_more(qapp, qtbot) -> None:
    runner = JobRunner()
    started = threading.Event()
    answers: list[str] = []

    def long_job(cancel, _progress):  # type: ignore[no-untyped-def]
        started.set()
        cancel.wait(10)  # a cancel token, as the core's index job takes it
        return "late"

    running = runner.run("index", long_job, answers.append)
    queued = runner.run("index", lambda c, p: "never", answers.append)
    runner.run("thumbs", lambda c, p: "thumb", answers.append)
    assert started.wait(5)
    assert runner.shutdown(timeout=5)
    assert running.cancelled and queued.cancelled
    assert not photo_thread_names()
    qtbot.wait(100)
    assert "late" not in answers and "never" not in answers
    assert runner.run("query", lambda c, p: "after", answers.append).cancelled
    qtbot.wait(50)
    assert "after" not in answers
