"""Command line: `veriscope analyze | detectors | schema | demo`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from veriscope.core.errors import VeriscopeError
from veriscope.core.media import DEFAULT_MAX_PIXELS
from veriscope.core.version import __version__

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def _err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="veriscope")
def cli():
    """veriscope: is this photo, video, audio clip or post manipulated or synthetic, and where?"""


def unique_dir(out: Path, name: str, taken: set[str]) -> Path:
    """out/name, or out/name-2, -3... if another input of this run already took that name."""
    cand, i = name, 1
    while cand in taken:
        i += 1
        cand = f"{name}-{i}"
    taken.add(cand)
    return out / cand


def _detector_options(f):
    """The detector flags that analyze and scan share (in this order in --help)."""
    f = click.option("--trust-anchors", type=click.Path(path_type=Path, dir_okay=False, exists=True),
                     default=None, help="PEM bundle of C2PA trust anchors (also: env "
                     "VERISCOPE_C2PA_TRUST_ANCHORS).")(f)
    f = click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS,
                     show_default=True,
                     help="Refuse images whose header claims more pixels than this.")(f)
    f = click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1), default=120.0,
                     show_default=True, help="Seconds each detector may take per file.")(f)
    return click.option("--detectors", "detectors", default=None,
                        help="Comma-separated detector names (default: the default set; 'all' "
                             "for every one).")(f)


def _contain_options(f):
    """--max-memory and --in-process (analyze and scan)."""
    f = click.option("--in-process", is_flag=True, help="Analyse in this process, without the "
                     "watched worker processes that contain hangs, crashes and memory use (for "
                     "debugging; --timeout still applies to each detector, --max-memory does "
                     "not).")(f)
    return click.option("--max-memory", "max_memory", default=None, metavar="SIZE",
                        help="Memory each worker process may use (e.g. 2G, 512M; default: 80% "
                        "of the memory available at start, shared among the workers). A "
                        "detector that goes over is stopped and reported; the other detectors "
                        "still run.")(f)


def _limits(err, timeout_s: float, max_memory: str | None, workers: int):
    """The containment limits of the flags (exits on a bad size)."""
    from veriscope.pipeline.contain import Limits, default_memory_limit, parse_size

    try:
        memory = parse_size(max_memory) if max_memory is not None else default_memory_limit(workers)
    except ValueError:
        err.print(f"[red]error:[/red] --max-memory {max_memory!r}: give a size such as 2G or "
                  "512M", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    return Limits(timeout_s=timeout_s, memory_bytes=memory)


def _video_options(f):
    """The video and detector-option flags that analyze and scan share."""
    f = click.option("--frame-detectors", default=None, metavar="NAMES",
                     help="Video: image detectors run on sampled frames by video_frames, "
                          "comma-separated (default noise,splicebuster,resampling; e.g. add "
                          "ai_image for AI-generated frames).")(f)
    f = click.option("--max-video-seconds", type=click.FloatRange(min=0, min_open=True),
                     default=None, metavar="S",
                     help="Video: analyse at most the first S seconds (default 600).")(f)
    f = click.option("--sample-frames", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Video: analyse N frames spread evenly instead (plus shot keyframes).")(f)
    return click.option("--sample-fps", type=click.FloatRange(min=0, min_open=True), default=None,
                        metavar="F", help="Video: frames per second of video the frame-level "
                        "image detectors analyse (default 1; shot keyframes are always added).")(f)


def _analysis_context(err, timeout_s, trust_anchors, frame_detectors, sample_fps, sample_frames,
                      max_video_seconds):
    """The ``Context`` of the analysis flags analyze and scan share (exits on a bad mix)."""
    from veriscope.detectors.base import Context

    options = {}
    if trust_anchors is not None:
        options["c2pa"] = {"trust_anchors": str(trust_anchors)}
    if frame_detectors:
        options["video_frames"] = {"detectors": frame_detectors}
    if sample_fps is not None and sample_frames is not None:
        err.print("[red]error:[/red] give --sample-fps or --sample-frames, not both", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    video = video_settings(sample_fps, sample_frames, max_video_seconds)
    return Context(timeout_s=timeout_s, options=options, video=video)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Write DIR/<file name>/report.json, report.html and maps/ for each input.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default=None,
              help="Without --out: 'table' (default) or one JSON report per line on stdout.")
@_detector_options
@click.option("--no-html", is_flag=True, help="With --out, skip report.html.")
@click.option("--stability", "stability", type=click.IntRange(min=0, max=10), default=0,
              metavar="N", help="Also re-analyse N everyday re-encodings of each image (social "
              "network, JPEG 90/75, resize, screenshot, ...; max 10) and report how often the "
              "verdict flips (evidence 'stability'). N times slower.")
@_video_options
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Analyse N files at a time in separate processes (default: the number of "
              "cores, fewer when memory is short: about 2 GiB each). Reports and output order "
              "are the same as with one worker.")
@click.option("--archive", "archive_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="A reference archive (veriscope index): archive_match looks "
              "each picture up in it (also: env VERISCOPE_ARCHIVE).")
@click.option("--timings", "timings_file", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Append where the time went to FILE: one JSON line per input "
              "(open, decode, each detector, fusion, each output written; seconds).")
@_contain_options
@click.option("--caption", default=None, metavar="TEXT", help="The caption the picture was "
              "posted with: its dates and places are checked against the file (report: post). "
              "A FILE.post.json input brings its own (docs/posts.md).")
@click.option("--claimed-date", default=None, metavar="YYYY[-MM[-DD]]",
              help="With --caption: the date of the post, when it was posted (relative dates such as 'yesterday' count from it).")
@click.option("--claimed-place", default=None, metavar="PLACE",
              help="With --caption: the place the post claims (a city or country).")
@click.option("--source", "post_source", default=None, metavar="TEXT",
              help="With --caption: where the post comes from (kept in the report).")
@click.option("--vlm-endpoint", default=None, metavar="URL", help="Optional, with a caption: an "
              "OpenAI-compatible endpoint of a vision-language model you serve (e.g. "
              "http://127.0.0.1:8080/v1); its opinions on the caption are listed, never used as "
              "proof (caption_vlm; also env VERISCOPE_VLM_ENDPOINT).")
@click.option("--vlm-model", default=None, metavar="NAME", help="The model name to ask for at "
              "--vlm-endpoint.")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
def analyze(paths, out_dir, fmt, detectors, timeout_s, max_pixels, trust_anchors, no_html, stability,
            sample_fps, sample_frames, max_video_seconds, frame_detectors, workers, archive_dir,
            timings_file, max_memory, in_process, caption, claimed_date, claimed_place,
            post_source, vlm_endpoint, vlm_model, debug):
    """Analyse media files with every applicable detector and fuse the evidence.

    A picture posted with a caption: give --caption (or a FILE.post.json); the report gains a
    `post` object that says whether the caption fits the picture."""
    entered = time.time()
    from rich.markup import escape

    from veriscope.core import registry
    from veriscope.pipeline.batch import Job, analyze_many, default_workers
    from veriscope.pipeline.contain import run_contained

    err = _err_console()
    try:
        classes = registry.select(detectors)
    except VeriscopeError as e:
        err.print(f"[red]error:[/red] {e}")
        sys.exit(EXIT_USAGE)
    for name, why in registry.BROKEN.items():
        err.print(f"[yellow]warning:[/yellow] skipping detector {name}: {why}", soft_wrap=True)
    if fmt is None:
        fmt = "table"
    post = _post_from_flags(err, paths, caption, claimed_date, claimed_place, post_source)
    ctx = _analysis_context(err, timeout_s, trust_anchors, frame_detectors, sample_fps,
                            sample_frames, max_video_seconds)
    if archive_dir is not None:
        if not (archive_dir / "archive.sqlite3").is_file():
            err.print(f"[red]error:[/red] {archive_dir}: not a veriscope archive (make one with "
                      "`veriscope index DIR --archive PATH`)", soft_wrap=True)
            sys.exit(EXIT_USAGE)
        ctx.options["archive_match"] = {"archive": str(archive_dir.resolve())}
    if vlm_endpoint is not None:
        if not vlm_endpoint.startswith(("http://", "https://")):
            err.print(f"[red]error:[/red] --vlm-endpoint {vlm_endpoint!r} is not an http(s) URL",
                      soft_wrap=True, highlight=False)
            sys.exit(EXIT_USAGE)
        ctx.options["caption_vlm"] = {"endpoint": vlm_endpoint,
                                      **({"model": vlm_model} if vlm_model else {})}
    rows, failures, taken = [], 0, set()

    if workers is None:
        workers = default_workers(len(paths))
    workers = max(1, min(workers, len(paths)))
    limits = _limits(err, timeout_s, max_memory, workers)
    jobs = []
    for p in paths:  # report folders are named in input order, whatever the workers do
        dest = unique_dir(out_dir, p.name, taken) if out_dir is not None else None
        jobs.append(Job(p, dest, html=not no_html, want_json=out_dir is None and fmt == "json",
                        post=post))

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[done]}"),
                        TimeElapsedColumn(), console=err, transient=True,
                        disable=not err.is_terminal)
    state = {"vtask": None}

    def on_start(i, job):  # in-process only: the bar follows each file and its video time
        if state["vtask"] is not None:
            progress.remove_task(state["vtask"])
        progress.update(task, description=f"analysing {job.path.name}", done=f"{i}/{len(paths)}")
        state["vtask"] = progress.add_task(job.path.name, total=None, done="", visible=False)
        ctx.progress = _video_progress(progress, state["vtask"], job.path.name)

    with progress:
        task = progress.add_task("analysing" if workers == 1 else f"analysing ({workers} workers)",
                                 total=len(paths), done=f"0/{len(paths)}", visible=len(paths) > 1)
        ready = time.time()  # the detectors' classes loaded, the jobs and progress set up
        if in_process:
            outcomes = analyze_many(jobs, classes, ctx, workers=workers, max_pixels=max_pixels,
                                    stability=stability, on_start=on_start)
        else:
            outcomes = run_contained(jobs, classes, ctx, workers=workers, max_pixels=max_pixels,
                                     stability=stability, on_start=on_start, limits=limits)
        for i, o in enumerate(outcomes, 1):
            if timings_file is not None:
                _append_timings(timings_file, o, entered, ready)
            if o.ok:
                if o.json is not None:
                    click.echo(o.json)
                rows.append((o.path, o, o.dest))
            else:
                failures += 1
                if o.internal:
                    err.print(f"[red]error:[/red] {escape(o.error)}", soft_wrap=True)
                    if debug and o.trace:
                        err.print(o.trace, markup=False, highlight=False, soft_wrap=True)
                else:
                    err.print(f"[red]error:[/red] {escape(o.error)}", highlight=False,
                              soft_wrap=True)  # escaped: a file name may look like markup
            progress.update(task, done=f"{i}/{len(paths)}")
            progress.advance(task)

    if rows and (out_dir is not None or fmt == "table"):
        from veriscope.report.table import print_table

        print_table(rows, out_dir is not None)
    sys.exit(EXIT_SOME_FAILED if failures else EXIT_OK)


def _post_from_flags(err, paths, caption, claimed_date, claimed_place, source) -> dict | None:
    """The post of --caption and its companions (exits 2 on bad or contradictory flags)."""
    from veriscope.core.post import PostError, is_post_file, make_post

    if caption is None:
        given = [f for f, v in (("--claimed-date", claimed_date), ("--claimed-place", claimed_place),
                                ("--source", source)) if v is not None]
        if given:
            err.print(f"[red]error:[/red] {', '.join(given)} need(s) --caption", soft_wrap=True)
            sys.exit(EXIT_USAGE)
        return None
    if any(is_post_file(p) for p in paths):
        err.print("[red]error:[/red] a .post.json input brings its own caption; do not give "
                  "--caption with it", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    try:
        return make_post(caption, date=claimed_date, place=claimed_place, source=source)
    except PostError as e:
        from rich.markup import escape

        err.print(f"[red]error:[/red] {escape(str(e))}", soft_wrap=True, highlight=False)
        sys.exit(EXIT_USAGE)


def _append_timings(path: Path, o, entered: float, ready: float) -> None:
    """One JSON line: the input, whether it succeeded, when the command started (Unix time, to
    measure start-up from outside), the seconds it took to get ready (loading the detectors)
    and the seconds of each phase of this input."""
    rec = {"path": str(o.path), "ok": o.ok, "command_entered_unix": round(entered, 4),
           "setup_s": round(ready - entered, 4), "written_unix": round(time.time(), 4),
           "phases": o.timings or {}}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec) + "\n")


def video_settings(sample_fps=None, sample_frames=None, max_video_seconds=None) -> dict | None:
    """``Context.video`` from the CLI flags (None when none is given: the defaults apply)."""
    video = {}
    if sample_frames is not None:
        video["frames"] = int(sample_frames)
    elif sample_fps is not None:
        video["fps"] = float(sample_fps)
    if max_video_seconds is not None:
        video["max_seconds"] = float(max_video_seconds)
    return video or None


def _video_progress(progress, task, name: str):
    """A ``Context.progress`` callback that moves a rich progress bar over video time."""

    def cb(what: str, done: float, total: float) -> None:
        if total and total > 0:
            progress.update(task, description=f"{name}: {what}", completed=min(done, total),
                            total=total, done=f"{done:.1f}/{total:.1f} s", visible=True)

    return cb


@cli.command("scan")
@click.argument("root", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Write OUT/<path in DIR>/ (report.json, report.html, maps/) for each media "
                   "file, OUT/scan-index.jsonl and OUT/summary.csv. Run again with the same OUT "
                   "to resume: content already done is skipped, failures are retried.")
@_detector_options
@click.option("--no-html", is_flag=True, help="Skip report.html.")
@_video_options
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Analyse N files at a time in separate processes (default as for analyze; "
                   "with --engine dask --scheduler local: the size of the LocalCluster). "
                   "Reports are the same as with one worker.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: this machine (--workers processes); dask: a Dask cluster (--scheduler).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="With --engine dask: scheduler address (tcp://host:8786), or 'local' for a "
                   "LocalCluster of --workers processes. Workers must see DIR and OUT at the "
                   "same paths.")
@_contain_options
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
def scan_cmd(root, out_dir, detectors, timeout_s, max_pixels, trust_anchors, no_html, sample_fps,
             sample_frames, max_video_seconds, frame_detectors, workers, engine, scheduler,
             max_memory, in_process, debug):
    """Analyse every media file under DIR (recursively) into OUT; resumable (docs: README)."""
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from veriscope.core import registry
    from veriscope.pipeline.batch import default_workers
    from veriscope.pipeline.scan import SUMMARY_NAME, Scan

    err = _err_console()
    if scheduler is not None and engine != "dask":
        err.print("[red]error:[/red] --scheduler needs --engine dask", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    try:
        classes = registry.select(detectors)
    except VeriscopeError as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    for name, why in registry.BROKEN.items():
        err.print(f"[yellow]warning:[/yellow] skipping detector {name}: {why}", soft_wrap=True)
    ctx = _analysis_context(err, timeout_s, trust_anchors, frame_detectors, sample_fps,
                            sample_frames, max_video_seconds)
    try:
        sc = Scan(root, out_dir, classes, ctx=ctx, max_pixels=max_pixels, html=not no_html)
        sc.__enter__()  # the lock on OUT and the index; closed in the finally below
    except VeriscopeError as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    if sc.out_inside_root:
        err.print(f"note: --out {out_dir} lies inside {root}; it is left out of the scan",
                  soft_wrap=True)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[done]}"),
                        TimeElapsedColumn(), console=err, transient=True,
                        disable=not err.is_terminal)
    eng = None
    try:
        with progress:
            n = len(sc.files)
            htask = progress.add_task("hashing", total=n, done=f"0/{n}")
            hashed = iter(range(1, n + 1))
            items = sc.plan(sc.hash(sc.files, lambda it: progress.update(
                htask, advance=1, done=f"{next(hashed)}/{n}")))
            progress.remove_task(htask)
            todo = sum(it.action == "analyse" for it in items)
            if workers is None:
                workers = default_workers(todo)
            workers = max(1, min(workers, max(todo, 1)))
            contain = None
            if engine == "local" and not in_process:
                contain = (workers, _limits(err, timeout_s, max_memory, workers))
            elif todo and (workers > 1 or engine == "dask"):
                from veriscope.pipeline.engine import make_engine

                try:
                    eng = make_engine(engine, workers=workers, scheduler=scheduler)
                except (RuntimeError, OSError, ValueError) as e:  # no 'distributed', unreachable
                    err.print(f"[red]error:[/red] {e}", soft_wrap=True)
                    sys.exit(EXIT_USAGE)
            what = "analysing"
            if eng is not None:
                what += f" ({workers} workers)" if engine == "local" else f" (dask {eng.address})"
            elif contain is not None and workers > 1:
                what += f" ({workers} workers)"
            task = progress.add_task(what, total=todo, done=f"0/{todo}", visible=todo > 0)
            state = {"vtask": None}

            def on_start(i, item, job):  # in-process only: the bar follows each file
                if state["vtask"] is not None:
                    progress.remove_task(state["vtask"])
                progress.update(task, description=f"analysing {item.rel}", done=f"{i}/{todo}")
                state["vtask"] = progress.add_task(item.rel, total=None, done="", visible=False)
                job.progress = _video_progress(progress, state["vtask"], item.path.name)

            for i, (_, res) in enumerate(sc.run(items, engine=eng, on_start=on_start,
                                                contain=contain), 1):
                if not res.ok:
                    err.print(f"[red]error:[/red] {escape(res.error)}", highlight=False,
                              soft_wrap=True)
                    if debug and res.trace:
                        err.print(res.trace, markup=False, highlight=False, soft_wrap=True)
                progress.update(task, advance=1, done=f"{i}/{todo}")
        for it in items:
            if it.action == "unreadable":
                err.print(f"[red]error:[/red] {escape(it.error)}", highlight=False,
                          soft_wrap=True)
        counts = sc.finish(items)
    except KeyboardInterrupt:
        err.print(f"interrupted: finished files are kept in {sc.index.path}; run the same "
                  "command again to resume", soft_wrap=True)
        sys.exit(130)
    finally:
        if eng is not None:
            eng.close()
        sc.close()
    left = f" ({sc.ignored} other files left out)" if sc.ignored else ""
    click.echo(f"{counts.analysed} analysed, {counts.skipped} skipped, {counts.failed} failed"
               f"{left}; summary: {sc.out / SUMMARY_NAME}")
    sys.exit(EXIT_SOME_FAILED if counts.failed else EXIT_OK)


@cli.command("bench")
@click.option("--dataset", "dataset", required=True,
              help="NAME:PATH, e.g. noso:../shared/data/noso-copymove (adapters: noso, micc-f220, "
                   "exif-samples, pristine, comfyui, folder, synth-fit, synth-eval).")
@click.option("--detectors", default=None, help="Comma-separated names; 'fused' is always added.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Detector-output cache (default: $VERISCOPE_CACHE/bench or ~/.cache/veriscope/bench).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option("--perturb", "perturb", default=None, metavar="SPEC",
              help="Also benchmark perturbed copies, e.g. 'jpeg:q=95,85,75' (a sweep: one metrics "
                   "block per strength in results.json 'sweep'), 'resize:s=0.75+jpeg:q=90', "
                   "'social'. See docs/robustness.md.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the perturbations (noise, ranges such as q=50..95).")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: this machine (--workers processes); dask: a Dask cluster (--scheduler).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="With --engine dask: scheduler address (tcp://host:8786), or 'local' for a "
                   "LocalCluster of --workers processes. Workers must see the same paths.")
def bench_cmd(dataset, detectors, workers, cache_dir, out_dir, perturb, seed, engine, scheduler):
    """Measure detectors on a dataset with an explicit, versioned protocol (writes results.json)."""
    from rich.progress import Progress

    from veriscope.bench import Benchmark

    err = _err_console()
    if scheduler is not None and engine != "dask":
        err.print("[red]error:[/red] --scheduler needs --engine dask", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    try:
        b = Benchmark(dataset, detectors or "", cache_dir=cache_dir, workers=workers,
                      perturb=perturb, seed=seed, engine=engine, scheduler=scheduler)
    except (VeriscopeError, ValueError, OSError) as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    try:
        with Progress(console=err, transient=True, disable=not err.is_terminal) as prog:
            task = prog.add_task(f"bench {b.dataset_name}",
                                 total=len(b.records) * (1 + len(b.variants)))
            res = b.run(progress=lambda: prog.advance(task))
    except (RuntimeError, OSError) as e:  # e.g. no 'distributed', scheduler unreachable
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    path = Benchmark.write(res, out_dir)
    m = res["metrics"]
    for k in sorted(m):
        click.echo(f"{k}\t{m[k]}")
    for entry in res.get("sweep") or []:
        for k in sorted(entry["metrics"]):
            click.echo(f"[{entry['perturbation']}] {k}\t{entry['metrics'][k]}")
    import importlib.util

    from veriscope.bench import report as bench_report

    has_mpl = importlib.util.find_spec("matplotlib") is not None
    written = bench_report.write([res], out_dir, html_out=has_mpl)
    click.echo(f"wrote {path}, " + ", ".join(str(p) for p in written.values())
               + ("" if has_mpl else " (results.html needs matplotlib: pip install 'veriscope[bench]')"))


@cli.command("detectors")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def detectors_cmd(as_json):
    """List registered detectors: name, modalities, version, what they need."""
    from veriscope.core import registry

    infos = []
    for n in registry.names():
        try:
            cls = registry.load(n)
        except Exception as e:  # a broken third-party plugin must not hide the others
            infos.append({"name": n, "error": f"cannot load: {e}"})
            continue
        d = cls.describe()
        d["missing"] = cls.missing_requirements()
        infos.append(d)
    if as_json:
        click.echo(json.dumps(infos, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title="veriscope detectors")
    for c in ("name", "modalities", "version", "default", "needs", "what it does"):
        t.add_column(c, overflow="fold")
    for d in infos:
        if "error" in d:
            t.add_row(d["name"], "", "", "", "", d["error"])
            continue
        needs = ", ".join(d["requires"]) or "-"
        if d["missing"]:
            needs += f" (missing: {', '.join(d['missing'])})"
        t.add_row(d["name"], ",".join(d["modalities"]), d["version"], "yes" if d["default"] else "no",
                  needs, d["summary"])
    Console().print(t)


@cli.command("schema")
def schema_cmd():
    """Print the JSON Schema of report.json (veriscope.report/1)."""
    from veriscope.report.schema import REPORT_SCHEMA

    click.echo(json.dumps(REPORT_SCHEMA, indent=2))


@cli.command("demo")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("demo-out"), show_default=True)
def demo_cmd(out_dir):
    """Make example media (signed, tampered, generated, watermarked, spliced) and analyse them."""
    from veriscope.demo import run_demo

    sys.exit(run_demo(out_dir))


@cli.group("train")
def train_group():
    """Re-train veriscope's small committed models from their recipes (reproducible from a seed)."""


