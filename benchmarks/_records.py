"""Writing a benchmark's results into the `.md` beside it (`--record`)."""

from __future__ import annotations

from pathlib import Path


def replace_results(path: Path, script: str, title: str, text: str) -> None:
    """Put ``text`` between ``script``'s result markers in ``path`` (the rest of the file, the
    notes around the results, is kept), or write a new file headed ``title``."""
    start = f"<!-- {script} --record: results start -->"
    end = f"<!-- {script} --record: results end -->"
    block = f"{start}\n{text}\n{end}"
    old = path.read_text() if path.exists() else ""
    if start in old and end in old:
        head, rest = old.split(start, 1)
        path.write_text(head + block + rest.split(end, 1)[1])
    else:
        path.write_text(f"# {title}\n\n{block}\n")
