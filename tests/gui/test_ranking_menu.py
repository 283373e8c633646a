"""Search > Ranking: stages switch on and off, the choice is remembered and re-ranks at once;
and a library large enough for the default ranking's learned space, searched through the window."""

from __future__ import annotations

from pathlib import Path

from photofind.core.search.ranking import RankingSettings
from tests.gui.helpers import TIMEOUT_MS, drop, file_mime, search_done


def test_defaults_are_checked_and_a_choice_is_remembered(make_window, settings) -> None:
    window = make_window()
    actions = window.ranking_menu.stage_actions
    assert {f: a.isChecked() for f, a in actions.items()} == {
        "pca": True, "dba": True, "query_expansion": True, "diffusion": False, "rotations": True,
        "edit_copies": True,
    }
    assert window.results.ranking == RankingSettings()

    actions["query_expansion"].setChecked(False)
    actions["diffusion"].setChecked(True)
    assert not window.results.ranking.query_expansion and window.results.ranking.diffusion
    assert window.library.ranking == window.results.ranking  # index runs keep the same space
    window.shutdown()

    again = make_window()  # same QSettings: a later session
    assert not again.ranking_menu.stage_actions["query_expansion"].isChecked()
    assert again.ranking_menu.stage_actions["diffusion"].isChecked()
    assert again.results.ranking == RankingSettings(query_expansion=False, diffusion=True)


def test_sideways_and_edited_copy_searches_switch_off_from_the_menu(make_window, settings) -> None:
    """Search > Ranking > Find sideways copies / Find the original of an edited copy: each is its
    own switch, remembered like the stages."""
    window = make_window()
    actions = window.ranking_menu.stage_actions
    actions["edit_copies"].setChecked(False)
    assert not window.results.ranking.edit_copies and window.results.ranking.rotations
    actions["rotations"].setChecked(False)
    assert window.results.ranking == RankingSettings(edit_copies=False, rotations=False)
    window.shutdown()
    again = make_window()
    assert again.results.ranking == RankingSettings(edit_copies=False, rotations=False)
    again.ranking_menu.default_action.trigger()
    assert again.results.ranking == RankingSettings()
    assert again.ranking_menu.stage_actions["edit_copies"].isChecked()


def _rerun_shown(window, qtbot) -> list[str]:  # type: ignore[no-untyped-def]
    """Wait for the query shown to be answered again; the paths of the new answer."""
    answers: list[int] = []
    window.results.model.modelReset.connect(lambda: answers.append(1))
    qtbot.waitUntil(lambda: bool(answers) and search_done(window), timeout=TIMEOUT_MS)
    return [i.path for i in window.results.model.items()]


def test_plain_cosine_reranks_the_shown_results(make_window, qtbot, photo_dir: Path) -> None:
    window = make_window()
    query = photo_dir / "705.jpg"
    drop(window.query_panel, file_mime(query))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    before = [Path(i.path) for i in window.results.model.items()]

    window.ranking_menu.plain_action.trigger()
    assert window.results.ranking == RankingSettings.plain()
    assert not any(a.isChecked() for a in window.ranking_menu.stage_actions.values())
    # the current query runs again with the new ranking
    shown = [Path(p) for p in _rerun_shown(window, qtbot)]
    expected = window.library.searcher(RankingSettings.plain()).search_image(query, k=len(shown))
    assert shown == [Path(h.path) for h in expected]
    assert shown[0] == query
    assert shown != before  # for this horse, query expansion changes the order (705 then 700)


def test_default_ranking_on_a_library_large_enough_for_its_space(
    qtbot, ranked_library, settings
) -> None:
    """``min_photos`` or more photos: the index job builds the ranking space and the window's
    searches rank in it (every default stage on), then plain cosine when switched off."""
    from photofind.gui.main_window import MainWindow

    lib = ranked_library
    searcher = lib.searcher(RankingSettings())
    assert searcher.current_space() is not None  # the space exists: the default ranking is on
    window = MainWindow(lib, settings, watch=False, rescan_on_start=False)
    qtbot.addWidget(window)
    window.show()
    try:
        model = window.results.model
        qtbot.waitUntil(lambda: model.rowCount() == 200, timeout=TIMEOUT_MS)  # first browse page
        qtbot.waitUntil(lambda: "240 photos" in window.status.library_label.text(), timeout=TIMEOUT_MS)
        query = Path(model.item(7).path)
        drop(window.query_panel, file_mime(query))
        qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
        ranked = [i.path for i in model.items()]
        assert Path(ranked[0]) == query
        assert ranked == [h.path for h in searcher.search_image(str(query), k=len(ranked))]

        window.ranking_menu.plain_action.trigger()
        plain = _rerun_shown(window, qtbot)
        assert Path(plain[0]) == query
        expected = lib.searcher(RankingSettings.plain()).search_image(str(query), k=len(plain))
        assert plain == [h.path for h in expected]
    finally:
        window.shutdown()
