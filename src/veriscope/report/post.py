"""The HTML section of a post: the caption with its contradicted words marked, each linked to
the fact that contradicts it, and the table of claims (docs/posts.md)."""

from __future__ import annotations

from html import escape

_COLOURS = {"contradicted": "#c0392b", "consistent": "#2e7d32", "unchecked": "#777",
            "inconclusive": "#b26a00"}


def post_section(post: dict, rgb=None) -> str:
    """``<section>`` for the report's ``post`` object (its JSON form); ``rgb``: the picture, to
    show the region a claim rests on (text read in it) next to the claim."""
    caption = post["caption"]
    claims = post["claims"]
    marks = sorted(((c["start"], c["end"], i, c["status"]) for i, c in enumerate(claims)
                    if c["source"] == "caption" and c["start"] is not None),
                   key=lambda m: (m[0], -m[1]))
    out, pos = [], 0
    for a, b, i, status in marks:
        if a < pos:
            continue  # overlapping claims: the first one is marked
        out.append(escape(caption[pos:a]))
        cls = f"claim-{status}"
        title = f"{status}: {_why(claims[i])}"
        out.append(f"<a class='{cls}' href='#post-claim-{i}' title='{escape(title)}' "
                   f"style='color:{_COLOURS[status]};"
                   f"{'font-weight:bold;background:#fdecea;' if status == 'contradicted' else ''}"
                   f"text-decoration:underline'>{escape(caption[a:b])}</a>")
        pos = b
    out.append(escape(caption[pos:]))
    colour = _COLOURS.get(post["label"], "#555")
    rows = []
    for i, c in enumerate(claims):
        checks = "<br>".join(
            f"<b>{escape(ch['detector'])}</b>: {escape(ch['status'])}: {escape(ch['why'])}"
            + _fact_html(ch.get("fact")) + _crop_html(rgb, ch.get("fact")) for ch in c["checks"])
        where = "caption" if c["source"] == "caption" else c["source"].replace("_", " ")
        rows.append(f"<tr id='post-claim-{i}'><td>{escape(c['kind'])}</td>"
                    f"<td>\u201c{escape(c['text'])}\u201d<br><small>{escape(where)}"
                    f"{' words ' + escape(', '.join(map(str, c['words']))) if c['words'] else ''}"
                    f"</small></td><td style='color:{_COLOURS[c['status']]}'><b>"
                    f"{escape(c['status'])}</b></td><td>{checks}</td></tr>")
    meta = " &middot; ".join(escape(f"{k}: {post[k]}") for k in ("date", "place", "source")
                             if post.get(k))
    table = ("<table class='claims'><tr><th>claim</th><th>text</th><th>status</th>"
             "<th>evidence</th></tr>" + "".join(rows) + "</table>") if rows else ""
    ops = post.get("opinions") or []
    opinions = ""
    if ops:
        items = "".join(
            f"<li>\u201c{escape(o['text'])}\u201d: <b>{escape(o['verdict'].replace('_', ' '))}</b>"
            + (f" ({escape(o['reason'])})" if o["reason"] else "")
            + (f"; region {escape(str(o['region']))}" if o["region"] else "")
            + (f"; the checks above: {escape(o['evidence_status'])}" if o["evidence_status"] else "")
            + _crop_html(rgb, {"box": o["region"]} if o["region"] else None) + "</li>" for o in ops)
        opinions = (f"<h3>Model opinions (not proof; {escape(str(ops[0].get('model')))})</h3>"
                    f"<ul class='opinions'>{items}</ul>")
    if post.get("opinion_errors"):
        opinions += ("<div class='hint'>" + escape("; ".join(post["opinion_errors"])) + "</div>")
    dgm4 = (f"<div class='hint'>DGM4 fields: fake_cls {escape(str(post['fake_cls']))}, "
            f"fake_text_pos {escape(str(post['fake_text_pos']))}, fake_image_box "
            f"{escape(str(post['fake_image_box']))}</div>")
    return (f"<section class='post'><h2>Post: does the caption fit the picture?</h2>"
            f"<div class='badge' style='background:{colour}'>{escape(post['label'])}</div>"
            f"<p>{escape(post['summary'])}</p>"
            f"<blockquote class='caption'>{''.join(out)}</blockquote>"
            + (f"<div class='hint'>{meta}</div>" if meta else "") + table + opinions + dgm4
            + "<div class='hint'>The caption is checked against what the file says about itself "
              "(capture date, GPS); these facts can be wrong or edited. The image verdict above "
              "does not depend on the caption.</div></section>")


def _why(c: dict) -> str:
    for st in ("contradicted", "consistent", "unchecked"):
        for ch in c["checks"]:
            if ch["status"] == st:
                return ch["why"]
    return ""


def _fact_html(fact) -> str:
    if not fact:
        return ""
    return ("<br><small>" + escape(", ".join(f"{k}: {v}" for k, v in fact.items())) + "</small>")


MAX_FACT_BOXES = 6
"""Face boxes of a count claim shown as crops (the others are listed in the fact's text)."""


def _crop_html(rgb, fact) -> str:
    """The region ``fact["box"]`` ([x, y, w, h]) of the picture, as an inline image; for a
    fact with ``boxes`` (the faces of a count of people), the first :data:`MAX_FACT_BOXES`."""
    if fact and isinstance(fact.get("boxes"), list) and "box" not in fact:
        return "".join(_crop_html(rgb, {"box": b}) for b in fact["boxes"][:MAX_FACT_BOXES]
                       if isinstance(b, list))
    if rgb is None or not fact or not isinstance(fact.get("box"), list) or len(fact["box"]) != 4:
        return ""
    import base64
    import io

    from PIL import Image

    x, y, w, h = (int(v) for v in fact["box"])
    H, W = rgb.shape[:2]
    x0, y0, x1, y1 = max(0, x - 4), max(0, y - 4), min(W, x + w + 4), min(H, y + h + 4)
    if x1 <= x0 or y1 <= y0:
        return ""
    im = Image.fromarray(rgb[y0:y1, x0:x1])
    im.thumbnail((360, 120))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    uri = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f"<br><img class='ocr-box' alt='region of the picture at {x},{y} ({w}x{h})' "
            f"src='data:image/png;base64,{uri}'>")
