"""The desk's web application: REST API under ``/api/v1`` and server-rendered pages.

Authentication: API clients send ``X-API-Key``; a browser signs in once with a key and then
carries an HttpOnly, SameSite=Strict session cookie. Requests that change something with a
cookie must also carry the session's CSRF token (header ``X-CSRF-Token`` or form field
``csrf``), so another site cannot act through a signed-in browser. Every route but
``/api/v1/health`` and the sign-in page refuses without a key or session.

Uploads are raw request bodies (``POST /api/v1/cases/{id}/items?name=...``, one file each),
or, for a picture posted with a caption, a ``multipart/form-data`` body with the file (field
``file``) and the post's fields (``caption``, ``claimed_date``, ``claimed_place``, ``source``),
read by a streaming parser so the same limits apply. The file is
hashed and counted while it streams to a temporary file: a body over the byte limit is
refused with 413 as soon as it passes the limit (or at once from its Content-Length), and the
temporary file is removed. A picture whose header (in the first 64 kB) claims more pixels
than the limit is refused as soon as those bytes are in; the duration limit, and the pixel
limit of headers that lie further in, are read from the header once the file is in, before
anything is decoded. Every asset (CSS, JS) is served from the package: no page
loads anything from another host.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from veriscope.core.version import __version__
from veriscope.desk import queue
from veriscope.desk.store import PRIORITY_BATCH, PRIORITY_INTERACTIVE, REVIEW_STATES, Store

HERE = Path(__file__).parent
COOKIE = "vs_session"
SHA_PATTERN = r"^[0-9a-fA-F]{64}$"
ID = Annotated[int, PathParam(ge=1, le=2**62)]  # SQLite integers are 64-bit
_BINARY = {200: {"description": "The file's bytes (its media type: image, audio, video, HTML, "
                                "JSON).", "content": {"*/*": {"schema": {"type": "string",
                                                                         "format": "binary"}}}}}


@dataclass
class Limits:
    max_bytes: int = 1 << 30
    max_pixels: int = 120_000_000
    max_seconds: float = 600.0

    def to_dict(self) -> dict:
        return {"max_bytes": self.max_bytes, "max_pixels": self.max_pixels,
                "max_seconds": self.max_seconds}


# ------------------------------------------------------------------ API models
class CaseIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class Case(BaseModel):
    id: int
    name: str
    created: str
    n_items: int = 0
    n_done: int = 0
    n_failed: int = 0


class Post(BaseModel):
    """What a file was posted with (the fields of report.json's ``post`` object)."""
    caption: str
    date: str | None = None
    place: str | None = None
    source: str | None = None


class Item(BaseModel):
    id: int
    case_id: ID
    sha256: str
    name: str
    size: int
    expected_sha256: str | None
    hash_ok: bool | None
    created: str
    state: str
    error: str | None
    verdict: str | None
    score: float | None
    band: str | None
    kind: str | None
    review: str
    note: str
    tags: list[str]
    report_dir: str | None
    post: Post | None = Field(default=None, description="The caption (and claimed date, place "
                              "and source) the file was uploaded with; null for a plain file.")
    post_label: str | None = Field(default=None, description="Once analysed, report.json's "
                                   "post.label: contradicted, consistent, unchecked or "
                                   "inconclusive; null for a plain file or before the analysis.")


class Annotation(BaseModel):
    note: str | None = Field(default=None, max_length=20000)
    tags: list[str] | None = Field(default=None, max_length=50)
    review: str | None = Field(default=None, pattern="^(" + "|".join(REVIEW_STATES) + ")$")


class QueueStats(BaseModel):
    queued: int
    running: int
    done: int
    failed: int


class Health(BaseModel):
    status: str
    version: str
    queue: QueueStats


class AuditCheck(BaseModel):
    ok: bool
    rows: int
    head: str
    problems: list[str]


def _item_out(d: dict) -> dict:
    d = dict(d)
    d["hash_ok"] = None if d.get("hash_ok") is None else bool(d["hash_ok"])
    return {k: d.get(k) for k in Item.model_fields}


def create_app(data_dir, *, limits: Limits | None = None, detectors: str | None = None) -> FastAPI:
    store = Store(data_dir)
    limits = limits or Limits()
    app = FastAPI(title="veriscope desk", version=__version__,
                  description="Cases, uploads, analyses, notes and custody of a veriscope desk.",
                  docs_url=None, redoc_url=None)  # the docs pages would load assets from a CDN
    app.state.store, app.state.limits = store, limits

    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]))

    # -------------------------------------------------------------- who is asking
    def principal(request: Request) -> str:
        key = request.headers.get("x-api-key")
        if key is not None:
            name = store.check_key(key)
            if name is None:
                raise HTTPException(401, "unknown or revoked API key")
            return f"key:{name}"
        sess = store.session(request.cookies.get(COOKIE))
        if sess is None:
            raise HTTPException(401, "an API key is needed (header X-API-Key)")
        name, csrf = sess
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            sent = request.headers.get("x-csrf-token")
            if sent != csrf:
                raise HTTPException(403, "missing or wrong CSRF token")
        return f"key:{name}"

    def page_user(request: Request) -> tuple[str, str] | None:
        return store.session(request.cookies.get(COOKIE))

    api = APIRouter(prefix="/api/v1")

    @api.get("/health", response_model=Health, tags=["service"])
    def health():
        """Liveness and queue counts (no key needed)."""
        return {"status": "ok", "version": __version__, "queue": queue.stats(store)}

    @api.get("/cases", response_model=list[Case], tags=["cases"])
    def list_cases(who: str = Depends(principal)):
        return store.cases()

    @api.post("/cases", response_model=Case, status_code=201, tags=["cases"])
    def create_case(body: CaseIn, who: str = Depends(principal)):
        cid = store.create_case(body.name, who)
        return {**store.case(cid), "n_items": 0, "n_done": 0, "n_failed": 0}

    @api.get("/cases/{case_id}/items", response_model=list[Item], tags=["cases"])
    def case_items(case_id: ID, who: str = Depends(principal)):
        if store.case(case_id) is None:
            raise HTTPException(404, f"no case {case_id}")
        return [_item_out(i) for i in store.items(case_id)]

    @api.get("/cases/{case_id}/bundle", tags=["custody"],
             response_class=FileResponse,
             responses={200: {"content": {"application/zip": {}},
                              "description": "The case as a signed BagIt bundle (zip)."}})
    def case_bundle(case_id: ID, who: str = Depends(principal)):
        """The case as a signed evidence bundle: a BagIt zip with the originals, the reports,
        items.json, the audit chain (other cases' rows redacted) and case.jsonld (CASE/UCO),
        its tag manifest signed with the desk's Ed25519 key (``veriscope verify-bundle``)."""
        import shutil

        from starlette.background import BackgroundTask

        from veriscope.desk.bundle import BundleError, export_case

        if store.case(case_id) is None:
            raise HTTPException(404, f"no case {case_id}")
        work = store.new_tmp("-export")
        work.mkdir(parents=True)
        try:
            path = export_case(store, case_id, work / f"case-{case_id}.zip", who)
        except BaseException as e:
            shutil.rmtree(work, ignore_errors=True)
            if isinstance(e, BundleError):  # a damaged stored file or audit chain: said why
                raise HTTPException(409, str(e)) from None
            raise
        return FileResponse(path, media_type="application/zip", filename=path.name,
                            background=BackgroundTask(shutil.rmtree, work, ignore_errors=True))

    @api.post("/cases/{case_id}/items", response_model=Item, status_code=201, tags=["items"],
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                  "multipart/form-data": {"schema": _FORM_SCHEMA}}}})
    async def upload(case_id: ID, request: Request,
                     name: str = Query(min_length=1, max_length=1000),
                     expected_sha256: str | None = Query(default=None, pattern=SHA_PATTERN),
                     batch: bool = Query(default=False),
                     who: str = Depends(principal)):
        """Upload one file, its analysis queued (``batch=true``: after interactive uploads).
        The body is the file's bytes, or ``multipart/form-data`` with the file as the field
        ``file`` and the post it came with: ``caption`` and, with it, ``claimed_date``
        (YYYY[-MM[-DD]]), ``claimed_place`` and ``source`` (checked here: a bad caption is
        refused with 400 and nothing is stored)."""
        if store.case(case_id) is None:
            raise HTTPException(404, f"no case {case_id}")
        stray = [f for f in FORM_FIELDS if f in request.query_params]
        if stray:
            raise HTTPException(400, f"{', '.join(stray)}: send the post's fields as "
                                     "multipart/form-data fields next to the file (field "
                                     "'file'), not in the URL")
        ctype = request.headers.get("content-type", "")
        form = ctype.split(";")[0].strip().lower() == "multipart/form-data"
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and \
                int(declared) > limits.max_bytes + (FORM_SLACK if form else 0):
            raise HTTPException(413, f"the file is {int(declared)} bytes; this desk accepts at "
                                     f"most {limits.max_bytes} bytes")
        from veriscope.desk.store import safe_name

        suffix = Path(safe_name(name)).suffix[:12]
        tmp = store.new_tmp(suffix)
        try:
            with open(tmp, "wb") as fh:
                sink = _Sink(fh, limits)
                if form:
                    post = await _read_form(request, ctype, sink, limits)
                else:
                    post = None
                    async for chunk in request.stream():
                        sink.write(chunk)
            if sink.n == 0:
                raise HTTPException(400, "the file is empty (0 bytes)")
            _check_media(tmp, limits)
            return _item_out(store.add_item(
                case_id, tmp, sha256=sink.h.hexdigest(), size=sink.n, name=name, actor=who,
                expected_sha256=expected_sha256, detectors=detectors,
                priority=PRIORITY_BATCH if batch else PRIORITY_INTERACTIVE, post=post))
        finally:
            tmp.unlink(missing_ok=True)  # moved into files/ on success

    @api.get("/items/{item_id}", response_model=Item, tags=["items"])
    def get_item(item_id: ID, who: str = Depends(principal)):
        return _item_out(_item_or_404(store, item_id))

    @api.patch("/items/{item_id}", response_model=Item, tags=["items"])
    def annotate(item_id: ID, body: Annotation, who: str = Depends(principal)):
        _item_or_404(store, item_id)
        return _item_out(store.annotate(item_id, who, note=body.note, tags=body.tags,
                                        review=body.review))

    @api.get("/items/{item_id}/report", tags=["items"])
    def get_report(item_id: ID, who: str = Depends(principal)):
        """The item's report (schema veriscope.report/1) with the desk's notes, tags and review
        status added under ``desk``."""
        it = _item_or_404(store, item_id)
        rep = store.report(it)
        if rep is None:
            raise HTTPException(409, f"item {item_id} has no report yet (state: {it['state']})")
        rep["desk"] = {"item": item_id, "case": it["case_id"], "review": it["review"],
                       "note": it["note"], "tags": it["tags"], "hash_ok": it["hash_ok"]}
        if it.get("post") is not None:  # a plain file's report is exactly as before
            rep["desk"]["post"] = it["post"]
        return JSONResponse(rep)

    @api.get("/items/{item_id}/files/{rel:path}", tags=["items"], response_class=FileResponse,
             responses=_BINARY)
    def report_file(item_id: ID, rel: str, who: str = Depends(principal)):
        """A file of the item's report folder (report.html, maps/..., views/..., display.jpg)."""
        it = _item_or_404(store, item_id)
        base = store.report_path(it)
        if base is None:
            raise HTTPException(404, "no report yet")
        p = (base / rel).resolve()
        if base.resolve() not in p.parents or not p.is_file():
            raise HTTPException(404, "no such file in this report")
        # report.html is self-contained but holds text from the file (names, metadata):
        # served sandboxed, it runs as an origin of its own and cannot act for the user
        return FileResponse(p, media_type=mimetypes.guess_type(p.name)[0] or
                            "application/octet-stream", headers=_REPORT_HEADERS)

    @api.get("/items/{item_id}/original", tags=["items"], response_class=FileResponse,
             responses=_BINARY)
    def original(item_id: ID, download: bool = False, who: str = Depends(principal)):
        """The file as received (byte for byte)."""
        it = _item_or_404(store, item_id)
        mt = mimetypes.guess_type(it["name"])[0] or "application/octet-stream"
        return FileResponse(store.blob_path(it["sha256"]), media_type=mt,
                            filename=it["name"] if download else None,
                            content_disposition_type="attachment" if download else "inline")

    @api.get("/search", response_model=list[Item], tags=["items"])
    def search(q: str | None = Query(default=None, max_length=200),
               verdict: str | None = Query(default=None, max_length=40),
               tag: str | None = Query(default=None, max_length=40),
               who: str = Depends(principal)):
        """Items whose file name contains ``q``, whose SHA-256 starts with it, tagged so, or
        posted with a caption, claimed place or source that contains it (any case; ``%`` and
        ``_`` are literal); optionally only one verdict label or tag."""
        return [_item_out(i) for i in store.items(query=q, verdict=verdict, tag=tag)]

    @api.get("/queue", response_model=QueueStats, tags=["service"])
    def queue_stats(who: str = Depends(principal)):
        return queue.stats(store)

    @api.get("/audit/verify", response_model=AuditCheck, tags=["custody"])
    def audit_verify(who: str = Depends(principal)):
        """Re-derive the audit chain: where the first edited, deleted or reordered row is."""
        return store.verify_audit().to_dict()

    @api.get("/audit", tags=["custody"])
    def audit_rows(since: int = Query(default=0, ge=0), who: str = Depends(principal)):
        return [r for r in store.audit_rows() if r["seq"] > since][:1000]

    app.include_router(api)

    # -------------------------------------------------------------- pages
    def render(name: str, request: Request, status: int = 200, **ctx) -> HTMLResponse:
        sess = page_user(request)
        html = env.get_template(name).render(user=sess[0] if sess else None,
                                             csrf=sess[1] if sess else "", version=__version__,
                                             limits=limits, **ctx)
        return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)

    def need_login(request: Request):
        if page_user(request) is None:
            raise _LoginRedirect()

    @app.exception_handler(_LoginRedirect)
    def _to_login(request: Request, exc):
        return RedirectResponse("/login", status_code=303)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, error: str | None = None):
        return render("login.html", request, error=error)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        form = await request.form()
        name = store.check_key(str(form.get("key", "")))
        if name is None:
            return render("login.html", request, status=401, error="Unknown or revoked key.")
        token, _ = store.open_session(name)
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=12 * 3600)
        return resp

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request):
        sess = page_user(request)
        form = await request.form()
        if sess is not None and form.get("csrf") == sess[1]:
            store.close_session(request.cookies.get(COOKIE))
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    @app.get("/", response_class=HTMLResponse, include_in_schema=False,
             dependencies=[Depends(need_login)])
    def home(request: Request):
        return render("cases.html", request, cases=store.cases(), stats=queue.stats(store))

    @app.post("/cases", include_in_schema=False, dependencies=[Depends(need_login)])
    async def new_case_form(request: Request):
        form = await request.form()
        name, csrf = page_user(request)
        if form.get("csrf") != csrf:
            raise HTTPException(403, "missing or wrong CSRF token")
        cid = store.create_case(str(form.get("name", "")), f"key:{name}")
        return RedirectResponse(f"/cases/{cid}", status_code=303)

    @app.get("/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False,
             dependencies=[Depends(need_login)])
    def case_page(request: Request, case_id: ID):
        case = store.case(case_id)
        if case is None:
            raise HTTPException(404, f"no case {case_id}")
        return render("case.html", request, case=case, items=store.items(case_id))

    @app.get("/items/{item_id}", response_class=HTMLResponse, include_in_schema=False,
             dependencies=[Depends(need_login)])
    def item_page(request: Request, item_id: ID):
        it = _item_or_404(store, item_id)
        rep = store.report(it)
        base = store.report_path(it)

        def has(rel: str) -> bool:
            return base is not None and (base / rel).is_file()

        return render("item.html", request, item=it, case=store.case(it["case_id"]), report=rep,
                      view=_view_model(rep) if rep else None,
                      has_display=has("display.jpg"), has_fused=has("maps/fused.png"),
                      reviews=REVIEW_STATES)

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False,
             dependencies=[Depends(need_login)])
    def search_page(request: Request, q: str | None = None, verdict: str | None = None,
                    tag: str | None = None):
        items = store.items(query=q, verdict=verdict or None, tag=tag or None)
        from veriscope.core.fusion import VERDICT_LABELS

        return render("search.html", request, items=items, q=q or "", verdict=verdict or "",
                      tag=tag or "", labels=VERDICT_LABELS)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        p = HERE / "static" / Path(name).name
        if not p.is_file():
            raise HTTPException(404)
        return FileResponse(p, media_type=mimetypes.guess_type(p.name)[0],
                            headers={"Cache-Control": "no-cache"})

    return app


