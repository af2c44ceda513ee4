"""Dataset adapters: each on a tiny fake layout named as the public release names it, the
shared sets on the real data (counts and labels from each README.txt)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from veriscope.bench import datasets as D
from veriscope.bench.datasets import ADAPTERS, Record, fingerprint, read_mask

# --------------------------------------------------------------------------- helpers


def img(path: Path, arr=None, size=(8, 8)) -> Path:
    """A small valid image at ``path`` (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if arr is None:
        arr = np.full((size[1], size[0], 3), 128, np.uint8)
    Image.fromarray(np.asarray(arr, np.uint8)).save(path)
    return path


def touch(path: Path, data: bytes = b"\0") -> Path:
    """A placeholder media file (video/audio adapters read names only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def wjson(path: Path, obj) -> Path:
    return write(path, json.dumps(obj))


def run(name: str, root: Path) -> list[Record]:
    got_name, recs = D.load(f"{name}:{root}")
    assert got_name == name
    return recs


def by_name(recs: list[Record]) -> dict[str, Record]:
    return {r.media.name: r for r in recs}


def labels(recs: list[Record]) -> Counter:
    return Counter(r.label for r in recs)


def half_mask(value_in=255, value_out=0, rgb=False):
    """8x8 mask, left half = value_in."""
    a = np.full((8, 8), value_out, np.uint8)
    a[:, :4] = value_in
    return np.stack([a] * 3, -1) if rgb else a


LEFT = np.zeros((8, 8), bool)
LEFT[:, :4] = True

# --------------------------------------------------------------------------- registry / core


def test_registry_names_and_load_errors(tmp_path):
    expected = {"casia1", "casia2", "columbia", "coverage", "comofod", "dso1", "korus", "imd2020",
                "defacto", "micc-f2000", "genimage", "ffpp", "dfdc", "celebdf", "lavdf",
                "avdeepfake1m", "dgm4", "asvspoof2019la", "noso", "micc-f220", "micc-f8multi",
                "exif-samples", "pristine", "comfyui", "icpr2020dfdc-video-samples",
                "espnet-tts-real-vs-synth", "fsdd-spoken-digits-subset",
                "resemblyzer-trump-real-fake", "talking-face-videoretalking-examples"}
    assert expected <= set(ADAPTERS)
    with pytest.raises(ValueError, match="unknown dataset adapter"):
        D.load(f"nope:{tmp_path}")
    with pytest.raises(ValueError, match="not a directory"):
        D.load(f"casia2:{tmp_path / 'absent'}")
    # every new adapter refuses an empty folder with a ValueError that names a path
    for name in sorted(expected - {"exif-samples", "pristine", "noso", "micc-f220"}):
        with pytest.raises(ValueError, match=str(tmp_path)):
            D.load(f"{name}:{tmp_path}")


def test_read_mask_rules(tmp_path):
    binary = img(tmp_path / "b.png", half_mask())
    three = img(tmp_path / "k.png", np.array([[0] * 4 + [100] * 2 + [255] * 2] * 8, np.uint8))
    inverted = img(tmp_path / "d.png", half_mask(0, 255))
    col = np.zeros((8, 8, 3), np.uint8)
    col[:, :4] = (0, 255, 0)  # green = spliced
    col[:, 4:] = (255, 0, 0)  # red = authentic
    colmask = img(tmp_path / "c.png", col)
    assert (read_mask(binary) == LEFT).all()
    assert (read_mask(Record(binary, 1, binary)) == LEFT).all()
    assert read_mask(three, "nonblack").sum() == 4 * 8 and read_mask(three).sum() == 2 * 8
    assert (read_mask(Record(inverted, 1, inverted, mask_rule="inverted")) == LEFT).all()
    assert (read_mask(colmask, "green") == LEFT).all()
    white = col.copy()
    white[0, 4] = (255, 255, 255)  # a white boundary pixel on the red side is not "spliced"
    assert (read_mask(img(tmp_path / "w.png", white), "green") == LEFT).all()
    with pytest.raises(ValueError, match="unknown mask rule"):
        read_mask(binary, "bogus")
    bad = write(tmp_path / "bad.png", "not an image")
    with pytest.raises(ValueError, match="bad.png"):
        read_mask(bad)


def test_fingerprint_mentions_mask_rule_only_when_set(tmp_path):
    a = img(tmp_path / "a.png")
    r1, r2 = Record(a, 1, a), Record(a, 1, a, mask_rule="inverted")
    assert fingerprint([r1]) != fingerprint([r2])
    assert fingerprint([r1]) == fingerprint([Record(a, 1, a, mask_rule=None)])


def test_score_mask_uses_the_rule(tmp_path):
    from veriscope.bench.score import _mask

    m = img(tmp_path / "m.png", half_mask(0, 255))  # DSO-1 style: black = spliced
    assert (_mask(Record(m, 1, m, mask_rule="inverted"), (8, 8)) == LEFT).all()
    assert (_mask(Record(m, 1, m), (8, 8)) == ~LEFT).all()
    assert _mask(Record(m, 1, m, mask_rule="inverted"), (16, 16)).sum() == 128

# --------------------------------------------------------------------------- image forgery sets


def test_casia1(tmp_path):
    ds, gt = tmp_path / "CASIA 1.0 dataset", tmp_path / "CASIA 1.0 groundtruth"
    img(ds / "Au" / "Au_pla_0023.jpg")
    img(ds / "Au" / "Au_ani_0001.jpg")
    sp = img(ds / "Modified Tp" / "Tp" / "Sp" / "Sp_D_CND_A_pla0005_pla0023_0281.jpg")
    cm = img(ds / "Modified Tp" / "Tp" / "CM" / "Sp_S_CND_A_pla0016_pla0016_0196.jpg")
    img(ds / "Modified Tp" / "Tp" / "Sp" / "Sp_D_NRN_A_cha0011_sec0011_0542.jpg")  # no mask
    img(ds / "Original Tp" / "Tp" / "Sp" / "Sp_D_XXX_A_pla0005_pla0023_0281.jpg")  # superseded
    m1 = img(gt / "Sp" / "Sp_D_CND_A_pla0005_pla0023_0281_gt.png", half_mask())
    m2 = img(gt / "CM" / "Sp_S_CND_A_pla0016_pla0016_0196_gt.png", half_mask())
    recs = run("casia1", tmp_path)
    assert labels(recs) == {0: 2, 1: 3}
    r = by_name(recs)
    assert r[sp.name].mask == m1 and r[sp.name].kind == "splice"
    assert r[cm.name].mask == m2 and r[cm.name].kind == "copy_move"
    assert r[sp.name].group == r["Au_pla_0023.jpg"].group == "pla0023"
    miss = r["Sp_D_NRN_A_cha0011_sec0011_0542.jpg"]
    assert miss.mask is None and miss.meta["mask_missing"]
    # without the community masks: a clear error naming the root
    import shutil

    shutil.rmtree(gt)
    with pytest.raises(ValueError, match="groundtruth"):
        run("casia1", tmp_path)


def test_casia2(tmp_path):
    img(tmp_path / "CASIA2" / "Au" / "Au_art_00014.jpg")
    a = img(tmp_path / "CASIA2" / "Tp" / "Tp_D_CRN_S_N_cha00063_art00014_11818.jpg")
    b = img(tmp_path / "CASIA2" / "Tp" / "Tp_S_NRN_S_N_pla00005_pla00005_10937.tif")
    c = img(tmp_path / "CASIA2" / "Tp" / "Tp_S_NNN_S_N_txt00062_txt00062_01284.tif")
    g = tmp_path / "CASIA2" / "CASIA 2 Groundtruth"
    ma = img(g / "Tp_D_CRN_S_N_cha00063_art00014_11818_gt.png", half_mask())
    mb = img(g / "Tp_S_NRN_S_N_pla00005_pla00006_10937_gt.png", half_mask())  # misnamed, same id
    recs = run("casia2", tmp_path)
    r = by_name(recs)
    assert labels(recs) == {0: 1, 1: 3}
    assert r[a.name].mask == ma and r[a.name].group == r["Au_art_00014.jpg"].group == "art00014"
    assert r[b.name].mask == mb and r[b.name].meta["mask_matched_by"] == "image id"
    assert r[c.name].mask is None and r[c.name].meta["mask_missing"]
    (g / ma.name).unlink()
    (g / mb.name).unlink()
    g.rmdir()
    with pytest.raises(ValueError, match="Groundtruth"):
        run("casia2", tmp_path)


def test_columbia(tmp_path):
    img(tmp_path / "4cam_auth" / "4cam_auth" / "canong3_02_sub_01.tif")  # zip-nested copy
    s = img(tmp_path / "4cam_splc" / "canong3_canonxt_sub_01.tif")
    img(tmp_path / "4cam_splc" / "canong3_nikond70_sub_05.tif")
    col = np.zeros((8, 8, 3), np.uint8)
    col[:, :4], col[:, 4:] = (0, 255, 0), (255, 0, 0)
    m = img(tmp_path / "4cam_splc" / "edgemask" / "canong3_canonxt_sub_01_edgemask.jpg", col)
    recs = run("columbia", tmp_path)
    assert labels(recs) == {0: 1, 1: 2}
    r = by_name(recs)[s.name]
    assert r.mask == m and r.mask_rule == "green" and r.kind == "splice"
    assert (read_mask(r) == LEFT).all()
    assert by_name(recs)["canong3_nikond70_sub_05.tif"].meta["mask_missing"]
    for p in (tmp_path / "4cam_splc" / "edgemask").iterdir():
        p.unlink()
    (tmp_path / "4cam_splc" / "edgemask").rmdir()
    with pytest.raises(ValueError, match="edgemask"):
        run("columbia", tmp_path)


def test_coverage(tmp_path):
    for n in (1, 2):
        img(tmp_path / "image" / f"{n}.tif")
        img(tmp_path / "image" / f"{n}t.tif")
        img(tmp_path / "mask" / f"{n}copy.tif", half_mask())
        img(tmp_path / "mask" / f"{n}paste.tif", half_mask())
    f1 = img(tmp_path / "mask" / "1forged.tif", half_mask())
    recs = run("coverage", tmp_path)
    r = by_name(recs)
    assert labels(recs) == {0: 2, 1: 2}
    assert r["1t.tif"].mask == f1 and r["1t.tif"].group == r["1.tif"].group == "1"
    assert r["2t.tif"].mask is None and r["2t.tif"].meta["mask_missing"]
    assert r["1t.tif"].kind == "copy_move"


def test_coverage_needs_mask_folder(tmp_path):
    img(tmp_path / "image" / "1.tif")
    with pytest.raises(ValueError, match="mask"):
        run("coverage", tmp_path)


def test_comofod(tmp_path):
    d = tmp_path / "CoMoFoD_small_v2"
    for n in ("001", "002"):
        img(d / f"{n}_F.png")
        img(d / f"{n}_O.png")
        img(d / f"{n}_M.png")
        img(d / f"{n}_B.png", half_mask())
    img(d / "001_F_JC3.jpg")
    img(d / "001_O_JC3.jpg")
    img(d / "002_F_NA1.png")
    img(d / "readme_extra.png")  # not a CoMoFoD name: ignored
    recs = run("comofod", tmp_path)
    r = by_name(recs)
    assert labels(recs) == {1: 4, 0: 3}
    assert r["001_F_JC3.jpg"].mask == d / "001_B.png"
    assert r["001_F_JC3.jpg"].meta == {"post": "jpeg", "level": 3}
    assert r["002_F_NA1.png"].meta["post"] == "noise" and r["002_F.png"].meta["post"] is None
    assert r["001_O_JC3.jpg"].mask is None and r["001_O_JC3.jpg"].group == "001"


def test_dso1(tmp_path):
    base = tmp_path / "tifs-database"
    img(base / "DSO-1" / "normal-1.png")
    s = img(base / "DSO-1" / "splicing-1.png")
    m = img(base / "DSO-1-Fake-Images-Masks" / "splicing-1.png", half_mask(0, 255, rgb=True))
    recs = run("dso1", tmp_path)
    assert labels(recs) == {0: 1, 1: 1}
    r = by_name(recs)[s.name]
    assert r.mask == m and r.mask_rule == "inverted" and (read_mask(r) == LEFT).all()
    # the renamed images/ + masks/ layout
    alt = tmp_path / "alt"
    img(alt / "images" / "splicing-2.png")
    img(alt / "masks" / "splicing-2.png", half_mask(0, 255))
    assert by_name(run("dso1", alt))["splicing-2.png"].mask == alt / "masks" / "splicing-2.png"
    # a spliced image but no masks folder
    bad = tmp_path / "bad"
    img(bad / "DSO-1" / "splicing-3.png")
    with pytest.raises(ValueError, match="DSO-1-Fake-Images-Masks"):
        run("dso1", bad)


def test_korus(tmp_path):
    three = np.zeros((8, 8), np.uint8)
    three[:, :2], three[:, 2:4] = 255, 100  # white semantic change + grey collateral damage
    for cam in ("Canon_60D", "Sony_A57"):
        img(tmp_path / cam / "tampered-realistic" / "r0001.TIF")
        img(tmp_path / cam / "pristine" / "r0001.TIF")
        img(tmp_path / cam / "ground-truth" / "r0001.PNG", three)
    recs = run("korus", tmp_path)
    assert labels(recs) == {0: 2, 1: 2}
    t = [r for r in recs if r.label][0]
    assert t.mask_rule == "nonblack" and (read_mask(t) == LEFT).all()
    assert t.group == "Canon_60D/r0001" and t.meta["camera"] == "Canon_60D"
    assert {r.group for r in recs} == {"Canon_60D/r0001", "Sony_A57/r0001"}
    import shutil

    shutil.rmtree(tmp_path / "Sony_A57" / "ground-truth")
    with pytest.raises(ValueError, match="ground-truth"):
        run("korus", tmp_path)


def test_imd2020(tmp_path):
    img(tmp_path / "1a1ogs" / "1a1ogs_orig.jpg")
    f = img(tmp_path / "1a1ogs" / "c8tf5mq_0.png")
    m = img(tmp_path / "1a1ogs" / "c8tf5mq_0_mask.png", half_mask())
    img(tmp_path / "z41" / "00109_orig.jpg")
    img(tmp_path / "z41" / "00109_fake.jpg")
    img(tmp_path / "z41" / "00109_fake_mask.png", half_mask())
    recs = run("imd2020", tmp_path)
    assert labels(recs) == {0: 2, 1: 2}
    assert by_name(recs)[f.name].mask == m and by_name(recs)[f.name].group == "1a1ogs"
    assert not any(r.media.stem.endswith("_mask") for r in recs)


def test_defacto(tmp_path):
    for sub, name in (("splicing_1", "0_000000195755"), ("copymove", "0_000000000071"),
                      ("inpainting", "0_000000000260")):
        img(tmp_path / f"{sub}_img" / "img" / f"{name}.tif")
        img(tmp_path / f"{sub}_annotations" / "probe_mask" / f"{name}.jpg", half_mask())
        img(tmp_path / f"{sub}_annotations" / "donor_mask" / f"{name}.tif", half_mask())
    img(tmp_path / "copymove_img" / "img" / "5_000000000999.tif")  # no probe mask
    recs = run("defacto", tmp_path)
    assert labels(recs) == {1: 4}
    r = by_name(recs)
    assert r["0_000000195755.tif"].kind == "splice" and r["0_000000195755.tif"].group == "000000195755"
    assert r["0_000000000071.tif"].kind == "copy_move"
    assert r["0_000000000260.tif"].kind == "inpainting"
    assert r["0_000000000260.tif"].mask.parent.name == "probe_mask"
    assert r["5_000000000999.tif"].meta["mask_missing"]
    import shutil

    shutil.rmtree(tmp_path / "inpainting_annotations")
    with pytest.raises(ValueError, match="inpainting_annotations"):
        run("defacto", tmp_path)


def test_micc_f2000(tmp_path):
    b = tmp_path / "MICC-F2000"
    img(b / "DSCN47_scale.jpg")
    img(b / "DSC_0046tamp1.jpg")
    img(b / "nikon7_scale.jpg")
    write(b / "groundtruthDB_2000.txt", "DSCN47_scale.jpg 0\nDSC_0046tamp1.jpg,1\n\nnikon7_scale.jpg\t0\n")
    recs = run("micc-f2000", tmp_path)
    assert labels(recs) == {0: 2, 1: 1} and by_name(recs)["DSC_0046tamp1.jpg"].kind == "copy_move"
    write(b / "groundtruthDB_2000.txt", "DSCN47_scale.jpg 0\nmissing.jpg 1\n")
    with pytest.raises(ValueError, match="missing.jpg"):
        run("micc-f2000", tmp_path)
    write(b / "groundtruthDB_2000.txt", "DSCN47_scale.jpg maybe\n")
    with pytest.raises(ValueError, match="groundtruthDB_2000.txt:1"):
        run("micc-f2000", tmp_path)


def test_micc_f220_missing_list_is_a_value_error(tmp_path):
    (tmp_path / "MICC-F220").mkdir()
    with pytest.raises(ValueError, match="groundtruthDB_220.txt"):
        run("micc-f220", tmp_path)

# --------------------------------------------------------------------------- synthetic images


def test_genimage(tmp_path):
    mj = tmp_path / "Midjourney" / "imagenet_midjourney"
    img(mj / "train" / "ai" / "a1.png")
    img(mj / "train" / "nature" / "n01440764_1.JPEG")
    img(mj / "val" / "ai" / "a2.png")
    img(mj / "val" / "nature" / "ILSVRC2012_val_00000001.JPEG")
    img(tmp_path / "stable_diffusion_v_1_4" / "imagenet_ai_0419_sdv4" / "train" / "ai" / "cls" / "x.png")
    recs = run("genimage", tmp_path)
    assert labels(recs) == {1: 3, 0: 2}
    r = by_name(recs)
    assert r["a2.png"].split == "val" and r["a2.png"].kind == "Midjourney"
    assert r["x.png"].group == "stable_diffusion_v_1_4" and r["x.png"].split == "train"
    assert r["n01440764_1.JPEG"].kind is None and r["n01440764_1.JPEG"].label == 0
    # one generator folder as the root
    one = run("genimage", mj)
    assert len(one) == 4 and {x.group for x in one} == {"imagenet_midjourney"}

# --------------------------------------------------------------------------- video sets


def _ffpp_tree(root: Path):
    o = root / "original_sequences" / "youtube" / "c23" / "videos"
    for v in ("000", "003", "100"):
        touch(o / f"{v}.mp4")
    touch(root / "manipulated_sequences" / "Deepfakes" / "c23" / "videos" / "000_003.mp4")
    touch(root / "manipulated_sequences" / "FaceSwap" / "c23" / "videos" / "003_000.mp4")
    touch(root / "manipulated_sequences" / "Face2Face" / "c40" / "videos" / "000_003.mp4")
    touch(root / "manipulated_sequences" / "DeepFakeDetection" / "c23" / "videos"
          / "01_02__meeting_serious__YVGY8LOK.mp4")


def test_ffpp(tmp_path):
    _ffpp_tree(tmp_path)
    wjson(tmp_path / "splits" / "test.json", [["000", "003"]])
    wjson(tmp_path / "splits" / "train.json", [["100", "101"]])
    recs = run("ffpp", tmp_path)
    assert labels(recs) == {0: 3, 1: 2}
    r = by_name(recs)
    assert r["000_003.mp4"].group == r["003_000.mp4"].group == r["000.mp4"].group == "000_003"
    assert r["000_003.mp4"].kind == "Deepfakes" and r["003_000.mp4"].meta["target"] == "003"
    assert r["000.mp4"].split == "test" and r["100.mp4"].split == "train"
    touch(tmp_path / "manipulated_sequences" / "Deepfakes" / "c23" / "videos" / "oops.mp4")
    with pytest.raises(ValueError, match="oops.mp4"):
        run("ffpp", tmp_path)


def test_ffpp_bad_split_file(tmp_path):
    _ffpp_tree(tmp_path)
    write(tmp_path / "splits" / "val.json", "[[\"000\", ")
    with pytest.raises(ValueError, match="val.json"):
        run("ffpp", tmp_path)


def test_dfdc(tmp_path):
    part = tmp_path / "dfdc_train_part_0"
    touch(part / "aaa.mp4")
    touch(part / "bbb.mp4")
    meta = {"aaa.mp4": {"label": "REAL", "split": "train", "original": None},
            "bbb.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
            "ccc.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"}}
    wjson(part / "metadata.json", meta)
    with pytest.raises(ValueError, match="ccc.mp4"):
        run("dfdc", tmp_path)
    recs = ADAPTERS["dfdc"](tmp_path, missing="skip")
    assert labels(recs) == {0: 1, 1: 1}
    assert {r.group for r in recs} == {"aaa"} and by_name(recs)["bbb.mp4"].split == "train"
    meta["ccc.mp4"]["label"] = "maybe"
    wjson(part / "metadata.json", meta)
    with pytest.raises(ValueError, match="REAL or FAKE"):
        ADAPTERS["dfdc"](tmp_path, missing="skip")
    write(part / "metadata.json", "{not json")
    with pytest.raises(ValueError, match="metadata.json"):
        run("dfdc", tmp_path)


def test_celebdf(tmp_path):
    touch(tmp_path / "Celeb-real" / "id0_0000.mp4")
    touch(tmp_path / "Celeb-real" / "id1_0001.mp4")
    touch(tmp_path / "YouTube-real" / "00000.mp4")
    touch(tmp_path / "Celeb-synthesis" / "id0_id1_0000.mp4")
    touch(tmp_path / "Celeb-synthesis" / "id1_id0_0001.mp4")
    lst = write(tmp_path / "List_of_testing_videos.txt",
                "1 YouTube-real/00000.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n1 Celeb-real/id0_0000.mp4\n")
    recs = run("celebdf", tmp_path)
    r = by_name(recs)
    assert labels(recs) == {0: 3, 1: 2}
    assert r["id0_id1_0000.mp4"].group == r["id0_0000.mp4"].group == "id0_0000"
    assert r["id0_id1_0000.mp4"].split == "test" and r["id1_id0_0001.mp4"].split == "train"
    assert r["id0_id1_0000.mp4"].meta["source"] == "id1"
    write(lst, "1 Celeb-synthesis/id0_id1_0000.mp4\n")  # says real: contradicts the folder
    with pytest.raises(ValueError, match="List_of_testing_videos"):
        run("celebdf", tmp_path)
    write(lst, "0 Celeb-synthesis/id9_id1_0000.mp4\n")
    with pytest.raises(ValueError, match="id9_id1_0000.mp4"):
        run("celebdf", tmp_path)
    write(lst, "real Celeb-real/id0_0000.mp4\n")
    with pytest.raises(ValueError, match="List_of_testing_videos.txt:1"):
        run("celebdf", tmp_path)


def test_lavdf(tmp_path):
    touch(tmp_path / "train" / "000001.mp4")
    touch(tmp_path / "test" / "000002.mp4")
    touch(tmp_path / "test" / "000003.mp4")
    meta = [
        {"file": "train/000001.mp4", "n_fakes": 0, "fake_periods": [], "duration": 4.2,
         "original": None, "modify_video": False, "modify_audio": False, "split": "train"},
        {"file": "test/000002.mp4", "n_fakes": 2, "fake_periods": [[0.5, 1.1], [2.0, 2.4]],
         "duration": 5.0, "original": "000001.mp4", "modify_video": True, "modify_audio": True,
         "split": "test"},
        {"file": "test/000003.mp4", "n_fakes": 1, "fake_periods": [[1.0, 1.5]], "duration": 5.0,
         "original": "000001.mp4", "modify_video": False, "modify_audio": True, "split": "test"},
    ]
    wjson(tmp_path / "metadata.json", meta)
    recs = run("lavdf", tmp_path)
    r = by_name(recs)
    assert labels(recs) == {0: 1, 1: 2}
    assert r["000002.mp4"].segments == [(0.5, 1.1), (2.0, 2.4)]
    assert r["000002.mp4"].kind == "audio_visual" and r["000003.mp4"].kind == "audio"
    assert r["000002.mp4"].group == r["000001.mp4"].group == "000001"
    assert r["000001.mp4"].split == "train"
    meta[1]["fake_periods"] = [[2.0, 1.0]]
    wjson(tmp_path / "metadata.json", meta)
    with pytest.raises(ValueError, match="ends before it starts"):
        run("lavdf", tmp_path)
    meta[1]["fake_periods"] = [[0.5]]
    wjson(tmp_path / "metadata.json", meta)
    with pytest.raises(ValueError, match="entry 1"):
        run("lavdf", tmp_path)


def test_avdeepfake1m(tmp_path):
    touch(tmp_path / "train" / "lrs3" / "a" / "00001" / "real.mp4")
    touch(tmp_path / "train" / "lrs3" / "a" / "00001" / "fake_video_fake_audio.mp4")
    touch(tmp_path / "val" / "vox" / "b" / "00002" / "fake_audio.mp4")
    wjson(tmp_path / "train_metadata.json", [
        {"file": "lrs3/a/00001/real.mp4", "original": None, "split": "train", "fake_segments": [],
         "visual_fake_segments": [], "audio_fake_segments": [], "modify_type": "real",
         "audio_model": "", "video_frames": 100, "audio_frames": 64000},
        {"file": "lrs3/a/00001/fake_video_fake_audio.mp4", "original": "lrs3/a/00001/real.mp4",
         "split": "train", "fake_segments": [[1.2, 1.6]], "visual_fake_segments": [[1.2, 1.6]],
         "audio_fake_segments": [[1.2, 1.6]], "modify_type": "both_modified",
         "audio_model": "your_tts", "video_frames": 100, "audio_frames": 64000}])
    wjson(tmp_path / "val_metadata.json", [
        {"file": "vox/b/00002/fake_audio.mp4", "original": "vox/b/00002/real.mp4",
         "fake_segments": [[0.2, 0.5]], "modify_video": False, "modify_audio": True}])
    write(tmp_path / "test_files.txt", "x/y/z.mp4\n")
    recs = run("avdeepfake1m", tmp_path)
    r = by_name(recs)
    assert labels(recs) == {0: 1, 1: 2}
    fv = r["fake_video_fake_audio.mp4"]
    assert fv.kind == "audio_visual" and fv.segments == [(1.2, 1.6)]
    assert fv.group == r["real.mp4"].group == "lrs3/a/00001/real.mp4"
    assert r["fake_audio.mp4"].kind == "audio" and r["fake_audio.mp4"].split == "val"
    (tmp_path / "val" / "vox" / "b" / "00002" / "fake_audio.mp4").unlink()
    with pytest.raises(ValueError, match="fake_audio.mp4"):
        run("avdeepfake1m", tmp_path)

# --------------------------------------------------------------------------- image + caption


def test_dgm4(tmp_path):
    base = tmp_path / "datasets" / "DGM4"
    img(base / "origin" / "bbc" / "0001" / "1.jpg")
    img(base / "manipulation" / "HFGI" / "768092-HFGI.jpg")
    img(base / "origin" / "usa_today" / "0002" / "2.jpg")
    train = [
        {"id": 1, "image": "DGM4/origin/bbc/0001/1.jpg", "text": "A man speaks", "fake_cls": "orig",
         "fake_image_box": [], "fake_text_pos": [], "mtcnn_boxes": []},
        {"id": 768092, "image": "DGM4/manipulation/HFGI/768092-HFGI.jpg",
         "text": "British citizens celebrate the day before an event in which David won",
         "fake_cls": "face_attribute&text_attribute", "fake_image_box": [155, 61, 267, 207],
         "fake_text_pos": [8, 13, 17]}]
    test = [{"id": 2, "image": "DGM4/origin/usa_today/0002/2.jpg", "text": "Swapped caption",
             "fake_cls": "text_swap", "fake_image_box": [], "fake_text_pos": [0, 1]}]
    wjson(base / "metadata" / "train.json", train)
    wjson(base / "metadata" / "test.json", test)
    for root in (base, tmp_path / "datasets"):
        recs = run("dgm4", root)
        r = by_name(recs)
        assert labels(recs) == {0: 1, 1: 2}
        fa = r["768092-HFGI.jpg"]
        assert fa.boxes == [[155.0, 61.0, 267.0, 207.0]] and fa.tokens == [8, 13, 17]
        assert fa.kind == "face_attribute&text_attribute" and fa.meta["text"].startswith("British")
        ts = r["2.jpg"]
        assert ts.label == 1 and ts.boxes == [] and ts.split == "test" and ts.meta["text_manipulated"]
    img_recs = by_name(run("dgm4-image", base))
    assert img_recs["2.jpg"].label == 0 and img_recs["768092-HFGI.jpg"].label == 1
    train[0]["image"] = "DGM4/origin/bbc/0001/absent.jpg"
    wjson(base / "metadata" / "train.json", train)
    with pytest.raises(ValueError, match="absent.jpg"):
        run("dgm4", base)

# --------------------------------------------------------------------------- speech


def test_asvspoof2019la(tmp_path):
    la = tmp_path / "LA"
    proto = la / "ASVspoof2019_LA_cm_protocols"
    write(proto / "ASVspoof2019.LA.cm.train.trn.txt",
          "LA_0079 LA_T_1138215 - - bonafide\nLA_0083 LA_T_9228662 - A02 spoof\n")
    write(proto / "ASVspoof2019.LA.cm.dev.trl.txt", "LA_0069 LA_D_1047731 - - bonafide\n")
    for part, name in (("train", "LA_T_1138215"), ("train", "LA_T_9228662"), ("dev", "LA_D_1047731")):
        touch(la / f"ASVspoof2019_LA_{part}" / "flac" / f"{name}.flac")
    recs = run("asvspoof2019la", tmp_path)
    r = by_name(recs)
    assert labels(recs) == {0: 2, 1: 1}
    assert r["LA_T_9228662.flac"].kind == "A02" and r["LA_T_9228662.flac"].group == "LA_0083"
    assert r["LA_D_1047731.flac"].split == "dev" and r["LA_T_1138215.flac"].kind is None
    write(proto / "ASVspoof2019.LA.cm.eval.trl.txt", "LA_0001 LA_E_1 - A07 spoof\n")
    with pytest.raises(ValueError, match="ASVspoof2019_LA_eval"):
        run("asvspoof2019la", tmp_path)
    (proto / "ASVspoof2019.LA.cm.eval.trl.txt").unlink()
    write(proto / "ASVspoof2019.LA.cm.dev.trl.txt", "LA_0069 LA_D_1047731 bonafide\n")
    with pytest.raises(ValueError, match="dev.trl.txt:1"):
        run("asvspoof2019la", tmp_path)
    write(proto / "ASVspoof2019.LA.cm.dev.trl.txt", "LA_0069 LA_D_9999999 - - bonafide\n")
    with pytest.raises(ValueError, match="LA_D_9999999.flac"):
        run("asvspoof2019la", tmp_path)

# --------------------------------------------------------------------------- shared data (real files)

# name, folder, n records, n label 1, n with masks  -- from each README.txt
SHARED = [
    ("noso", "noso-copymove", 31, 18, 18),  # 13 originals, 18 forged, 18 masks
    ("micc-f220", "micc-f220", 220, 110, 0),  # 110 tampered + 110 originals
    ("micc-f8multi", "micc-f220", 8, 8, 0),  # 8 tampered, no originals
    ("exif-samples", "exif-samples-camera-jpegs", 30, 0, 0),  # 30 real camera JPEGs
    ("pristine", "pristine-kodak24-cbsd68-mcmaster", 110, 0, 0),  # 24 + 68 + 18
    ("comfyui", "comfyui-generated-with-metadata", 18, 18, 0),  # 18 AI PNGs
    ("icpr2020dfdc-video-samples", "icpr2020dfdc-video-samples", 10, 7, 0),  # 3 real, 7 fake
    ("espnet-tts-real-vs-synth", "espnet-tts-real-vs-synth", 50, 40, 0),  # 10 real + 40 synthetic
    ("fsdd-spoken-digits-subset", "fsdd-spoken-digits-subset", 600, 0, 0),  # 600 real
    ("resemblyzer-trump-real-fake", "resemblyzer-trump-real-fake", 18, 6, 0),  # 12 real, 6 fake
    ("talking-face-videoretalking-examples", "talking-face-videoretalking-examples", 7, 0, 0),
    # ai_image EVAL: RAISE 21 real + 69 AI, ML72 50 AI, 30 camera JPEGs, 68 CBSD68 + 18 McMaster
    ("ai-image-eval", ".", 256, 119, 0),
]


@pytest.mark.parametrize("name,folder,n,n_fake,n_masks", SHARED, ids=[s[0] for s in SHARED])
def test_shared_counts(shared_data, name, folder, n, n_fake, n_masks):
    recs = run(name, shared_data / folder)
    assert len(recs) == n
    assert sum(r.label for r in recs) == n_fake
    assert sum(r.mask is not None for r in recs) == n_masks
    assert all(r.media.is_file() for r in recs)
    assert all(r.mask.is_file() for r in recs if r.mask is not None)
    assert len({r.media for r in recs}) == n
    assert fingerprint(recs) == fingerprint(run(name, shared_data / folder))  # deterministic


def test_shared_details(shared_data):
    # icpr2020dfdc: FF++ real/fake pairs share a group; DFDC fakes name their absent originals
    r = by_name(run("icpr2020dfdc-video-samples", shared_data / "icpr2020dfdc-video-samples"))
    assert r["519_515.mp4"].group == r["519.mp4"].group and r["519_515.mp4"].kind == "Deepfakes"
    assert r["634_660.mp4"].group == r["634.mp4"].group
    assert r["004_982.mp4"].group == r["004.mp4"].group
    assert {k for k, v in r.items() if v.label == 0} == {"004.mp4", "519.mp4", "634.mp4"}
    assert r["brtujopkby.mp4"].label == 1 and r["brtujopkby.mp4"].meta["original"] == "gnmmhlbzge.mp4"
    # ESPnet: 6 LJSpeech + 2 LibriTTS systems, each synthetic file paired with a real recording
    recs = run("espnet-tts-real-vs-synth", shared_data / "espnet-tts-real-vs-synth")
    assert len({x.kind for x in recs if x.label}) == 8
    real_groups = {x.group for x in recs if x.label == 0}
    assert all(x.group in real_groups for x in recs if x.label)
    assert all(x.meta["text"] for x in recs)
    # FSDD: 6 speakers x 10 digits x 10 takes
    recs = run("fsdd-spoken-digits-subset", shared_data / "fsdd-spoken-digits-subset")
    assert Counter(x.group for x in recs) == {s: 100 for s in ("george", "jackson", "lucas",
                                                               "nicolas", "theo", "yweweler")}
    # pristine: kodak24 is the FIT split
    recs = run("pristine", shared_data / "pristine-kodak24-cbsd68-mcmaster")
    assert Counter(x.split for x in recs) == {"fit": 24, "eval": 86}
    # ComfyUI: generator families from labels.csv
    recs = run("comfyui", shared_data / "comfyui-generated-with-metadata")
    assert len({x.group for x in recs}) >= 15 and all(x.meta.get("model_files") for x in recs)
    # NoSo masks are binary and match the forged image size
    noso = [x for x in run("noso", shared_data / "noso-copymove") if x.mask is not None]
    m = read_mask(noso[0])
    assert m.any() and m.shape == Image.open(noso[0].media).size[::-1]