def _training_data_options(model: str, built_by: str):
    """The --seed, --data and --extra options every training command shares."""
    def deco(f):
        f = click.option(
            "--extra", "extra_dir", type=click.Path(path_type=Path, file_okay=False),
            default=None, help="Folder of the fetched sources listed in "
            f"veriscope/train/manifests/{model}/*.tsv, as DIR/<owner+name>/<path> "
            f"({built_by}).")(f)
        f = click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False),
                         default=None, help="Shared data folder (default: "
                         "$VERISCOPE_SHARED_DATA or ../shared/data).")(f)
        return click.option("--seed", type=int, default=0, show_default=True)(f)
    return deco


@train_group.command("synthetic-speech")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Write DIR/synthetic_speech.onnx, DIR/synthetic_speech.json, "
                   "DIR/cal_scores.tsv and DIR/training_report.json.")
@_training_data_options("synthetic_speech",
                        "built by benchmarks/fetch_sources.py synthetic_speech DIR")
@click.option("--no-tts", is_flag=True, help="Do not synthesize speech with espeak-ng / "
              "festival / flite even when they are installed.")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="CNN training steps of 32 windows (default: the committed model's).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Tiny subset: LIMIT files per source folder, LIMIT sentences per TTS voice.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--cache", "cache_file", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Keep the computed spectrograms in FILE and reuse them when "
              "the same data, seed and settings are asked for again.")
