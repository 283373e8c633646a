"""Search > Ranking: stages switch on and off, the choice is remembered and re-ranks at once."""

from __future__ import annotations

from pathlib import Path

from photofind.core.search.ranking import RankingSettings
from tests.gui.helpers import TIMEOUT_MS, drop, file_mime, search_done


def test_defaults_are_checked_and_a_choice_is_remembered(make_window, settings) -> None:
    window = make_window()
    actions = window.ranking_actions
    assert {f: a.isChecked() for f, a in actions.items()} == {
        "pca": True, "dba": True, "query_expansion": True, "diffusion": False
    }
    assert window.library.ranking == RankingSettings()

    actions["query_expansion"].setChecked(False)
    actions["diffusion"].setChecked(True)
    assert not window.library.ranking.query_expansion and window.library.ranking.diffusion
    window.shutdown()

    again = make_window()  # same QSettings: a later session
    assert not again.ranking_actions["query_expansion"].isChecked()
    assert again.ranking_actions["diffusion"].isChecked()
    assert again.library.ranking == RankingSettings(query_expansion=False, diffusion=True)


def test_plain_cosine_reranks_the_shown_results(make_window, qtbot, photo_dir: Path) -> None:
    window = make_window()
    query = photo_dir / "705.jpg"
    drop(window.query_panel, file_mime(query))
    qtbot.waitUntil(lambda: search_done(window), timeout=TIMEOUT_MS)
    shown_gen = window._gen
    before = [Path(i.path) for i in window.model.items()]

    plain_action = next(a for a in window.findChildren(type(window.ranking_actions["pca"]))
                        if a.text().startswith("Plain &cosine"))
    plain_action.trigger()
    assert window.library.ranking == RankingSettings.plain()
    assert not any(a.isChecked() for a in window.ranking_actions.values())
    # the current query runs again with the new ranking
    qtbot.waitUntil(lambda: window._gen != shown_gen and not window._searching, timeout=TIMEOUT_MS)
    shown = [Path(i.path) for i in window.model.items()]
    expected = window.library.searcher(RankingSettings.plain()).search_image(query, k=len(shown))
    assert shown == [Path(h.path) for h in expected]
    assert shown[0] == query
    assert shown != before  # for this horse, query expansion changes the order (705 then 700)