_SECURITY_HEADERS = {
    # pages load only from this server; no frames; no referrer leaves
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self'; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


_REPORT_HEADERS = {
    "Content-Security-Policy": "sandbox allow-scripts allow-popups; default-src 'none'; "
                               "img-src data: blob:; style-src 'unsafe-inline'; "
                               "script-src 'unsafe-inline'; media-src data: blob:",
    "X-Content-Type-Options": "nosniff",
}


class _LoginRedirect(Exception):
    pass


def _item_or_404(store: Store, item_id: int) -> dict:
    it = store.item(item_id)
    if it is None:
        raise HTTPException(404, f"no item {item_id}")
    return it


HEAD_BYTES = 64 << 10
"""Bytes of an upload read before its picture header is checked against the pixel limit."""

FORM_FIELDS = ("caption", "claimed_date", "claimed_place", "source")
"""The post's fields of a multipart upload, beside the file (field ``file``)."""

FIELD_BYTES = 64 << 10
"""Most bytes read of one post field (a caption of 10,000 characters is at most 40 kB of
UTF-8; :func:`veriscope.core.post.make_post` checks the characters)."""

FORM_SLACK = 1 << 20
"""Bytes a multipart body may carry beyond the file (fields, part headers, boundaries)."""

_FORM_SCHEMA = {
    "type": "object", "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "The file."},
        "caption": {"type": "string", "description": "The caption the picture was posted with "
                    "(1 to 10,000 characters of text)."},
        "claimed_date": {"type": "string", "description": "With a caption: the post's date, "
                         "YYYY, YYYY-MM or YYYY-MM-DD."},
        "claimed_place": {"type": "string", "description": "With a caption: the place the post "
                          "claims (a city or country)."},
        "source": {"type": "string", "description": "With a caption: where the post comes "
                   "from (kept in the report)."},
    },
}