def train_synthetic_speech(out_dir, seed, data_dir, extra_dir, no_tts, steps, limit, workers,
                           cache_file):
    """Train the synthetic_speech detector's model (see docs/detectors/synthetic_speech.md)."""
    from veriscope.train import synthetic_speech as recipe

    try:
        recipe.run(out_dir, seed=seed, data=data_dir, extra=extra_dir, tts=not no_tts,
                   limit=limit, steps=steps or recipe.DEFAULT_STEPS, workers=workers,
                   cache=cache_file, log=lambda m: click.echo(m, err=True))
    except (FileNotFoundError, ValueError) as e:
        _err_console().print(f"[red]error:[/red] {e}", soft_wrap=True)
        sys.exit(EXIT_USAGE)


@train_group.command("ai-image")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Write DIR/ai_image.onnx, DIR/ai_image.json and DIR/training_report.json.")
@_training_data_options("ai_image", "docs/detectors/ai_image.md says how to build it")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="CNN training steps of 64 crops (default: the committed model's).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Tiny run: at most LIMIT pictures per source.")
def train_ai_image(out_dir, seed, data_dir, extra_dir, steps, limit):
    """Train the ai_image detector's model (see docs/detectors/ai_image.md)."""
    try:
        from veriscope.train import ai_image as recipe
    except ImportError as e:  # pragma: no cover - depends on the install
        _err_console().print(f"[red]error:[/red] {e}")
        sys.exit(EXIT_USAGE)
    try:
        import torch  # noqa: F401
    except ImportError:
        _err_console().print("[red]error:[/red] training needs torch: pip install -e '.[train]'")
        sys.exit(EXIT_USAGE)
    try:
        recipe.run(out_dir, seed=seed, data_root=data_dir, extra=extra_dir,
                   steps=steps or recipe.DEFAULT_STEPS, limit=limit,
                   log=lambda m: click.echo(m, err=True))
    except FileNotFoundError as e:
        _err_console().print(f"[red]error:[/red] {e}", soft_wrap=True)
        sys.exit(EXIT_USAGE)


