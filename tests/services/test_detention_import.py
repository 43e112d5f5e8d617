"""Import rules that need the database: duplicates inside a file and across files."""

from __future__ import annotations

from pathlib import Path

from bot.core import Core
from bot.services.audit import CLI
from tests.app.test_detention import write_dpan
from tests.conftest import People


def test_duplicate_bron_id_inside_one_file_is_rejected_with_the_first_line(
    core: Core, people: People, tmp_path: Path
) -> None:
    identities = [people.identity() for _ in range(4)]
    errors: list[tuple[int, list[str]]] = []
    # Row 4 (line 5) repeats the bron_id of row 1 (line 2): within one batch, then across batches.
    for batch_size in (200, 2):
        path = write_dpan(tmp_path / f"dpan{batch_size}.csv", identities)
        text = path.read_text(encoding="utf-8").replace("DJI-", f"DJI{batch_size}-")
        lines = text.splitlines()
        lines[4] = lines[4].replace(f"DJI{batch_size}-00004", f"DJI{batch_size}-00001")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        errors.clear()
        report = core.detention.import_path(
            path, actor=CLI, on_error=lambda line, reasons: errors.append((line, reasons)),
            batch_size=batch_size,
        )  # fmt: skip
        assert (report.new, report.duplicate, report.rejected) == (3, 0, 1), batch_size
        assert errors == [(5, ["bron_id staat eerder in dit bestand (regel 2)"])]
        assert identities[3].surname not in str(errors)


def test_the_same_bron_id_in_a_later_file_is_a_duplicate_not_an_error(
    core: Core, people: People, tmp_path: Path
) -> None:
    identities = [people.identity() for _ in range(3)]
    first = core.detention.import_path(write_dpan(tmp_path / "a.csv", identities), actor=CLI)
    assert first.new == 3
    errors: list[tuple[int, list[str]]] = []
    later = core.detention.import_path(
        write_dpan(tmp_path / "b.csv", identities[:2], today="2026-11-24"),
        actor=CLI,
        on_error=lambda line, reasons: errors.append((line, reasons)),
    )
    assert (later.new, later.duplicate, later.rejected) == (0, 2, 0)
    assert errors == []


def test_the_lines_of_unknown_institutions_fit_one_message() -> None:
    from bot.services.detention import line_ranges

    assert line_ranges([5, 2, 3, 4, 9, 12, 13]) == "2-5, 9, 12-13"
    many = line_ranges(list(range(2, 20_000, 2)))  # every other line of a huge file
    assert len(many) < 400 and many.endswith("…")
    assert line_ranges(list(range(2, 902))) == "2-901"
