"""Every media file under a folder, analysed once, resumable: ``veriscope scan DIR --out OUT``.

Steps: :func:`find_media` walks DIR (sorted; hidden names, symlinked folders, links that leave
DIR, OUT itself and files that are not media are left out), :class:`Scan` hashes each file
(SHA-256, streamed), plans (already done, duplicate, to analyse), analyses what is left with
:func:`veriscope.pipeline.batch.analyze_one` (here or through an engine of
:mod:`veriscope.pipeline.engine`) and writes ``summary.csv``. Layout of OUT::

    scan-index.jsonl   one JSON line per outcome, appended, flushed and synced file by file
    summary.csv        one row per file of the last scanned DIR, rebuilt from the index
    <path in DIR>/     the report folder of DIR/<path in DIR>: report.json, report.html, maps/
    .scan-tmp/         report folders being written; each is renamed into place when complete
    .scan.lock         held while a scan runs (a second scan into the same OUT is refused)

A ``*.post.json`` file (docs/posts.md) is analysed as a post: its picture with its caption, in
the post's report folder; its content key is the SHA-256 of the post file and of its picture's
SHA-256. A picture that a post of DIR names is not analysed again on its own (summary status
``in-post``, pointing to the post's folder); a post whose picture is missing or lies outside DIR
fails with one line.

The index maps content (SHA-256) to its outcome: a file whose content is done is not analysed
again, wherever it now lies (a moved, renamed or copied file is a ``skipped-duplicate`` of the
first folder); failures are retried. A run that is killed loses at most the files in progress:
their half-written folders are in ``.scan-tmp`` (removed by the next run), a complete folder
whose index line was not written yet is adopted by the next run after checking the SHA-256
in its report.json, and a torn last index line is cut off. The index does not record the
settings (detectors, limits): a scan with other settings needs another OUT.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from veriscope.core.errors import VeriscopeError
from veriscope.core.media import DEFAULT_MAX_PIXELS, MEDIA_EXTENSIONS, file_sha256, sniff_format
from veriscope.core.post import PostError, is_post_file, load_post_file
from veriscope.detectors.base import Context

INDEX_NAME = "scan-index.jsonl"
SUMMARY_NAME = "summary.csv"
TMP_NAME = ".scan-tmp"
LOCK_NAME = ".scan.lock"
INDEX_SCHEMA = "veriscope.scan-index/1"
SUMMARY_COLUMNS = ("path", "sha256", "size", "status", "label", "score", "band", "basis",
                   "report_folder", "error")
DONE, FAILED, DUPLICATE = "done", "failed", "skipped-duplicate"
IN_POST = "in-post"
"""Summary status of a picture that a ``*.post.json`` of the scan names: it is analysed with
that post's caption, in the post's report folder, not a second time on its own."""
_RESERVED = {INDEX_NAME.casefold(), SUMMARY_NAME.casefold()}


class ScanError(VeriscopeError):
    """The scan cannot start (no such folder, nothing to scan, OUT in the way, OUT busy)."""


# ------------------------------------------------------------------ finding the files
@dataclass
class Item:
    """One file of DIR and what this run does with it.

    ``action``: ``analyse``; ``done`` (this content was analysed at this path before);
    ``duplicate`` (this content was analysed under another path, ``dup_of``, in an earlier
    run or earlier in this one); ``recover`` (a complete report folder of this content was
    left by an interrupted run); ``unreadable`` (could not be hashed, ``error``)."""

    rel: str
    path: Path
    size: int
    sha256: str | None = None
    error: str | None = None
    action: str = ""
    folder: str | None = None
    dup_of: str | None = None
    post_image: str | None = None
    """For a ``*.post.json`` file: the picture it names, relative to DIR."""


def _is_media(path: Path) -> bool:
    """A media file by its extension or, failing that, by its first bytes."""
    if path.suffix.lower() in MEDIA_EXTENSIONS:
        return True
    try:
        with open(path, "rb") as fh:
            return sniff_format(fh.read(64)) is not None
    except OSError:
        return False


def find_media(root: Path, *, skip: Path | None = None) -> tuple[list[Item], int]:
    """The media files under ``root`` sorted by relative path, and how many other files were
    left out. Hidden files and folders (``.name``) are left out, and so are ``skip`` (the
    output folder), symlinked folders (what they point to inside ``root`` is scanned at its
    own place), symlinks to files outside ``root``, broken links and anything that is not a
    regular file."""
    root = Path(os.path.abspath(root))
    real_root = root.resolve()
    real_skip = skip.resolve() if skip is not None else None
    found: list[Item] = []
    ignored = 0
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            p = here / d
            if d.startswith(".") or p.is_symlink():
                continue
            if real_skip is not None and p.resolve() == real_skip:
                continue
            keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            if f.startswith("."):
                continue
            p = here / f
            try:
                if p.is_symlink():
                    target = p.resolve()
                    if not target.is_relative_to(real_root) or (
                            real_skip is not None and target.is_relative_to(real_skip)):
                        continue
                st = p.stat()
            except (OSError, RuntimeError):  # broken link, link loop, vanished
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if not (_is_media(p) or is_post_file(p)):
                ignored += 1
                continue
            found.append(Item(p.relative_to(root).as_posix(), p, st.st_size))
    found.sort(key=lambda it: it.rel)
    return found, ignored


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"\\|?*\ufffd]')
_WINDOWS_NAMES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                  *(f"lpt{i}" for i in range(1, 10))}


def safe_name(name: str) -> str:
    """A file or folder name that every common filesystem accepts: control and reserved
    characters and undecodable bytes become ``_``, never hidden, at most about 200 bytes."""
    s = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    s = _UNSAFE.sub("_", s).rstrip(" .")
    if not s:
        s = "_"
    if s.startswith("."):
        s = "_" + s[1:]
    if s.split(".")[0].casefold() in _WINDOWS_NAMES:
        s = "_" + s
    if len(s.encode("utf-8")) > 200:
        digest = hashlib.sha256(s.encode("utf-8")).hexdigest()[:10]
        stem, dot, ext = s.rpartition(".")
        if not dot or len(ext) > 10:
            stem, ext = s, ""
        else:
            ext = "." + ext
        s = stem.encode("utf-8")[:150].decode("utf-8", "ignore") + "~" + digest + ext
    return s


def safe_rel(rel: str) -> str:
    return "/".join(safe_name(part) for part in rel.split("/"))


# ------------------------------------------------------------------ the index
def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class Index:
    """``OUT/scan-index.jsonl``: one JSON object a line, appended; the last line about a
    content (``done``/``failed``) or a path (``skipped-duplicate``) wins."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.by_sha: dict[str, dict] = {}
        self.by_path: dict[str, dict] = {}
        self.bad_lines = 0
        self._fh = None

    def load(self) -> None:
        if self.path.exists():
            data = self.path.read_bytes()
            cut = data.rfind(b"\n") + 1
            if cut < len(data):  # a torn last line (killed while writing it): cut it off
                with open(self.path, "r+b") as fh:
                    fh.truncate(cut)
                data = data[:cut]
            for line in data.decode("utf-8", "surrogateescape").split("\n"):
                if not line.strip():
                    continue
                try:
                    e = json.loads(line)
                except ValueError:
                    self.bad_lines += 1
                    continue
                if not isinstance(e, dict):
                    self.bad_lines += 1
                elif "schema" in e:
                    if e["schema"] != INDEX_SCHEMA:
                        raise ScanError(f"{self.path}: written as {e['schema']!r}, this version "
                                        f"reads {INDEX_SCHEMA!r}; scan into another --out")
                else:
                    self._note(e)
        # surrogateescape: file names that are not UTF-8 round-trip byte for byte
        self._fh = open(self.path, "a", encoding="utf-8", errors="surrogateescape")
        if self._fh.tell() == 0:
            self.append({"schema": INDEX_SCHEMA, "created": _now()})

    def _note(self, e: dict) -> None:
        if e.get("status") in (DONE, FAILED) and e.get("sha256"):
            self.by_sha[e["sha256"]] = e
        if e.get("path"):
            self.by_path[e["path"]] = e

    def append(self, e: dict) -> None:
        self._fh.write(json.dumps(e, ensure_ascii=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        if "schema" not in e:
            self._note(e)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# ------------------------------------------------------------------ the worker
@dataclass
class Task:
    """What a worker needs for one file (picklable: detector classes travel by reference)."""

    path: str
    sha256: str
    folder: str
    tmp: str
    classes: tuple
    ctx_kw: dict
    max_pixels: int = DEFAULT_MAX_PIXELS
    html: bool = True
    progress: Callable | None = field(default=None, repr=False)  # in-process runs only


@dataclass
class Result:
    """What became of one :class:`Task` (small: the report itself stays on disk)."""

    sha256: str
    ok: bool
    label: str | None = None
    score: float | None = None
    band: str | None = None
    basis: str | None = None
    error: str | None = None
    internal: bool = False
    trace: str | None = None


def scan_one(task: Task) -> Result:
    """Analyse one file into ``task.tmp``, then rename that folder to ``task.folder`` (which
    is replaced if an interrupted run left one there). Never raises for bad input."""
    from veriscope.pipeline.batch import Job, analyze_one

    tmp = Path(task.tmp)
    if tmp.exists():
        shutil.rmtree(tmp)
    ctx = Context(**task.ctx_kw, progress=task.progress)
    out = analyze_one(Job(Path(task.path), tmp, html=task.html), task.classes, ctx,
                      max_pixels=task.max_pixels)
    return finish_one(task, out)


def finish_one(task: Task, out) -> Result:
    """The :class:`Result` of one analysed task: its report folder moved from ``task.tmp`` to
    ``task.folder`` when it succeeded, removed when it failed."""
    tmp, final = Path(task.tmp), Path(task.folder)
    if not out.ok:
        shutil.rmtree(tmp, ignore_errors=True)
        return Result(task.sha256, False, error=out.error, internal=out.internal, trace=out.trace)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.is_dir():
            shutil.rmtree(final)
        os.rename(tmp, final)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        return Result(task.sha256, False, error=f"{task.path}: cannot write its report folder "
                      f"{final} ({e.strerror or e})")
    v = out.verdict
    return Result(task.sha256, True, label=v.label, score=v.score, band=v.band, basis=v.basis)


# ------------------------------------------------------------------ the scan
@dataclass
class Counts:
    analysed: int = 0
    skipped: int = 0
    failed: int = 0


class Scan:
    """One scan of ``root`` into ``out``. Use as a context manager (it holds ``OUT/.scan.lock``
    and the index open)::

        with Scan(root, out, classes, ctx=Context(...)) as sc:
            items = sc.hash(sc.files)
            sc.plan(items)
            for item, res in sc.run(items):
                ...
            counts = sc.finish(items)      # writes summary.csv
    """

    def __init__(self, root, out, classes: Sequence, *, ctx: Context | None = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS, html: bool = True):
        self.root = Path(os.path.abspath(root))
        self.out = Path(os.path.abspath(out))
        if not self.root.exists():
            raise ScanError(f"{root}: no such folder")
        if not self.root.is_dir():
            raise ScanError(f"{root}: is not a folder")
        real_root, real_out = self.root.resolve(), self.out.resolve()
        if real_out == real_root:
            raise ScanError(f"--out {out} is the folder being scanned; give another folder")
        if real_root.is_relative_to(real_out):
            raise ScanError(f"{root} lies inside --out {out}; give an output folder outside it")
        self.out_inside_root = real_out.is_relative_to(real_root)
        self.files, self.ignored = find_media(self.root, skip=self.out)
        if not self.files:
            raise ScanError(f"{root}: no media files found" + (
                f" ({self.ignored} other files left out)" if self.ignored else " (empty folder)"))
        self.classes = tuple(classes)
        ctx = ctx or Context()
        self.ctx_kw = {"timeout_s": ctx.timeout_s, "options": ctx.options, "video": ctx.video}
        self.max_pixels, self.html = max_pixels, html
        self.index = Index(self.out / INDEX_NAME)
        self._lock = None
        self._claims: dict[str, str] = {}
        self._ancestors: set[str] = set()

    # -- lock and index
    def __enter__(self) -> Scan:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ScanError(f"--out {self.out}: cannot create it ({e.strerror or e})") from None
        if not self.out.is_dir():
            raise ScanError(f"--out {self.out}: is not a folder")
        self._lock = open(self.out / LOCK_NAME, "a")
        try:
            import fcntl

            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - no flock (Windows): no guard
            pass
        except OSError:
            self._lock.close()
            self._lock = None
            raise ScanError(f"--out {self.out}: another scan is writing there") from None
        try:
            self.index.load()
        except BaseException:
            self.close()
            raise
        shutil.rmtree(self.out / TMP_NAME, ignore_errors=True)  # left by an interrupted run
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.index.close()
        if self._lock is not None:
            self._lock.close()  # releases the lock
            self._lock = None

    # -- hash and plan
    def hash(self, items: list[Item], on_file: Callable[[Item], None] | None = None) -> list[Item]:
        """Set each item's SHA-256 (streamed), or its error when it cannot be read."""
        for it in items:
            try:
                it.sha256 = (self._post_sha(it) if is_post_file(it.path)
                             else file_sha256(it.path))
            except OSError as e:
                it.error = f"{it.path}: cannot be read ({e.strerror or e})"
                it.action = "unreadable"
            except PostError as e:
                it.error = str(e)
                it.action = "unreadable"
            if on_file is not None:
                on_file(it)
        return items

    def _post_sha(self, it: Item) -> str:
        """The content key of a post: SHA-256 over the post file and its picture's SHA-256 (a
        change to either is a new content). Sets ``it.post_image``; a post whose picture is
        missing or lies outside DIR is a :class:`PostError`."""
        image, _ = load_post_file(it.path)
        real = Path(os.path.abspath(image)).resolve()
        if not real.is_relative_to(self.root.resolve()):
            raise PostError(f"{it.path}: the picture it names ({image}) lies outside the scanned "
                            "folder; scan a folder that holds both")
        if not real.is_file():
            raise PostError(f"{it.path}: the picture it names ({image}) does not exist")
        h = hashlib.sha256(b"veriscope.post\0")
        h.update(it.path.read_bytes())
        h.update(b"\0" + file_sha256(real).encode())
        try:
            it.post_image = Path(os.path.abspath(image)).relative_to(self.root).as_posix()
        except ValueError:  # reached through a link inside DIR
            it.post_image = real.relative_to(self.root.resolve()).as_posix()
        return h.hexdigest()

    def plan(self, items: list[Item]) -> list[Item]:
        """Decide each item's action and report folder (relative to OUT), in path order:
        the folders do not depend on how many workers run."""
        self._claims = {}
        self._ancestors = set()
        for sha, e in self.index.by_sha.items():
            if e.get("status") == DONE and e.get("folder"):
                self._claim(e["folder"], sha)
        first: dict[str, Item] = {}
        in_posts: dict[str, Item] = {}
        for it in items:
            if it.post_image is not None and it.sha256 is not None:
                in_posts.setdefault(it.post_image, it)
        for it in items:
            if it.sha256 is None:
                continue
            if it.rel in in_posts and not is_post_file(it.path):
                it.action, it.dup_of = IN_POST, in_posts[it.rel].rel
                continue
            prev = self.index.by_sha.get(it.sha256)
            if (prev is not None and prev.get("status") == DONE and prev.get("folder")
                    and (self.out / prev["folder"] / "report.json").is_file()):
                it.folder = prev["folder"]
                if prev.get("path") == it.rel:
                    it.action = "done"
                else:
                    it.action, it.dup_of = "duplicate", prev.get("path")
                continue
            if it.sha256 in first:
                src = first[it.sha256]
                it.action, it.folder, it.dup_of = "duplicate", src.folder, src.rel
                continue
            first[it.sha256] = it
            it.folder, it.action = self._allocate(it.rel, it.sha256)
        return items

    def _claim(self, folder: str, sha: str) -> None:
        key = folder.casefold()
        self._claims[key] = sha
        parts = key.split("/")
        for i in range(1, len(parts)):
            self._ancestors.add("/".join(parts[:i]))

    def _allocate(self, rel: str, sha: str) -> tuple[str, str]:
        """A folder for a new analysis: ``safe_rel(rel)``, or ``-2``, ``-3``... when another
        content holds that name, when a file or a foreign folder is there, or when it is a
        reserved name. Returns the folder and ``analyse`` or ``recover``."""
        base = safe_rel(rel)
        cand, i = base, 1
        while True:
            key = cand.casefold()
            owner = self._claims.get(key)
            if (owner in (None, sha) and key not in self._ancestors and key not in _RESERVED):
                state = self._on_disk(cand, sha)
                if state is not None:
                    self._claim(cand, sha)
                    return cand, state
            i += 1
            cand = f"{base}-{i}"

    def _on_disk(self, folder: str, sha: str) -> str | None:
        """``analyse`` when the folder is free or an orphan report folder (replaced),
        ``recover`` when it is a complete report folder of this very content, None when
        something else is there."""
        p = self.out / folder
        if not p.exists() and not p.is_symlink():
            return "analyse"
        if p.is_symlink() or not p.is_dir():
            return None
        rj = p / "report.json"
        if not rj.is_file():
            return None
        try:
            media = json.loads(rj.read_text(encoding="utf-8")).get("media") or {}
        except (OSError, ValueError, AttributeError):
            return "analyse"
        return "recover" if media.get("sha256") == sha else "analyse"

    # -- run
    def tasks(self, items: list[Item]) -> list[tuple[Item, Task]]:
        tmp = self.out / TMP_NAME
        return [(it, Task(str(it.path), it.sha256, str(self.out / it.folder), str(tmp / it.sha256),
                          self.classes, self.ctx_kw, self.max_pixels, self.html))
                for it in items if it.action == "analyse"]

    def run(self, items: list[Item], *, engine=None,
            on_start: Callable[[int, Item, Task], None] | None = None,
            contain: tuple | None = None) -> Iterator[tuple[Item, Result]]:
        """Analyse the items planned ``analyse`` and yield ``(item, result)`` in path order,
        each written to the index before it is yielded. ``engine``: None runs them here, one
        after the other (``on_start(i, item, task)`` comes before each; it may set
        ``task.progress``); else an engine of :mod:`veriscope.pipeline.engine`.
        ``contain`` = (workers, :class:`~veriscope.pipeline.contain.Limits`), without an
        engine: in that many watched worker processes (:mod:`veriscope.pipeline.contain`);
        ``on_start`` is called as each starts, ``task.progress`` hears its progress."""
        for it in items:
            if it.action == "recover":
                self._recover(it)
        work = self.tasks(items)
        if work:
            (self.out / TMP_NAME).mkdir(parents=True, exist_ok=True)
        if engine is None and contain is not None and work:
            yield from self._run_contained(work, on_start, *contain)
        elif engine is None:
            for i, (it, task) in enumerate(work):
                if on_start is not None:
                    on_start(i, it, task)
                res = scan_one(task)
                self._record(it, res)
                yield it, res
        else:
            results = engine.map(scan_one, [t for _, t in work])
            for (it, _), res in zip(work, results, strict=True):
                self._record(it, res)
                yield it, res
        shutil.rmtree(self.out / TMP_NAME, ignore_errors=True)
        for it in items:
            if it.action == "duplicate":
                self._record_duplicate(it)
            elif it.action == "unreadable":
                self.index.append({"sha256": None, "path": it.rel, "size": it.size,
                                   "status": FAILED, "folder": None, "error": it.error,
                                   "at": _now()})

    def _run_contained(self, work: list, on_start, workers: int, limits):
        from veriscope.pipeline.batch import Job
        from veriscope.pipeline.contain import ContainedRunner

        current: dict = {}

        def progress(what: str, done: float, total: float) -> None:
            task = current.get("task")
            if task is not None and task.progress is not None:
                task.progress(what, done, total)

        def started(i: int, job) -> None:
            it, task = work[i]
            current["task"] = task
            if on_start is not None:
                on_start(i, it, task)

        jobs = []
        for _, task in work:
            if Path(task.tmp).exists():
                shutil.rmtree(task.tmp)
            jobs.append(Job(Path(task.path), Path(task.tmp), html=task.html))
        runner = ContainedRunner(self.classes, Context(**self.ctx_kw, progress=progress),
                                 workers=workers, max_pixels=self.max_pixels, limits=limits)
        for (it, task), out in zip(work, runner.run(jobs, on_start=started), strict=True):
            res = finish_one(task, out)
            self._record(it, res)
            yield it, res

    def _entry(self, it: Item, status: str, **kw) -> dict:
        e = {"sha256": it.sha256, "path": it.rel, "size": it.size, "status": status,
             "folder": it.folder if status != FAILED else None, "label": None, "score": None,
             "band": None, "basis": None, "error": None}
        e.update(kw)
        e["at"] = _now()
        return e

    def _record(self, it: Item, res: Result) -> None:
        if res.ok:
            self.index.append(self._entry(it, DONE, label=res.label, score=res.score,
                                          band=res.band, basis=res.basis))
        else:
            self.index.append(self._entry(it, FAILED, error=res.error))

    def _recover(self, it: Item) -> None:
        v = json.loads((self.out / it.folder / "report.json").read_text(encoding="utf-8"))
        v = v.get("verdict") or {}
        self.index.append(self._entry(it, DONE, label=v.get("label"), score=v.get("score"),
                                      band=v.get("band"), basis=v.get("basis"), recovered=True))

    def _record_duplicate(self, it: Item) -> None:
        src = self.index.by_sha.get(it.sha256) or {}
        if src.get("status") != DONE:
            return  # its content failed: the summary says so; the next run retries it
        prev = self.index.by_path.get(it.rel) or {}
        if (prev.get("status") == DUPLICATE and prev.get("sha256") == it.sha256
                and prev.get("folder") == src.get("folder")):
            return  # already recorded by an earlier run
        self.index.append(self._entry(it, DUPLICATE, folder=src.get("folder"),
                                      duplicate_of=src.get("path"), label=src.get("label"),
                                      score=src.get("score"), band=src.get("band"),
                                      basis=src.get("basis")))

    # -- summary
    def rows(self, items: list[Item]) -> list[dict]:
        """One summary row per item, from the index (so it covers earlier runs)."""
        rows = []
        for it in items:
            row = dict.fromkeys(SUMMARY_COLUMNS, "")
            row.update(path=it.rel, sha256=it.sha256 or "", size=it.size)
            e = self.index.by_sha.get(it.sha256) if it.sha256 else None
            if it.sha256 is None:
                row.update(status=FAILED, error=it.error or "")
            elif it.action == IN_POST:
                post = next((p for p in items if p.rel == it.dup_of), None)
                pe = self.index.by_sha.get(post.sha256) if post is not None else None
                row.update(status=IN_POST, error=f"analysed with its post {it.dup_of}",
                           report_folder=(pe or {}).get("folder") or "")
            elif e is None:
                row.update(status="pending")  # only when the run was cut short
            elif e["status"] == DONE:
                row.update(status=DONE if e.get("path") == it.rel else DUPLICATE,
                           report_folder=e.get("folder") or "",
                           **{k: "" if e.get(k) is None else e[k]
                              for k in ("label", "score", "band", "basis")})
            else:
                err = e.get("error") or ""
                if e.get("path") != it.rel:
                    err = f"same content as {e.get('path')}: {err}"
                row.update(status=FAILED, error=err)
            rows.append(row)
        return rows

    def write_summary(self, items: list[Item]) -> Path:
        path = self.out / SUMMARY_NAME
        tmp = path.with_name(SUMMARY_NAME + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
            w = csv.DictWriter(fh, fieldnames=SUMMARY_COLUMNS)
            w.writeheader()
            w.writerows(self.rows(items))
        os.replace(tmp, path)
        return path

    def finish(self, items: list[Item]) -> Counts:
        """Write summary.csv; the counts of this run (``skipped``: already done, duplicates
        and folders recovered from an interrupted run)."""
        self.write_summary(items)
        c = Counts()
        rows = self.rows(items)
        for it, row in zip(items, rows, strict=True):
            if row["status"] == FAILED:
                c.failed += 1
            elif it.action == "analyse":
                c.analysed += 1
            else:
                c.skipped += 1
        return c


def scan(root, out, classes: Sequence, *, ctx: Context | None = None, workers: int = 1,
         engine: str = "local", scheduler=None, max_pixels: int = DEFAULT_MAX_PIXELS,
         html: bool = True) -> Counts:
    """Scan ``root`` into ``out`` (no progress display; the CLI drives :class:`Scan` itself).
    ``workers`` > 1 or ``engine="dask"`` runs the analyses through
    :func:`veriscope.pipeline.engine.make_engine`."""
    with Scan(root, out, classes, ctx=ctx, max_pixels=max_pixels, html=html) as sc:
        items = sc.plan(sc.hash(sc.files))
        if workers > 1 or engine != "local":
            from veriscope.pipeline.engine import make_engine

            with make_engine(engine, workers=workers, scheduler=scheduler) as eng:
                for _ in sc.run(items, engine=eng):
                    pass
        else:
            for _ in sc.run(items):
                pass
        return sc.finish(items)