# ------------------------------------------------------------------ the desk (veriscope serve)
DEFAULT_DESK = Path("veriscope-desk")


def _desk_store(data_dir: Path, create: bool = False):
    from veriscope.desk.store import Store

    try:
        return Store(data_dir, create=create)
    except FileNotFoundError as e:
        _err_console().print(f"[red]error:[/red] {e} (start one with `veriscope serve --data "
                             f"{data_dir}`)", soft_wrap=True)
        sys.exit(EXIT_USAGE)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback: only this machine can connect).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False),
              default=DEFAULT_DESK, show_default=True,
              help="The desk's folder: database, stored files, reports, keys.")
@click.option("--workers", type=click.IntRange(min=0), default=1, show_default=True,
              help="Analysis worker processes (0: none here, e.g. when they run elsewhere).")
@click.option("--detectors", default=None, help="Detectors to run (default: the default set).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1), default=120.0,
              show_default=True, help="Seconds each detector may take per file.")
@click.option("--max-upload-mb", type=click.FloatRange(min=0, min_open=True), default=1024.0,
              show_default=True, help="Largest upload accepted (MiB); larger ones get 413.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS,
              show_default=True, help="Largest picture accepted (pixels, read from its header).")
@click.option("--max-seconds", type=click.FloatRange(min=0, min_open=True), default=600.0,
              show_default=True, help="Longest audio or video accepted (seconds).")
