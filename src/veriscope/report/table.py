"""The terminal summary of an analysis: one row per input (``veriscope analyze``, the demo)."""

from __future__ import annotations

from pathlib import Path


def print_table(rows, with_paths: bool) -> None:
    """One line per analysed file on the terminal: file, verdict, evidence band, score, the main
    reason and (``with_paths``) where its report.html was written. ``rows``: (input path,
    :class:`~veriscope.report.Report`, report folder) tuples."""
    from rich.console import Console
    from rich.table import Table

    t = Table(title="veriscope", show_lines=False)
    t.add_column("file")
    t.add_column("verdict")
    t.add_column("evidence")
    t.add_column("score", justify="right")
    t.add_column("main reason", overflow="fold")
    posts = any(getattr(rep, "post", None) for _p, rep, _d in rows)
    if posts:  # inputs with a caption: does it fit the picture (docs/posts.md)
        t.add_column("caption", overflow="fold")
    if with_paths:
        t.add_column("report", overflow="fold")
    for p, rep, dest in rows:
        v = rep.verdict
        reason = v.headline or (v.drivers[0]["message"] if v.drivers else "")
        if len(reason) > 130:
            reason = reason[:127].rstrip() + "..."
        score = "" if v.score is None else f"{v.score:.2f}"
        cells = [p.name, v.label, v.band.replace("_", " "), score, reason]
        if posts:
            post = getattr(rep, "post", None)
            cells.append(post["label"] if post else "")
        if with_paths:
            rp = dest / "report.html"
            try:
                rp = rp.resolve().relative_to(Path.cwd())
            except ValueError:
                pass
            cells.append(str(rp))
        t.add_row(*cells)
    Console(soft_wrap=False, width=max(100, Console().width)).print(t)
