"""The 'Verdict stability' section of report.html (the evidence itself is made by
:mod:`veriscope.pipeline.stability`)."""

from __future__ import annotations

from html import escape

from veriscope.core.evidence import Evidence


def html_section(ev: Evidence) -> str:
    """The 'Verdict stability' section of report.html."""
    d = ev.data or {}
    rows = d.get("variants") or []
    if not rows:
        return ""
    orig = d.get("original", {})
    trs = []
    for r in rows:
        if r.get("error"):
            trs.append(f"<tr><td><code>{escape(r['perturbation'])}</code></td>"
                       f"<td>{escape(r.get('description', ''))}</td><td colspan='3'>could not be "
                       f"analysed: {escape(r['error'])}</td></tr>")
            continue
        score = "n/a" if r["score"] is None else f"{r['score']:.2f}"
        changed = ", ".join(f"{escape(k)}: {escape(v['from'])} &rarr; {escape(v['to'])}"
                            for k, v in (r.get("changed_detectors") or {}).items()) or "-"
        flag = "<b>changed</b>" if r["flipped"] else "same"
        trs.append(f"<tr><td><code>{escape(r['perturbation'])}</code></td>"
                   f"<td>{escape(r.get('description', ''))}</td>"
                   f"<td>{escape(str(r['label']))} ({score}) &middot; {flag}</td>"
                   f"<td>{escape(str(r.get('signal_label')))}</td><td><small>{changed}</small></td></tr>")
    rate = d.get("flip_rate")
    srate = d.get("signal_flip_rate")
    summary = (f"Original verdict: <b>{escape(str(orig.get('label')))}</b>. Flip rate "
               f"{'n/a' if rate is None else f'{rate:.0%}'} over {d.get('n_done', 0)} re-encoded "
               f"variants; without the provenance detectors "
               f"({escape(', '.join(d.get('provenance_detectors', [])))}): "
               f"{'n/a' if srate is None else f'{srate:.0%}'}.")
    return ("<section><h2>Verdict stability</h2><p>" + summary + "</p><p class='hint'>Each variant "
            "is the decoded image re-encoded the way shared media often is, then analysed again "
            "with the same detectors. Re-encoding strips metadata and Content Credentials, so "
            "provenance detectors legitimately change; a verdict that flips under pixel-level "
            "changes rests on fragile evidence.</p><table class='grid'><tr><th>variant</th>"
            "<th>what</th><th>verdict</th><th>verdict without provenance detectors</th>"
            "<th>detectors that changed</th></tr>" + "".join(trs) + "</table></section>")