@click.option("--lease", "lease_s", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds a worker holds a job between renewals; a job whose worker died is "
                   "retried after this (at most 3 attempts).")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where analyses run: local worker processes, or a Dask cluster (--scheduler).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="With --engine dask: the scheduler (tcp://host:8786; its workers must see "
                   "--data at the same path), or 'local' for a LocalCluster.")
@click.option("--archive", "archive_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="A reference archive (veriscope index) that archive_match "
              "looks each picture up in (also: env VERISCOPE_ARCHIVE).")
def serve_cmd(host, port, data_dir, workers, detectors, timeout_s, max_upload_mb, max_pixels,
              max_seconds, lease_s, engine, scheduler, archive_dir):
    """Run the desk: a local web service and UI with cases, jobs and custody."""
    err = _err_console()
    try:
        import uvicorn

        from veriscope.desk.app import Limits, create_app, serve_key_hint
    except ImportError as e:
        err.print(f"[red]error:[/red] the desk needs its extra: pip install 'veriscope[desk]' ({e})",
                  soft_wrap=True)
        sys.exit(EXIT_USAGE)
    if scheduler is not None and engine != "dask":
        err.print("[red]error:[/red] --scheduler needs --engine dask", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    from veriscope.core import registry
    from veriscope.desk.supervisor import Supervisor

    try:
        registry.select(detectors)
    except VeriscopeError as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    if archive_dir is not None:
        if not (archive_dir / "archive.sqlite3").is_file():
            err.print(f"[red]error:[/red] {archive_dir}: not a veriscope archive (make one with "
                      "`veriscope index DIR --archive PATH`)", soft_wrap=True)
            sys.exit(EXIT_USAGE)
        import os

        os.environ["VERISCOPE_ARCHIVE"] = str(archive_dir.resolve())  # the workers inherit it
    limits = Limits(max_bytes=int(max_upload_mb * (1 << 20)), max_pixels=max_pixels,
                    max_seconds=max_seconds)
    app = create_app(data_dir, limits=limits, detectors=detectors)
    store = app.state.store
    store.clean_tmp()
    key = serve_key_hint(store)
    if key:
        err.print(f"First API key of this desk (shown once; sign in with it): [bold]{key}[/bold]",
                  soft_wrap=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning:[/yellow] listening on {host}: other machines can reach the "
                  "desk (API keys still required; use a TLS proxy on untrusted networks)",
                  soft_wrap=True)
    sup = Supervisor(store.root, workers, detectors=detectors, timeout_s=timeout_s,
                     lease_s=lease_s, engine=engine,
                     scheduler=scheduler, log=lambda m: err.print(m, soft_wrap=True))
    sup.start()
    err.print(f"veriscope desk on http://{host}:{port}/ (data: {store.root}, {workers} worker(s))",
              soft_wrap=True)
    import signal

    def _exit(signum, frame):  # uvicorn re-raises SIGTERM after its shutdown: exit cleanly
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _exit)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        sup.stop()


