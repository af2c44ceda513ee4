"""Recognise AI-generator and editing-software markers in metadata (private helper).

Input is a :class:`~veriscope.formats.metadata.Meta`; output is a list of :class:`Hit`.
Parsers here read the formats that generator front-ends write into files: AUTOMATIC1111 /
Forge ``parameters`` text, ComfyUI ``prompt``/``workflow`` node graphs, NovelAI ``Comment`` JSON,
InvokeAI ``invokeai_metadata`` / ``sd-metadata`` / ``Dream``, IPTC DigitalSourceType codes, and
tool names in Software / CreatorTool style fields.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from veriscope.formats.metadata import Meta, truncate

SCORE_GENERATOR = 0.97
SCORE_AI_COMPOSITE = 0.97
SCORE_EDITOR = 0.35
SCORE_DST_EDITED = 0.30
SCORE_DST_NONPHOTO = 0.40

MODEL_EXTS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft", ".onnx", ".pkl")

_MAX_JSON = 16 * 1024 * 1024
MAX_SCAN = 4 * 1024 * 1024  # characters of one text blob searched for DigitalSourceType URLs


@dataclass
class Hit:
    code: str
    severity: str
    label: str | None
    score: float | None
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] | None = None  # {"tool", "models", "params"}
    rank: int = 50  # tie-break between equal scores: lower wins


# --------------------------------------------------------------------------- helpers
def _json(s: str):
    if not isinstance(s, str) or len(s) > _MAX_JSON:
        return None
    s = s.strip()
    if not s or s[0] not in "{[":
        return None
    try:
        return json.loads(s)
    except (ValueError, RecursionError):
        return None


def _short(s, n=300) -> str:
    return truncate(" ".join(str(s).split()), n)


def _uniq(seq) -> list:
    out = []
    for x in seq:
        if x and x not in out:
            out.append(x)
    return out


def _is_model_file(v) -> bool:
    return isinstance(v, str) and v.lower().endswith(MODEL_EXTS) and len(v) < 400


# --------------------------------------------------------------------------- AUTOMATIC1111 / Forge
_A1111_KEY = re.compile(r"[A-Za-z][\w \-/.()]{0,60}")


def _split_params(line: str) -> dict[str, str]:
    """'Key: value, Key: "quoted, value", ...' -> dict, in one linear pass."""
    pieces, cur, inq, esc = [], [], False, False
    for ch in line:
        if esc:
            esc = False
        elif ch == "\\" and inq:
            esc = True
        elif ch == '"':
            inq = not inq
        elif ch == "," and not inq:
            pieces.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    pieces.append("".join(cur))
    out: dict[str, str] = {}
    last = None
    for piece in pieces:
        k, sep, v = piece.partition(":")
        k = k.strip()
        if sep and _A1111_KEY.fullmatch(k):
            v = v.strip()
            if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                try:
                    v = str(json.loads(v))
                except ValueError:
                    v = v[1:-1]
            out[k] = v
            last = k
        elif last is not None:  # a comma inside an unquoted value
            out[last] += "," + piece
    return out
_LORA_TAG = re.compile(r"<(lora|lyco|hypernet):([^:>]+)(?::[^>]*)?>", re.I)


def parse_a1111(text: str) -> dict | None:
    """Split A1111-style generation text into prompt, negative prompt and key/value settings."""
    if not isinstance(text, str) or "Steps:" not in text:
        return None
    lines = text.strip().replace("\r\n", "\n").split("\n")
    idx = None
    for i in range(len(lines) - 1, -1, -1):
        if re.match(r"^\s*Steps:\s*\d+", lines[i]):
            idx = i
            break
    if idx is None:
        return None
    params: dict[str, str] = {}
    for line in lines[idx:idx + 20]:
        params.update(_split_params(line[:50000]))
    if not ({"Sampler", "Seed", "CFG scale"} & set(params)):
        return None
    head = lines[:idx]
    prompt_lines, neg_lines, in_neg = [], [], False
    for line in head:
        if line.startswith("Negative prompt:"):
            in_neg = True
            line = line[len("Negative prompt:"):].strip()
        (neg_lines if in_neg else prompt_lines).append(line)
    prompt = "\n".join(prompt_lines).strip()
    models = []
    if params.get("Model"):
        models.append(params["Model"])
    for k in ("Refiner", "Hires checkpoint", "VAE", "Hypernet"):
        if params.get(k):
            models.append(params[k].split(" [")[0])
    for k in ("Lora hashes", "TI hashes"):
        for part in params.get(k, "").split(","):
            name = part.split(":")[0].strip()
            if name:
                models.append(name)
    for _kind, name in _LORA_TAG.findall(prompt[:100000]):
        models.append(name.strip())
    version = params.get("Version", "")
    if re.match(r"^f\d", version) or "forge" in version.lower():
        tool = "Stable Diffusion WebUI Forge"
    elif "fooocus" in version.lower():
        tool = "Fooocus"
    elif "Civitai resources" in params or "Created Date" in params:
        tool = "Civitai generator (A1111-style parameters)"
    elif version.startswith("v1.") or version.startswith("1."):
        tool = "AUTOMATIC1111 Stable Diffusion WebUI"
    else:
        tool = "AUTOMATIC1111-style Stable Diffusion front-end"
    keep = {k: params[k] for k in ("Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size",
                                   "Model hash", "Model", "Denoising strength", "Version",
                                   "Clip skip", "VAE") if k in params}
    keep["prompt"] = _short(prompt)
    keep["negative_prompt"] = _short("\n".join(neg_lines).strip())
    return {"tool": tool, "models": _uniq(models), "params": keep,
            "model_hash": params.get("Model hash")}


# --------------------------------------------------------------------------- ComfyUI
_ROLE_BY_KEY = {
    "ckpt_name": "checkpoint", "unet_name": "diffusion model", "model_name": "model",
    "lora_name": "lora", "vae_name": "vae", "hypernetwork_name": "hypernetwork",
    "control_net_name": "controlnet", "style_model_name": "style model",
    "clip_vision_name": "clip vision", "gligen_name": "gligen", "upscale_model": "upscaler",
    "ipadapter_file": "ipadapter", "instantid_file": "instantid",
}
_PRIMARY_ROLES = ("checkpoint", "diffusion model")
_TEXT_KEYS = ("text", "text_g", "text_l", "t5xxl", "clip_l", "clip_g", "bert", "mt5xl", "prompt",
              "string", "value", "positive_prompt")
_LINK_KEYS = ("positive", "conditioning", "guider", "conditioning_to", "conditioning_1", "cond",
              "conditioning_from", "text", "clip_l", "t5xxl", "string")


def _role(key: str, class_type: str) -> str | None:
    k = key.lower()
    if k in _ROLE_BY_KEY:
        r = _ROLE_BY_KEY[k]
        if r == "model" and "upscale" in class_type.lower():
            return "upscaler"
        return r
    if re.fullmatch(r"clip_name\d*", k):
        return "text encoder"
    if k.endswith("_name") or k.endswith("_file"):
        return "other"
    return None


_COMFY_SCALARS = ("seed", "noise_seed", "steps", "cfg", "guidance", "sampler_name", "scheduler",
                  "denoise")


def _scalar(v) -> bool:
    return isinstance(v, (int, float, str)) and not isinstance(v, bool)


def _is_link(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and isinstance(v[0], (str, int)) and \
        isinstance(v[1], int)


def parse_comfy_prompt(graph: dict) -> dict | None:
    """Read a ComfyUI API-format graph ({node_id: {class_type, inputs}})."""
    if not isinstance(graph, dict):
        return None
    nodes = {str(k): v for k, v in graph.items()
             if isinstance(v, dict) and isinstance(v.get("class_type"), str)}
    if not nodes:
        return None
    by_role: dict[str, list[str]] = {}
    loaders = []
    samplers = []
    size = None
    for nid, node in nodes.items():
        ct = node["class_type"]
        inputs = node.get("inputs") if isinstance(node.get("inputs"), dict) else {}
        for k, v in inputs.items():
            if not isinstance(v, str) or not v or v.lower() == "none":
                continue
            role = _role(k, ct)
            if role is None and _is_model_file(v):
                role = "other"
            if role is None or (role == "other" and not _is_model_file(v)):
                continue
            by_role.setdefault(role, [])
            if v not in by_role[role]:
                by_role[role].append(v)
            if ct not in loaders:
                loaders.append(ct)
        if len(samplers) < 20 and "sampler" in ct.lower() and (_is_link(inputs.get("positive")) or
                                        _is_link(inputs.get("guider"))):
            s = {k: inputs[k] for k in _COMFY_SCALARS if _scalar(inputs.get(k))}
            s["node"] = f"{nid}:{ct}"
            pos = inputs.get("positive") if _is_link(inputs.get("positive")) else \
                inputs.get("guider")
            s["positive"] = _short(_comfy_text(nodes, pos, 0) or "", 200)
            s["negative"] = _short(_comfy_text(nodes, inputs.get("negative"), 0, "negative") or "",
                                   200)
            samplers.append(s)
        if size is None and isinstance(inputs.get("width"), int) and \
                isinstance(inputs.get("height"), int) and "latent" in ct.lower():
            size = f"{inputs['width']}x{inputs['height']}"
    models = []
    for role in _PRIMARY_ROLES:
        models += by_role.get(role, [])
    for role, names in by_role.items():
        if role not in _PRIMARY_ROLES:
            models += names
    models = _uniq(models)
    if not models and not samplers:
        return None
    params: dict[str, Any] = {}
    if samplers:
        params.update({k: v for k, v in samplers[0].items() if k != "node"})
        if len(samplers) > 1:
            params["samplers"] = samplers[:4]
    for node in nodes.values():  # settings held by helper nodes (RandomNoise, BasicScheduler...)
        inputs = node.get("inputs") if isinstance(node.get("inputs"), dict) else {}
        for k in _COMFY_SCALARS:
            if _scalar(inputs.get(k)):
                params.setdefault(k, inputs[k])
    params["node_count"] = len(nodes)
    if size:
        params["size"] = size
    primary = []
    for role in _PRIMARY_ROLES:
        primary += by_role.get(role, [])
    return {"tool": "ComfyUI", "models": models, "primary_models": _uniq(primary) or models[:1],
            "models_by_role": by_role, "loader_nodes": loaders, "params": params}


def _comfy_text(nodes: dict, link, depth: int, side: str = "positive",
                seen: set | None = None) -> str | None:
    """Follow conditioning links back to the first node that holds prompt text."""
    if depth > 8 or not _is_link(link):
        return None
    seen = set() if seen is None else seen
    nid = str(link[0])
    if nid in seen:  # each node is visited once: cycles and fan-out stay linear
        return None
    seen.add(nid)
    node = nodes.get(nid)
    if not isinstance(node, dict):
        return None
    inputs = node.get("inputs") if isinstance(node.get("inputs"), dict) else {}
    for k in _TEXT_KEYS:
        v = inputs.get(k)
        if isinstance(v, str) and v.strip():
            return v
    keys = (side,) + tuple(k for k in _LINK_KEYS if k not in ("positive", "negative"))
    for k in keys:
        t = _comfy_text(nodes, inputs.get(k), depth + 1, side, seen)
        if t:
            return t
    return None


def parse_comfy_workflow(wf: dict) -> dict | None:
    """Read a ComfyUI UI-format workflow ({nodes: [{type, widgets_values}]}): model files only."""
    if not isinstance(wf, dict) or not isinstance(wf.get("nodes"), list):
        return None
    models, loaders, primary = [], [], []
    for node in wf["nodes"][:5000]:
        if not isinstance(node, dict):
            continue
        vals = node.get("widgets_values")
        if isinstance(vals, dict):
            vals = list(vals.values())
        if not isinstance(vals, list):
            continue
        ntype = str(node.get("type") or "")
        for v in vals:
            if _is_model_file(v):
                models.append(v)
                if re.search(r"checkpoint|unet|diffusion|gguf", ntype, re.I):
                    primary.append(v)
                if ntype not in loaders:
                    loaders.append(ntype)
    models = _uniq(primary) + [m for m in _uniq(models) if m not in primary]
    return {"tool": "ComfyUI", "models": models, "primary_models": _uniq(primary) or models[:1],
            "loader_nodes": loaders, "params": {"node_count": len(wf["nodes"])}}


# --------------------------------------------------------------------------- other front-ends
def parse_novelai(text: dict[str, str]) -> dict | None:
    sw = text.get("Software", "")
    src = text.get("Source", "")
    if "novelai" not in sw.lower() and "novelai" not in src.lower():
        return None
    params: dict[str, Any] = {}
    c = _json(text.get("Comment", ""))
    if isinstance(c, dict):
        for k in ("steps", "sampler", "seed", "scale", "cfg_rescale", "noise_schedule", "width",
                  "height", "request_type"):
            if k in c and isinstance(c[k], (int, float, str)):
                params[k] = c[k]
        if isinstance(c.get("prompt"), str):
            params["prompt"] = _short(c["prompt"])
        if isinstance(c.get("uc"), str):
            params["negative_prompt"] = _short(c["uc"])
    elif text.get("Description"):
        params["prompt"] = _short(text["Description"])
    models = [src] if src else []
    return {"tool": "NovelAI", "models": models, "params": params}


def parse_invokeai(text: dict[str, str]) -> dict | None:
    m = _json(text.get("invokeai_metadata", ""))
    if isinstance(m, dict):
        models, params = [], {}
        mod = m.get("model")
        if isinstance(mod, dict):
            name = mod.get("name") or mod.get("model_name")
            if name:
                models.append(str(name))
            if mod.get("base") or mod.get("base_model"):
                params["base"] = mod.get("base") or mod.get("base_model")
        elif isinstance(mod, str):
            models.append(mod)
        for lo in m.get("loras") or []:
            if isinstance(lo, dict):
                ref = lo.get("model") or lo.get("lora") or {}
                if isinstance(ref, dict) and (ref.get("name") or ref.get("model_name")):
                    models.append(str(ref.get("name") or ref.get("model_name")))
        vae = m.get("vae")
        if isinstance(vae, dict) and (vae.get("name") or vae.get("model_name")):
            models.append(str(vae.get("name") or vae.get("model_name")))
        for k in ("seed", "steps", "cfg_scale", "scheduler", "width", "height", "generation_mode",
                  "app_version"):
            if isinstance(m.get(k), (int, float, str)):
                params[k] = m[k]
        if isinstance(m.get("positive_prompt"), str):
            params["prompt"] = _short(m["positive_prompt"])
        if isinstance(m.get("negative_prompt"), str):
            params["negative_prompt"] = _short(m["negative_prompt"])
        return {"tool": "InvokeAI", "models": _uniq(models), "params": params}
    m = _json(text.get("sd-metadata", ""))
    if isinstance(m, dict):
        models = [str(m[k]) for k in ("model_weights",) if m.get(k)]
        params = {}
        img = m.get("image") if isinstance(m.get("image"), dict) else {}
        for k in ("seed", "steps", "cfg_scale", "sampler", "width", "height", "type"):
            if isinstance(img.get(k), (int, float, str)):
                params[k] = img[k]
        p = img.get("prompt")
        if isinstance(p, list):
            p = " ".join(str(x.get("prompt", "")) for x in p if isinstance(x, dict))
        if isinstance(p, str):
            params["prompt"] = _short(p)
        if m.get("app_version"):
            params["app_version"] = m["app_version"]
        return {"tool": "InvokeAI", "models": _uniq(models), "params": params}
    dream = text.get("Dream")
    if isinstance(dream, str) and re.search(r"\s-S\s*\d+", dream):
        return {"tool": "InvokeAI (legacy 'dream' script)", "models": [],
                "params": {"command": _short(dream)}}
    return None


def parse_json_params(obj: dict) -> dict | None:
    """JSON generation records (Fooocus, SwarmUI, Easy Diffusion, generic)."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("sui_image_params"), dict):
        p = obj["sui_image_params"]
        models = [str(p["model"])] if p.get("model") else []
        params = {k: p[k] for k in ("seed", "steps", "cfgscale", "sampler", "scheduler", "width",
                                    "height") if isinstance(p.get(k), (int, float, str))}
        if isinstance(p.get("prompt"), str):
            params["prompt"] = _short(p["prompt"])
        return {"tool": "SwarmUI", "models": models, "params": params}
    low = {str(k).lower(): v for k, v in obj.items()}
    model_keys = ("base model", "base_model", "refiner model", "refiner_model", "model",
                  "sd_model", "model_name", "checkpoint", "use_stable_diffusion_model",
                  "use_vae_model", "use_lora_model")
    gen_keys = ("prompt", "negative prompt", "negative_prompt", "seed", "steps", "sampler",
                "sampler_name", "cfg", "cfg_scale", "guidance_scale", "num_inference_steps")
    if sum(k in low for k in gen_keys) < 2:
        return None
    models = [str(low[k]) for k in model_keys if isinstance(low.get(k), str) and low[k]]
    if "fooocus" in json.dumps(obj)[:20000].lower() or "fooocus_scheme" in low:
        tool = "Fooocus"
    elif "use_stable_diffusion_model" in low:
        tool = "Easy Diffusion"
    else:
        tool = "image generator (JSON generation parameters)"
    params = {k: low[k] for k in gen_keys if isinstance(low.get(k), (int, float, str))}
    for k in ("prompt", "negative prompt", "negative_prompt"):
        if k in params:
            params[k] = _short(params[k])
    return {"tool": tool, "models": _uniq(models), "params": params}


