"""Library > Find duplicates: groups found in the background, the keeper changed by the user, the
others moved to a (test) trash only after the confirmation."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

import photofind.core.library as library_module
from tests.gui.helpers import TIMEOUT_MS


def test_find_duplicates_change_the_keeper_and_trash_the_others(
    qtbot, make_window, library, corel_dir: Path, tmp_path: Path, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    folder = tmp_path / "dups"
    folder.mkdir()
    for name in ("50.jpg", "150.jpg", "750.jpg"):
        shutil.copy2(corel_dir / "images" / name, folder / name)
    with Image.open(folder / "750.jpg") as im:
        im.save(folder / "750_copy.jpg", quality=80)  # same size, smaller file
    library.add_folder(folder)
    library.run_index()

    moved: list[str] = []
    bin_dir = tmp_path / "test-trash"
    bin_dir.mkdir()

    def fake_trash(path: str) -> None:
        shutil.move(path, bin_dir / Path(path).name)
        moved.append(Path(path).name)

    library.trash = fake_trash
    monkeypatch.setattr(library_module, "default_trash", None)  # the real trash is never reached

    window = make_window()
    window.menu_actions["Find duplicates"].trigger()
    view = window.duplicates_view
    qtbot.waitUntil(lambda: view.progress.isHidden(), timeout=TIMEOUT_MS)
    ours = [i for i, g in enumerate(view.groups) if Path(g.keep.path).parent == folder]
    assert len(ours) == 1
    group = view.groups[ours[0]]
    assert {Path(p.path).name for p in group.photos} == {"750.jpg", "750_copy.jpg"}
    assert Path(group.keep.path).name == "750.jpg"  # same resolution, larger file

    copy_id = next(p.photo_id for p in group.photos if p.path.endswith("750_copy.jpg"))
    view.set_keeper(ours[0], copy_id)
    view.groups = [group]  # act on this group only
    view.keepers = {0: copy_id}

    asked: list[str] = []
    view.ask = lambda question, listing: asked.append(listing) or False  # type: ignore[method-assign]
    view.confirm_trash()
    assert moved == [] and asked == [str(folder / "750.jpg")]  # cancelled: nothing moved

    told: list[str] = []
    view.ask = lambda question, listing: True  # type: ignore[method-assign]
    view.tell = lambda title, text: told.append(text)  # type: ignore[method-assign]
    view.confirm_trash()
    qtbot.waitUntil(lambda: bool(told), timeout=TIMEOUT_MS)
    assert moved == ["750.jpg"] and "Moved 1 photos" in told[0], told
    assert (folder / "750_copy.jpg").exists() and not (folder / "750.jpg").exists()
    assert library.repo.photo_by_path(str(folder / "750.jpg")) is None
    qtbot.waitUntil(lambda: view.progress.isHidden(), timeout=TIMEOUT_MS)
    assert all(Path(g.keep.path).parent != folder for g in view.groups)


def test_groups_are_shown_a_bounded_number_of_rows_at_a_time(qtbot, make_window, corel_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """A library of big burst groups must not put thousands of rows (each a widget item with a
    thumbnail) in the tree at once: a page holds about PAGE_ROWS photos, at least one group."""
    from photofind.core.search.duplicates import DuplicateGroup, DuplicatePhoto
    from photofind.gui.duplicates.view import PAGE_ROWS, DuplicatesView

    photo = str(corel_dir / "images" / "150.jpg")

    def group(start: int, n: int) -> DuplicateGroup:
        return DuplicateGroup(tuple(
            DuplicatePhoto(start + i, photo, 384, 256, 1000, 0, None, 1.0) for i in range(n)
        ))

    window = make_window()
    view = DuplicatesView(window.library, window.jobs, window, filters=window.filters)
    qtbot.addWidget(view)
    bursts = [group(1000 * g, 150) for g in range(5)] + [group(10_000 + 10 * g, 2) for g in range(300)]
    view._found(bursts)
    assert view.shown == 1 and view.tree.topLevelItemCount() == 1  # 150 rows; a second group is too many
    assert view.more.isVisibleTo(view)
    for _ in range(3):
        view.more.click()
    assert view.shown == 4
    view.more.click()  # the last burst, then as many pairs as fit beside it
    assert view.shown == 5 + (PAGE_ROWS - 150) // 2
    view.more.click()  # pairs only
    assert view.shown == 5 + (PAGE_ROWS - 150) // 2 + PAGE_ROWS // 2
    rows = sum(view.tree.topLevelItem(i).childCount() for i in range(view.tree.topLevelItemCount()))
    assert rows == 5 * 150 + (PAGE_ROWS - 150) + PAGE_ROWS