@cli.group("desk")
def desk_group():
    """Administer a desk's data folder: API keys, the audit chain, case bundles."""


@desk_group.command("key")
@click.argument("name")
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False),
              default=DEFAULT_DESK, show_default=True)
def desk_key(name, data_dir):
    """Create an API key called NAME (printed once; only its hash is stored)."""
    store = _desk_store(data_dir, create=True)
    click.echo(store.add_key(name, actor="cli"))


@desk_group.command("verify-audit")
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False),
              default=DEFAULT_DESK, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def desk_verify_audit(data_dir, as_json):
    """Re-derive the audit chain; exit 1 and name the first bad row if one was edited, deleted
    or reordered (or rows were cut off the end)."""
    chk = _desk_store(data_dir).verify_audit()
    if as_json:
        click.echo(json.dumps(chk.to_dict(), indent=2))
    elif chk.ok:
        click.echo(f"audit chain intact: {chk.rows} rows, head {chk.head}")
    else:
        for p in chk.problems:
            click.echo(f"BROKEN: {p}")
    sys.exit(EXIT_OK if chk.ok else EXIT_SOME_FAILED)


def _bundle_module():
    try:
        from veriscope.desk import bundle
    except ImportError as e:
        _err_console().print(f"[red]error:[/red] bundles need the desk extra: pip install "
                             f"'veriscope[desk]' ({e})", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    return bundle


@desk_group.command("export")
@click.argument("case_id", type=int)
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False),
              default=DEFAULT_DESK, show_default=True)
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="The bundle to write: a new folder, or a file ending in .zip.")
def desk_export(case_id, data_dir, out):
    """Export case CASE_ID as a signed evidence bundle (BagIt: originals, reports, items, the
    audit chain with other cases redacted, CASE/UCO JSON-LD), signed with the desk's key."""
    bundle = _bundle_module()
    err = _err_console()
    store = _desk_store(data_dir)
    if store.case(case_id) is None:
        err.print(f"[red]error:[/red] no case {case_id} in {store.root}", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    if out.exists() and (out.suffix.lower() == ".zip" or not out.is_dir() or any(out.iterdir())):
        err.print(f"[red]error:[/red] {out} already exists", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    try:
        path = bundle.export_case(store, case_id, out, actor="cli")
        fp = bundle.fingerprint(bundle.installation_key(store))
    except (bundle.BundleError, OSError) as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        sys.exit(EXIT_SOME_FAILED)
    click.echo(f"{path}: case {case_id} exported, signed by key {fp} "
               f"({store.root / 'keys' / bundle.PUB_FILE})")


@cli.command("verify-bundle")
@click.argument("path", type=click.Path(path_type=Path, exists=True))
@click.option("--key", "key_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              default=None, help="The desk's public key (PEM, raw or hex) the bundle must be "
                                 "signed by; without it, the signer's fingerprint is printed to "
                                 "compare out of band.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify_bundle_cmd(path, key_file, as_json):
    """Check a desk case bundle (folder or zip): signature, every hash, the audit chain, the
    originals against items.json. Exit 0 when intact, 1 when not (each problem printed)."""
    bundle = _bundle_module()
    trusted = None
    if key_file is not None:
        trusted = key_file.read_bytes()
        try:
            bundle.load_public_key(trusted)
        except ValueError as e:
            _err_console().print(f"[red]error:[/red] {key_file}: {e}", soft_wrap=True)
            sys.exit(EXIT_USAGE)
    res = bundle.verify_bundle(path, trusted)
    if as_json:
        click.echo(json.dumps(res.to_dict(), indent=2))
    elif res.ok:
        c = res.counts
        click.echo(f"bundle intact: {c.get('items', 0)} items, {c.get('originals', 0)} originals, "
                   f"{c.get('payload_files', 0)} payload files, audit chain of "
                   f"{c.get('audit_rows', 0)} rows ({c.get('audit_redacted', 0)} redacted)")
        if res.trusted:
            click.echo(f"signed by the trusted key {res.fingerprint}")
        else:
            click.echo(f"signed by key {res.fingerprint}: compare this fingerprint with the "
                       "desk's, out of band (or pass --key)")
    else:
        for p in res.problems:
            click.echo(f"BROKEN: {p}")
    sys.exit(EXIT_OK if res.ok else EXIT_SOME_FAILED)


# ------------------------------------------------------------------ the reference archive
def _open_archive(path: Path, create: bool = False):
    try:
        from veriscope.archive.store import Archive
    except ImportError as e:  # pragma: no cover - depends on the install
        _err_console().print(f"[red]error:[/red] the archive needs its extra: pip install "
                             f"'veriscope[archive]' ({e})", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    try:
        return Archive(path, create=create)
    except FileNotFoundError as e:
        _err_console().print(f"[red]error:[/red] {e}", soft_wrap=True)
        sys.exit(EXIT_USAGE)


@cli.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--archive", "archive_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="The archive folder (created if missing).")
@click.option("--source", default=None, help="Where these files come from (stored with each).")
@click.option("--date", default=None, help="Their date, ISO (YYYY-MM-DD), when known; "
              "otherwise each picture's EXIF capture date if it has one.")
@click.option("--caption", default=None, help="A caption stored with each item.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS,
              show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Fingerprint N files at a time in separate processes (this process writes "
                   "the archive; the result is the same).")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: this machine (--workers processes); dask: a Dask cluster (--scheduler) "
                   "for large indexes (its workers must see the files at the same paths).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="With --engine dask: tcp://host:8786, or 'local' for a LocalCluster.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def index_cmd(paths, archive_dir, source, date, caption, max_pixels, workers, engine, scheduler,
              as_json):
    """Add pictures and video keyframes under PATHS to a reference archive (incremental:
    files already indexed, by SHA-256, are skipped; unreadable ones are listed and skipped)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from veriscope.archive.build import index_paths

    err = _err_console()
    if date is not None:
        import datetime as _dt

        try:
            _dt.date.fromisoformat(date[:10])
        except ValueError:
            err.print(f"[red]error:[/red] --date {date!r} is not an ISO date (YYYY-MM-DD)",
                      soft_wrap=True)
            sys.exit(EXIT_USAGE)
    archive = _open_archive(archive_dir, create=True)
    progress = Progress(TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                        console=err, transient=True, disable=not err.is_terminal)
    task = None

    def tick(path, i, n):
        nonlocal task
        if task is None:
            task = progress.add_task("index", total=n)
        progress.update(task, completed=i, description=f"index {path.name[:40]}")

    from veriscope.pipeline.engine import make_engine

    try:
        eng = make_engine(engine, workers=workers, scheduler=scheduler)
    except (ValueError, RuntimeError, OSError) as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    try:
        with progress, eng:
            rep = index_paths(archive, paths, source=source, date=date, caption=caption,
                              max_pixels=max_pixels, progress=tick, map_fn=eng.map)
    except FileNotFoundError as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True)
        sys.exit(EXIT_USAGE)
    archive.ann()  # bring the search index up to date now, not at the first query
    if as_json:
        click.echo(json.dumps({**rep.to_dict(), "items": archive.count()}, indent=2))
    else:
        for p, why in rep.skipped:
            err.print(f"skipped: {p}: {why}", soft_wrap=True, markup=False)
        click.echo(f"{rep.added} file(s) added ({rep.keyframes} video keyframes), "
                   f"{rep.already} already indexed, {len(rep.skipped)} skipped; "
                   f"{archive.count()} items in {archive_dir}")


@cli.command("match")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--archive", "archive_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False))
@click.option("--top", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Also write the difference map and the registered archived version of the "
                   "best verified matches here (PNG).")
@click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS,
              show_default=True)
def match_cmd(path, archive_dir, top, fmt, out_dir, max_pixels):
    """Find earlier versions of the picture PATH in a reference archive: verified matches
    first, with what differs and which version is likely the earlier."""
    from veriscope.archive.build import capture_date
    from veriscope.archive.search import Query, match
    from veriscope.core.media import Media

    err = _err_console()
    archive = _open_archive(archive_dir)
    try:
        media = Media.open(path, max_pixels=max_pixels)
        if media.kind != "image":
            raise VeriscopeError(f"{path}: match takes a picture (index video keyframes with "
                                 "`veriscope index`; match one of its frames)")
        q = Query.from_rgb(media.rgb(), date=capture_date(media))
    except VeriscopeError as e:
        err.print(f"[red]error:[/red] {e}", soft_wrap=True, markup=False)
        sys.exit(EXIT_SOME_FAILED)
    matches = match(archive, q, top=top)
    if out_dir is not None:
        from PIL import Image

        out_dir.mkdir(parents=True, exist_ok=True)
        for k, m in enumerate(m for m in matches if m.diff is not None):
            Image.fromarray((m.diff * 255).astype("uint8")).save(out_dir / f"diff_{k + 1}.png")
            Image.fromarray(m.warped).save(out_dir / f"archived_{k + 1}.png")
    if fmt == "json":
        click.echo(json.dumps([m.to_dict() for m in matches], indent=2, default=float))
        return
    if not matches:
        click.echo(f"no candidate in {archive.count()} items")
        return
    for k, m in enumerate(matches, 1):
        it = m.item
        v = m.verification
        head = (f"{k}. {'VERIFIED' if m.verified else 'candidate'} {it['path']}"
                + (f" @ {it['t']:.2f} s" if it["kind"] == "keyframe" else "")
                + f"  inliers {v.inliers if v else 0}, votes {m.votes}"
                + (f", pHash distance {m.hash_distance}" if m.hash_distance is not None else ""))
        click.echo(head)
        meta = ", ".join(f"{k2} {it[k2]}" for k2 in ("date", "source", "caption") if it.get(k2))
        if meta:
            click.echo(f"   {meta}")
        if m.changed_fraction is not None:
            regs = "; ".join(f"x={r['x']} y={r['y']} {r['w']}x{r['h']}" for r in m.regions[:3])
            click.echo(f"   differs on {m.changed_fraction:.1%} of the common part"
                       + (f" ({regs})" if regs else "") + f"; earlier: {m.earlier} ("
                       + "; ".join(m.earlier_reasons) + ")")
        elif m.note:
            click.echo(f"   {m.note}")


def main(argv=None):
    try:
        cli.main(args=argv, prog_name="veriscope", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