_MJ_JOB = re.compile(r"Job ID:\s*[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_MJ_FLAG = re.compile(r"\s--(v|ar|niji|stylize|style|chaos|q|sref|cref|weird|seed)\b")


def parse_midjourney(s: str) -> dict | None:
    if isinstance(s, str) and _MJ_JOB.search(s) and _MJ_FLAG.search(s):
        ver = re.search(r"--(v|niji)\s+([\d.]+)", s)
        models = [f"Midjourney {'niji' if ver.group(1) == 'niji' else 'v'} {ver.group(2)}"] \
            if ver else []
        return {"tool": "Midjourney", "models": models,
                "params": {"prompt": _short(_MJ_JOB.split(s)[0])}}
    return None


# --------------------------------------------------------------------------- tool names
GENERATOR_NAMES = [
    (r"\bmidjourney\b", "Midjourney"), (r"\bdall[\-\u00b7. ]?e\b", "OpenAI DALL-E"),
    (r"\bgpt-image|\bgpt-4o\b|\bchatgpt\b|\bopenai\b", "OpenAI"),
    (r"adobe firefly|\bfirefly image \d", "Adobe Firefly"),
    (r"google imagen|\bimagen\s*\d", "Google Imagen"), (r"made with google ai", "Google AI"),
    (r"\bnovelai\b", "NovelAI"), (r"\binvoke ?ai\b", "InvokeAI"), (r"\bcomfyui\b", "ComfyUI"),
    (r"automatic1111|stable-diffusion-webui|\bsd-webui\b", "AUTOMATIC1111 WebUI"),
    (r"\bfooocus\b", "Fooocus"), (r"\bswarmui\b", "SwarmUI"), (r"\bdraw things\b", "Draw Things"),
    (r"\bdiffusionbee\b", "DiffusionBee"), (r"\bdreamstudio\b", "DreamStudio"),
    (r"stable[ \-]?diffusion", "Stable Diffusion"), (r"stability[ .]ai", "Stability AI"),
    (r"\bsdxl\b", "Stable Diffusion XL"), (r"leonardo\.?ai\b", "Leonardo.Ai"),
    (r"\bideogram\b", "Ideogram"), (r"black forest labs|\bflux\.1\b|\bflux[ \-](dev|schnell|pro)\b",
                                   "FLUX (Black Forest Labs)"),
    (r"\brunwayml\b|\brunway gen", "Runway"), (r"\bcraiyon\b", "Craiyon"),
    (r"\bnightcafe\b", "NightCafe"), (r"bing image creator|image creator from (microsoft|designer)",
                                      "Bing Image Creator"),
    (r"imagine with meta|imagine\.meta\.com", "Meta AI Imagine"), (r"\bgrok\b", "xAI Grok"),
    (r"playground ?ai\b|playgroundai", "Playground AI"), (r"\bartbreeder\b", "Artbreeder"),
    (r"\bwombo\b", "WOMBO Dream"), (r"\bstarryai\b", "StarryAI"), (r"tensor\.art", "Tensor.Art"),
    (r"\bseaart\b", "SeaArt"), (r"\bcivitai\b", "Civitai"), (r"\bkandinsky\b", "Kandinsky"),
    (r"\bdeepfloyd\b", "DeepFloyd IF"), (r"\bpixart\b", "PixArt"), (r"\bkolors\b", "Kolors"),
    (r"\brecraft\b", "Recraft"), (r"\bkrea\b", "Krea"), (r"hotpot\.ai", "Hotpot.ai"),
    (r"\bdreamlike\b", "Dreamlike"), (r"\bqwen[\- ]image\b", "Qwen-Image"),
    (r"\bhidream\b", "HiDream"), (r"\bhunyuan", "Tencent Hunyuan"),
]
EDITOR_NAMES = [
    (r"photoshop express", "Adobe Photoshop Express"), (r"lightroom", "Adobe Lightroom"),
    (r"photoshop", "Adobe Photoshop"), (r"camera raw", "Adobe Camera Raw"),
    (r"\bgimp\b", "GIMP"), (r"snapseed", "Snapseed"), (r"affinity (photo|designer)", "Affinity"),
    (r"pixelmator", "Pixelmator"), (r"\bcanva\b", "Canva"), (r"paint\.net", "Paint.NET"),
    (r"photopea", "Photopea"), (r"\bluminar", "Luminar"), (r"capture one", "Capture One"),
    (r"\bdxo\b", "DxO"), (r"\bon1\b", "ON1"), (r"darktable", "darktable"),
    (r"rawtherapee", "RawTherapee"), (r"paintshop|paint shop pro", "Corel PaintShop"),
    (r"\bpicasa\b", "Picasa"), (r"\bfotor\b", "Fotor"), (r"picsart", "PicsArt"),
    (r"\bvsco\b", "VSCO"), (r"facetune", "Facetune"), (r"\bmeitu\b", "Meitu"), (r"\blensa\b", "Lensa"),
    (r"faceapp", "FaceApp"), (r"\bremini\b", "Remini"), (r"\btopaz\b", "Topaz Labs"),
    (r"\bpolarr\b", "Polarr"), (r"photoscape", "PhotoScape"), (r"aurora hdr", "Aurora HDR"),
    (r"\bkrita\b", "Krita"), (r"acdsee", "ACDSee"), (r"photodirector", "PhotoDirector"),
    (r"\bairbrush\b", "AirBrush"), (r"youcam", "YouCam"), (r"photoroom", "PhotoRoom"),
    (r"capture nx", "Nikon Capture NX"), (r"digital photo professional", "Canon DPP"),
    (r"\bdigikam\b", "digiKam"), (r"corel", "Corel"),
]
PROCESSOR_NAMES = [
    (r"imagemagick", "ImageMagick"), (r"graphicsmagick", "GraphicsMagick"), (r"libvips", "libvips"),
    (r"gd-jpeg", "GD library"), (r"nikon transfer", "Nikon Transfer"), (r"viewnx", "Nikon ViewNX"),
    (r"camedia master", "Olympus CAMEDIA Master"), (r"zoombrowser", "Canon ZoomBrowser"),
    (r"playmemories", "Sony PlayMemories"), (r"windows photo|microsoft windows", "Windows"),
    (r"irfanview", "IrfanView"), (r"xnview", "XnView"), (r"faststone", "FastStone"),
    (r"exiftool", "ExifTool"), (r"shotwell", "Shotwell"), (r"\bpicture manager\b", "Picture Manager"),
]


def match_name(value: str, table) -> str | None:
    low = value.lower()
    for pat, name in table:
        if re.search(pat, low):
            return name
    return None


def tool_fields(meta: Meta) -> list[tuple[str, str]]:
    """(field description, value) of every field that names software or a device."""
    out = []
    for k in ("Software", "ProcessingSoftware", "HostComputer", "Make", "Model"):
        v = meta.ifd0.get(k)
        if isinstance(v, str) and v.strip():
            out.append((f"EXIF {k}", v.strip()))
    for key, v in meta.xmp:
        last = re.sub(r"\[\d+\]$", "", key.rsplit("/", 1)[-1])
        local = last.split(":")[-1]
        if local in ("CreatorTool", "Software", "softwareAgent", "Producer", "AISystemUsed",
                     "Credit") and v:
            out.append((f"XMP {key}", v))
    for k in ("OriginatingProgram", "Credit"):
        if meta.iptc.get(k):
            out.append((f"IPTC {k}", meta.iptc[k]))
    for k in ("Software", "Source", "Creator", "Generator", "Author"):
        v = meta.text.get(k)
        if isinstance(v, str) and v.strip() and len(v) < 2000:
            out.append((f"PNG text '{k}'", v.strip()))
    if meta.photoshop.get("writer"):
        out.append(("Photoshop image resources (writer)", meta.photoshop["writer"]))
    return out


# --------------------------------------------------------------------------- DigitalSourceType
DST_RE = re.compile(r"(?:cv\.iptc\.org/newscodes/digitalsourcetype/|^)([A-Za-z]+)$")
_DST_ANY = re.compile(r"cv\.iptc\.org/newscodes/digitalsourcetype/([A-Za-z]+)")

DST_RULES = {
    # term: (severity, label, score, plain meaning)
    "trainedAlgorithmicMedia": ("high", "synthetic", SCORE_GENERATOR,
                                "created by a trained AI model (generative AI)"),
    "algorithmicMedia": ("high", "synthetic", SCORE_GENERATOR,
                         "created purely by an algorithm, not captured by a camera"),
    "compositeWithTrainedAlgorithmicMedia": ("high", "manipulated", SCORE_AI_COMPOSITE,
                                             "a composite that includes AI-generated elements "
                                             "(e.g. generative fill)"),
    "compositeSynthetic": ("high", "manipulated", SCORE_AI_COMPOSITE,
                           "a composite that includes synthetic elements"),
    "digitalArt": ("low", "synthetic", SCORE_DST_NONPHOTO,
                   "digital art made by a person with software, not a photograph"),
    "digitalCreation": ("low", "synthetic", SCORE_DST_NONPHOTO,
                        "created digitally by a person, not a photograph"),
    "virtualRecording": ("low", "synthetic", SCORE_DST_NONPHOTO,
                         "a recording of a virtual (computer-generated) scene"),
    "humanEdits": ("low", "manipulated", SCORE_DST_EDITED, "a capture edited by a person"),
    "compositeCapture": ("low", "manipulated", SCORE_DST_EDITED,
                         "a composite of several captures (e.g. HDR or panorama)"),
    "composite": ("low", "manipulated", SCORE_DST_EDITED, "a composite of several elements"),
}


def digital_source_types(meta: Meta) -> list[tuple[str, str]]:
    """(term, where) for every IPTC DigitalSourceType statement found."""
    found: list[tuple[str, str]] = []
    for key, v in meta.xmp:
        if key.rsplit("/", 1)[-1].split(":")[-1].startswith("DigitalSourceType") and v:
            m = DST_RE.search(v.strip())
            if m:
                found.append((m.group(1), f"XMP {key}"))
    blobs = [("XMP packet", p) for p in meta.xmp_packets]
    blobs += [(f"PNG text '{k}'", v) for k, v in meta.text.items() if k not in ("prompt", "workflow")]
    blobs += [(f"EXIF {k}", v) for k, v in {**meta.ifd0, **meta.exif}.items() if isinstance(v, str)]
    blobs += [(f"IPTC {k}", v) for k, v in meta.iptc.items()]
    for where, blob in blobs:
        for term in _DST_ANY.findall(blob[:MAX_SCAN]):
            if term not in [t for t, _ in found]:
                found.append((term, where))
    out, seen = [], set()
    for t, w in found:
        if t not in seen:
            seen.add(t)
            out.append((t, w))
    return out



# --------------------------------------------------------------------------- main entry
def find_markers(meta: Meta) -> list[Hit]:
    hits: list[Hit] = []
    gen_tools: set[str] = set()

    def gen_hit(code, where, g, extra_msg=""):
        models = g.get("models") or []
        primary = g.get("primary_models") or models[:1]
        tool = g["tool"]
        gen_tools.add(tool.split(" ")[0].lower())
        if primary:
            others = [m for m in models if m not in primary]
            msg = (f"{where} holds {tool} generation settings naming the model "
                   f"{', '.join(primary[:3])}")
            if others:
                msg += f" (also: {', '.join(others[:6])}{', ...' if len(others) > 6 else ''})"
            msg += "; this image was produced by an AI image generator."
        else:
            msg = (f"{where} holds {tool} generation settings (prompt/seed/sampler); this image "
                   "was produced by an AI image generator.")
        hits.append(Hit(code, "high", "synthetic", SCORE_GENERATOR, msg + extra_msg,
                        data={"where": where, "tool": tool, "models": models},
                        generator={"tool": tool, "models": models, "params": g.get("params", {}),
                                   **({"models_by_role": g["models_by_role"]}
                                      if g.get("models_by_role") else {})}, rank=10))

    # --- ComfyUI node graphs (PNG text, or EXIF strings "prompt:{...}" / "workflow:{...}")
    comfy_sources = []
    for k, v in meta.text.items():
        base = k.split(" (")[0]
        if base in ("prompt", "workflow"):
            comfy_sources.append((base, f"PNG text chunk '{base}'", v))
    for k, v in {**meta.ifd0, **meta.exif}.items():
        if isinstance(v, str):
            m = re.match(r"^\s*(prompt|workflow)\s*:\s*(\{.*)$", v, re.S)
            if m:
                comfy_sources.append((m.group(1), f"EXIF {k}", m.group(2)))
    comfy = None
    for kind, where, v in comfy_sources:
        obj = _json(v)
        if obj is None:
            continue
        g = parse_comfy_prompt(obj) if kind == "prompt" else parse_comfy_workflow(obj)
        if g is None:
            continue
        if comfy is None:
            comfy = (where, g)
        elif kind == "workflow" and not comfy[1]["models"] and g["models"]:
            comfy = (where, g)
        elif kind == "workflow":
            comfy[1]["models"] = _uniq(comfy[1]["models"] + g["models"])
    if comfy:
        gen_hit("comfyui_workflow", comfy[0], comfy[1])

    # --- front-ends with their own text-chunk layout
    consumed = {"prompt", "workflow"} if comfy else set()
    g = parse_novelai(meta.text)
    if g:
        gen_hit("ai_generation_parameters", "PNG text chunks (Software/Source/Comment)", g)
        consumed |= {"Comment", "Description", "Software", "Source"}
    g = parse_invokeai(meta.text)
    if g:
        gen_hit("ai_generation_parameters", "PNG text chunk 'invokeai_metadata'/'sd-metadata'", g)
        consumed |= {"invokeai_metadata", "sd-metadata", "Dream", "invokeai_graph"}

    # --- A1111 / Forge text (PNG 'parameters', EXIF UserComment, descriptions), JSON records
    candidates = []
    for k, v in meta.text.items():
        if k.split(" (")[0] not in consumed | {"prompt", "workflow"}:
            candidates.append((f"PNG text chunk '{k}'", v))
    for k in ("UserComment", "ImageDescription", "XPComment"):
        for d in (meta.exif, meta.ifd0):
            if isinstance(d.get(k), str):
                candidates.append((f"EXIF {k}", d[k]))
    for key, v in meta.xmp:
        local = key.rsplit("/", 1)[-1].split(":")[-1]
        if local in ("UserComment", "description", "parameters"):
            candidates.append((f"XMP {key}", v))
    candidates += [("JPEG comment", c) for c in meta.comments]
    done_a1111 = False
    for where, v in candidates:
        if not done_a1111:
            g = parse_a1111(v)
            if g:
                gen_hit("ai_generation_parameters", where, g)
                done_a1111 = True
                continue
        obj = _json(v)
        if isinstance(obj, dict) and not (comfy and "class_type" in json.dumps(obj)[:5000]):
            g = parse_json_params(obj)
            if g and g["tool"].split(" ")[0].lower() not in gen_tools:
                gen_hit("ai_generation_parameters", where, g)
                continue
        g = parse_midjourney(v)
        if g and "midjourney" not in gen_tools:
            gen_hit("ai_generation_parameters", where, g)

    if not any(h.generator for h in hits):
        gk = {k.lower() for k in meta.text}
        core = {"prompt", "negative_prompt", "seed", "sampler", "sampler_name", "steps",
                "cfg_scale", "use_stable_diffusion_model"}
        if len(gk & core) >= 2:
            g = parse_json_params({k: v for k, v in meta.text.items()}) or {
                "tool": "image generator (text-chunk parameters)", "models": [], "params": {}}
            gen_hit("ai_generation_parameters", "PNG text chunks", g)

    # --- IPTC DigitalSourceType
    for term, where in digital_source_types(meta):
        rule = DST_RULES.get(term)
        if rule is None:
            hits.append(Hit("digital_source_type", "info", None, None,
                            f"{where} declares the IPTC digital source type '{term}'.",
                            data={"term": term, "where": where}, rank=90))
            continue
        sev, label, score, meaning = rule
        code = "digital_source_type_ai" if sev == "high" else "digital_source_type_declared"
        hits.append(Hit(code, sev, label, score,
                        f"{where} declares the IPTC digital source type '{term}': {meaning}.",
                        data={"term": term, "where": where}, rank=5 if sev == "high" else 40,
                        generator={"tool": None, "models": [], "params": {},
                                   "digital_source_type": term} if label == "synthetic" and
                        sev == "high" else None))

    # --- tool names
    seen_names = set()
    for where, value in tool_fields(meta):
        name = match_name(value, GENERATOR_NAMES)
        if name and name not in seen_names:
            seen_names.add(name)
            hits.append(Hit("ai_generator_software", "high", "synthetic", SCORE_GENERATOR,
                            f"The {where} field names the AI image generator {name} "
                            f"('{_short(value, 80)}').",
                            data={"where": where, "value": _short(value), "tool": name}, rank=20,
                            generator={"tool": name, "models": [], "params": {}}))
            continue
        name = match_name(value, EDITOR_NAMES)
        if name and name not in seen_names:
            seen_names.add(name)
            hits.append(Hit("editing_software", "low", "manipulated", SCORE_EDITOR,
                            f"The {where} field names the image editor {name} "
                            f"('{_short(value, 80)}'); the file was saved by an editor, which is "
                            "common and not proof of deceptive editing.",
                            data={"where": where, "value": _short(value), "tool": name}, rank=60))
            continue
        name = match_name(value, PROCESSOR_NAMES)
        if name and name not in seen_names:
            seen_names.add(name)
            hits.append(Hit("processing_software", "info", None, None,
                            f"The {where} field names {name} ('{_short(value, 80)}'), a transfer, "
                            "viewer or conversion tool.",
                            data={"where": where, "value": _short(value), "tool": name}, rank=90))
    for c in meta.comments:
        name = match_name(c, EDITOR_NAMES) if re.search(r"created (with|by)|creator:", c, re.I) \
            else None
        if name and name not in seen_names:
            seen_names.add(name)
            hits.append(Hit("editing_software", "low", "manipulated", SCORE_EDITOR,
                            f"The JPEG comment names the image editor {name} ('{_short(c, 80)}').",
                            data={"where": "JPEG comment", "value": _short(c), "tool": name},
                            rank=60))
    return hits


def merge_generator(hits: list[Hit]) -> dict | None:
    """One ``data["generator"]`` summary from every generator hit (tool, models, params)."""
    gens = [h.generator for h in sorted(hits, key=lambda h: h.rank) if h.generator]
    if not gens:
        return None
    tool = next((g["tool"] for g in gens if g.get("tool")), None)
    models: list[str] = []
    params: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for g in gens:
        models += [m for m in g.get("models", []) if m not in models]
        for k, v in (g.get("params") or {}).items():
            params.setdefault(k, v)
        for k in ("models_by_role", "digital_source_type"):
            if g.get(k) and k not in extra:
                extra[k] = g[k]
    tools = _uniq([g.get("tool") for g in gens])
    out = {"tool": tool, "models": models, "params": params, **extra}
    if len(tools) > 1:
        out["tools"] = tools
    return out