class _Sink:
    """The uploaded file on its way to ``tmp/``: hashed and counted as it streams, refused (413)
    as soon as it passes the byte limit, or when its first bytes hold a picture header over the
    pixel limit."""

    def __init__(self, fh, limits: Limits):
        self.fh, self.limits = fh, limits
        self.h, self.n, self.head, self.probed = hashlib.sha256(), 0, bytearray(), False

    def write(self, chunk: bytes) -> None:
        self.n += len(chunk)
        if self.n > self.limits.max_bytes:
            raise HTTPException(413, f"the file is over {self.limits.max_bytes} bytes, "
                                     "the most this desk accepts")
        self.h.update(chunk)
        self.fh.write(chunk)
        if not self.probed and len(self.head) < HEAD_BYTES:
            self.head += chunk[:HEAD_BYTES - len(self.head)]
            if len(self.head) >= HEAD_BYTES:  # a picture too large is refused now,
                self.probed = True  # from its header, before the rest arrives
                _check_header(bytes(self.head), self.limits)


async def _read_form(request: Request, ctype: str, sink: _Sink, limits: Limits) -> dict | None:
    """Stream a ``multipart/form-data`` upload: the part ``file`` into ``sink``, the post's
    fields into memory (each at most :data:`FIELD_BYTES`). Returns the checked post (None when
    no caption was given); anything else in the form is refused with 400."""
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header

    from veriscope.core.post import PostError, make_post

    _, opts = parse_options_header(ctype)
    boundary = opts.get(b"boundary")
    if not boundary:
        raise HTTPException(400, "a multipart/form-data body needs a boundary in its "
                                 "Content-Type")
    st = {"hname": b"", "hval": b"", "disp": b"", "kind": None, "name": "", "files": 0,
          "ended": False}
    fields: dict[str, bytearray] = {}

    def on_part_begin():
        st["disp"], st["kind"] = b"", None

    def on_header_field(data, start, end):
        st["hname"] += data[start:end]

    def on_header_value(data, start, end):
        st["hval"] += data[start:end]

    def on_header_end():
        if st["hname"].strip().lower() == b"content-disposition":
            st["disp"] = st["hval"]
        st["hname"], st["hval"] = b"", b""

    def on_headers_finished():
        _, o = parse_options_header(st["disp"])
        name = o.get(b"name", b"").decode("utf-8", "replace")
        if name == "file":
            st["files"] += 1
            if st["files"] > 1:
                raise HTTPException(400, "one file per upload (the form has several 'file' parts)")
            st["kind"] = "file"
        elif name in FORM_FIELDS:
            if name in fields:
                raise HTTPException(400, f"the form field {name!r} is given twice")
            fields[name] = bytearray()
            st["kind"], st["name"] = "field", name
        else:
            raise HTTPException(400, f"unknown form field {name[:40]!r}: an upload's form holds "
                                     f"'file' and optionally {', '.join(FORM_FIELDS)}")

    def on_part_data(data, start, end):
        if st["kind"] == "file":
            sink.write(data[start:end])
        elif st["kind"] == "field":
            buf = fields[st["name"]]
            buf += data[start:end]
            if len(buf) > FIELD_BYTES:
                raise HTTPException(413, f"the form field {st['name']!r} is over {FIELD_BYTES} "
                                         "bytes")

    def on_end():
        st["ended"] = True

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_end": on_end})
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limits.max_bytes + FORM_SLACK:
                raise HTTPException(413, f"the upload is over {limits.max_bytes} bytes, "
                                         "the most this desk accepts")
            parser.write(chunk)
        parser.finalize()
    except FormParserError as e:
        raise HTTPException(400, f"not a valid multipart/form-data body ({e})") from None
    if not st["ended"]:
        raise HTTPException(400, "the multipart/form-data body ends before its closing boundary")
    if st["files"] == 0:
        raise HTTPException(400, "no file in the form: send it as the field 'file'")
    text = {}
    for k, v in fields.items():
        try:
            text[k] = bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, f"the form field {k!r} is not UTF-8 text") from None
    if "caption" not in text:
        if text:
            raise HTTPException(400, f"{', '.join(text)} need(s) a caption (the form field "
                                     "'caption')")
        return None
    try:
        return make_post(text["caption"], date=text.get("claimed_date"),
                         place=text.get("claimed_place"), source=text.get("source"))
    except PostError as e:
        raise HTTPException(400, str(e)) from None


