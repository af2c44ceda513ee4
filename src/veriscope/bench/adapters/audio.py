"""Speech anti-spoofing sets: ASVspoof 2019 logical access (LA)."""

from __future__ import annotations

from pathlib import Path

from veriscope.bench.adapters._common import Record, need_dir, nonempty, read_lines

PROTOCOLS = {"train": ("trn", "trl"), "dev": ("trl", "trn"), "eval": ("trl", "trn")}


def asvspoof2019la(root: Path) -> list[Record]:
    """ASVspoof 2019 LA: ``ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.<part>.{trn,trl}.txt``
    lines ``SPEAKER FILE - SYSTEM bonafide|spoof``, audio ``ASVspoof2019_LA_<part>/flac/FILE.flac``.
    ``group`` = speaker, ``kind`` = attack system (A01..A19) for spoofs."""
    la = root / "LA" if (root / "LA").is_dir() else root
    pdir = need_dir(la / "ASVspoof2019_LA_cm_protocols", "ASVspoof 2019 LA CM protocols")
    out, found = [], False
    for part, suffixes in PROTOCOLS.items():
        proto = next((pdir / f"ASVspoof2019.LA.cm.{part}.{s}.txt" for s in suffixes
                      if (pdir / f"ASVspoof2019.LA.cm.{part}.{s}.txt").is_file()), None)
        if proto is None:
            continue
        found = True
        adir = need_dir(la / f"ASVspoof2019_LA_{part}" / "flac", f"audio for {proto.name}")
        for n, line in read_lines(proto, "ASVspoof protocol"):
            parts = line.split()
            if len(parts) != 5 or parts[4] not in ("bonafide", "spoof"):
                raise ValueError(f"{proto}:{n}: expected 'SPEAKER FILE - SYSTEM bonafide|spoof', "
                                 f"got {line!r}")
            spk, name, _, system, key = parts
            p = adir / f"{name}.flac"
            if not p.is_file():
                raise ValueError(f"{p}: listed in {proto.name} but missing")
            y = int(key == "spoof")
            out.append(Record(p, y, split=part, group=spk, kind=system if y else None,
                              meta={"speaker": spk, "system": system}))
    if not found:
        raise ValueError(f"{pdir}: no ASVspoof2019.LA.cm.{{train,dev,eval}}.*.txt protocol")
    return nonempty(out, root, "ASVspoof 2019 LA trials")