def _check_header(head: bytes, limits: Limits) -> None:
    """413 as soon as a picture's header claims more pixels than the limit (whatever cannot be
    read from the first bytes is checked once the whole file is in)."""
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(head)) as im:
                w, h = im.size
    except Image.DecompressionBombError:
        raise HTTPException(413, "the picture's header claims more pixels than this desk "
                                 "accepts") from None
    except Exception:  # not a picture, or a header beyond the first bytes
        return
    if w * h > limits.max_pixels:
        raise HTTPException(413, f"the picture is {w}x{h} pixels ({w * h / 1e6:.0f} MP); this "
                                 f"desk accepts at most {limits.max_pixels / 1e6:.0f} MP "
                                 "(over the limit)")


def _check_media(path: Path, limits: Limits) -> None:
    """Refuse what the analysis would refuse, from the header only (nothing decoded): not
    media (415), over the pixel or duration limit (413)."""
    from veriscope.core.errors import MediaError
    from veriscope.core.media import Media

    try:
        m = Media.open(path, max_pixels=limits.max_pixels)
    except MediaError as e:
        code = 413 if "limit" in e.message else 415
        raise HTTPException(code, e.message) from None
    dur = m.facts.get("duration")
    if isinstance(dur, int | float) and dur > limits.max_seconds:
        raise HTTPException(413, f"the recording lasts {dur:.0f} s; this desk accepts at most "
                                 f"{limits.max_seconds:.0f} s")


def _view_model(rep: dict) -> dict:
    """What the file page shows from a report: verdict, findings, timeline segments,
    provenance."""
    ev = rep.get("evidence", [])
    findings, segments, prov = [], [], []
    for e in ev:
        for f in e.get("findings", []):
            findings.append({"detector": e["name"], **f})
        for s in e.get("segments", []):
            segments.append({"detector": e["name"], **s})
        if e["name"] in ("c2pa", "metadata", "watermark", "jpeg_tables", "video_container") \
                and e.get("applicable", True) and not e.get("error"):
            prov.append({"detector": e["name"], "label": e.get("label"), "score": e.get("score"),
                         "findings": e.get("findings", [])})
    media = rep.get("media", {})
    post = rep.get("post")
    return {"verdict": rep.get("verdict", {}), "findings": findings,
            "post": None if post is None else {
                "label": post.get("label"), "score": post.get("score"),
                "summary": post.get("summary"),
                "claims": [{"text": c.get("text", ""), "source": c.get("source") or "caption",
                            "status": c.get("status", ""),
                            "checks": [{"detector": ch.get("detector", ""),
                                        "why": ch.get("why", "")}
                                       for ch in c.get("checks", [])]}
                           for c in post.get("claims", [])]},
            "segments": sorted(segments, key=lambda s: s.get("start", 0)),
            "provenance": prov, "media": media,
            "duration": media.get("duration"),
            "scored": [{"name": e["name"], "score": e.get("score"), "label": e.get("label"),
                        "error": e.get("error")} for e in ev if e.get("applicable", True)],
            "json": json.dumps(rep.get("verdict", {}), indent=2)}


def serve_key_hint(store: Store) -> str | None:
    """A first key when the desk has none (printed once by ``veriscope serve``)."""
    with store.read() as c:
        n = c.execute("SELECT COUNT(*) FROM api_keys WHERE revoked = 0").fetchone()[0]
    return store.add_key("admin") if n == 0 else None


