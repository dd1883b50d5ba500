#!/usr/bin/env python3
"""Generate the workshop's offline corpora (news summarisation, tone, acceptability).

Everything here is synthetic and written for this project: the places, people,
organisations, events and sentences are invented and assembled from the
templates below, so the kit can run with no network and no third-party data.

    python3 scripts/make_offline_data.py            # writes data/news, data/tone, data/acceptability
    python3 scripts/make_offline_data.py --check    # regenerate in memory, compare with the files on disk

The output is byte-identical on every run: one fixed seed, one random.Random per
corpus, and no iteration over sets or other unordered containers.

Layout of this file:
  1. vocabularies (fictional towns, people, companies, streets ...), split into
     names used for train/validation and names held out for test;
  2. the small template language (Writer) and text helpers;
  3. the news article templates (one function per story type);
  4. corpus builders: news, tone, acceptability (with the corruption functions);
  5. self-checks and the summary table.
"""

import argparse
import json
import os
import random
import re
import string
import sys
from collections import Counter

SEED = 20240611
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data")

# Target sizes (see data/README.md).
N_NEWS = {"train": 1500, "validation": 150, "test": 150}
N_TEST_SHORT = 75            # test articles of 200-450 characters (the original workshop's eval length)
N_TONE = {"train": 1500, "test": 200}            # per class
N_ACCEPT = {"train": 2500, "test": 350}          # per class

ARTICLE_WORDS = (50, 110)
SUMMARY_WORDS = (12, 25)
SHORT_CHARS = (200, 450)

# Share of articles written in a loaded register, and the chance that a loaded
# article's reference summary keeps the loaded wording (the rest are neutral).
P_LOADED_ARTICLE = 0.55
P_LOADED_SUMMARY = 0.5

# ---------------------------------------------------------------------------
# 1. Vocabularies. All names are invented; any match with a real place or
#    person is coincidental. Test articles use the *_HELDOUT lists so that the
#    test split has entities the model never saw in training.
# ---------------------------------------------------------------------------

TOWNS = [
    "Harrowfield", "Kelmoor", "Brackenford", "Thornwick", "Larkhaven", "Saltreach",
    "Greywick", "Fallowmere", "Caddowford", "Elverstone", "Glenbarrow", "Kestlemoor",
    "Marrowby", "Norbridge", "Pellinford", "Quillham", "Rookhaven", "Sorrelby",
    "Tallowford", "Vellbrook", "Westerhale", "Wickmoor", "Yarrowby", "Ashenford",
    "Bramblecote", "Copperwick", "Dellingham", "Fernhallow", "Gildenmouth", "Holmsreach",
    "Jasperton", "Kettlewood", "Linnetbury", "Moorcastle", "Oxenmere", "Pinebarrow",
    "Ravensmere", "Stonebury", "Highmarrow", "Lowerby", "Dunhallow", "Carrowmere",
    "Belcaster", "Ardenmoor", "Brindlecombe", "Tarrowgate",
]
TOWNS_HELDOUT = [
    "Quenmoor", "Drayhaven", "Falstow", "Orrinford", "Brackenhale", "Tamberley",
    "Wrenmouth", "Calverdine", "Hollinsreach", "Ostrevale", "Pemberlow", "Vantry",
]

# Regions name the fictional weather service and health board.
REGIONS = ["Norvale", "Westmarch", "Eastmere", "Southdown Vale", "Upper Tarrow"]
REGIONS_HELDOUT = ["Greymantle", "Coldwater Reach"]

FIRST_NAMES = [
    "Mara", "Tobias", "Priya", "Declan", "Ines", "Oluwaseun", "Hana", "Rafael", "Greta",
    "Callum", "Amara", "Jonah", "Leila", "Soren", "Nadia", "Felix", "Yusuf", "Clara",
    "Mateo", "Elspeth", "Kwame", "Rosalind", "Tariq", "Ingrid", "Desmond", "Aoife",
    "Viktor", "Lucia", "Bram", "Shirin", "Owen", "Marisol", "Henrik", "Zainab", "Cormac",
    "Beatrix", "Anselm", "Thandiwe", "Rowan", "Esme", "Idris", "Noor", "Gideon", "Talia",
    "Ruairi", "Malin", "Hugo", "Femi", "Odette", "Piers",
]
SURNAMES = [
    "Ellwood", "Marchbank", "Okafor", "Lindqvist", "Dunleavy", "Haverstock", "Kowalczyk",
    "Trevanion", "Abernethy", "Pellegrini", "Achterberg", "Rosewarne", "Fairbairn",
    "Castellano", "Quennell", "Oyelaran", "Brightmore", "Ferreira", "Nakashima", "Strand",
    "Ashdown", "Calloway", "Varga", "Moreau", "Adeyemi", "Halvorsen", "Treadwell",
    "Kirkbride", "Sandoval", "Fitzwarren", "Blackmore", "Idowu", "Lachance", "Merriweather",
    "Osei", "Petrakis", "Quigley", "Rahimi", "Sutcliffe", "Thorncroft", "Underhill",
    "Valdivia", "Whitlock", "Yardley", "Zielinski", "Hargreave", "Mwangi", "Dalgleish",
]
SURNAMES_HELDOUT = [
    "Amberley", "Borrowdale", "Coldharbour", "Eskildsen", "Farquhar", "Gallardo",
    "Honeyman", "Ibekwe", "Jessop", "Kilbride", "Mortlake", "Nwachukwu", "Oakenshaw",
    "Rasmussen", "Stavrou", "Tindall", "Vesey", "Wolstenholme",
]

# Company names are a stem plus a sector; the sector decides what the company
# runs and makes, so "Calder Dairies" opens a dairy and makes cheese.
COMPANY_STEMS = [
    "Brightwell", "Calder", "Marrick", "Tessaly", "Orwent", "Halvard", "Quintell",
    "Redvane", "Stellan", "Vantor", "Ambermoor", "Corriden", "Fenwright", "Glasswater",
    "Hollybrook", "Northgale", "Pikestone", "Silverkirk", "Thistledown", "Larchmont",
]
COMPANY_STEMS_HELDOUT = ["Wendral", "Duncarrow", "Mirelle", "Trevance", "Bellwater", "Ospreyfield"]
SECTORS = {
    # sector: (facility, product)
    "Foods": ("food factory", "ready meals"),
    "Textiles": ("textile mill", "outdoor clothing"),
    "Steel": ("steel plant", "steel beams"),
    "Bakeries": ("bakery", "bread and cakes"),
    "Energy": ("battery factory", "batteries for electric buses"),
    "Motors": ("parts factory", "car parts"),
    "Paper": ("paper mill", "recycled packaging"),
    "Robotics": ("robotics plant", "warehouse robots"),
    "Pharmaceuticals": ("medicines plant", "generic medicines"),
    "Logistics": ("distribution centre", "parcel deliveries"),
    "Furniture": ("furniture workshop", "office furniture"),
    "Dairies": ("dairy", "cheese and yoghurt"),
}
SECTOR_NAMES = list(SECTORS)

STREETS = [
    "Mill Street", "Station Road", "Elm Road", "High Street", "Quarry Lane", "Canal Street",
    "Harbour Road", "Church Lane", "Market Street", "Bridge Street", "Foundry Lane",
    "Orchard Way", "Chapel Street", "River Road", "Greenway Avenue", "Salt Lane",
    "Tanner Row", "Weavers Walk", "North Parade", "Kiln Road",
]
RIVERS = ["Tarrow", "Wendle", "Caddon", "Mirrel", "Skelly", "Brannock", "Lissen", "Orle"]
ISLANDS = ["Holm Skerry", "Inchmarra", "Little Varne", "Ostra", "Caldey Rock", "Maelholm"]
STORMS = ["Odile", "Bertram", "Calla", "Dorrin", "Everard", "Fenna", "Gerrit", "Hilde",
          "Ivo", "Jessamy", "Kasimir", "Liesl", "Marten", "Nerys"]
PARTIES = ["Civic Alliance", "Green Valley Party", "Townsfolk First", "Progress League",
           "Common Ground Party"]
LEAGUES = ["Northern Counties League", "Western Valleys League", "Regional Premier Division",
           "Coastal League", "County Championship"]
JOURNALS = ["Journal of Northern Field Biology", "Annals of Regional Ecology",
            "Review of Applied Health Studies", "Bulletin of Coastal Science"]
BOOK_TITLES = ["The Salt Road", "Winter at Marrow House", "A Map of Small Rivers",
               "The Lamplighter's Daughter", "Nine Bridges", "The Quiet Harbour",
               "Letters from the Kiln", "What the Tide Keeps", "The Orchard Year",
               "Paper Birds", "The Long Field", "A House Without Clocks"]

SCHOOL_NAMES = ["Riverside", "Hillcrest", "Northfield", "Oakfield", "Castle Hill", "Meadowbank", "Kingsmead",
                "Brookside", "Westgate", "Larkrise"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WORKDAYS = WEEKDAYS[:5]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
SUMMER_MONTHS = ["May", "June", "July", "August", "September"]
WINTER_MONTHS = ["November", "December", "January", "February", "March"]
NUM_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
             "nine", "ten", "eleven", "twelve"]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth", "eleventh", "twelfth"]

# Default loaded adjectives; templates can override them with words that fit the story.
LOADED_ADJ = {
    "neg": ["shocking", "outrageous", "disastrous", "appalling", "scandalous", "reckless",
            "disgraceful"],
    "pos": ["brilliant", "stunning", "remarkable", "spectacular", "fantastic", "superb",
            "magnificent"],
}
TONES = ("neutral", "neg", "pos")
TONE_LABEL = {"neg": 0, "neutral": 1, "pos": 2}
TONE_NAME = {"neg": "negative", "neutral": "neutral", "pos": "positive"}


class Entities:
    """Draws names from one split's pools (train/validation or held-out test)."""

    def __init__(self, rng, towns, surnames, stems, regions):
        self.rng, self.towns, self.surnames = rng, towns, surnames
        self.stems, self.regions = stems, regions

    def town(self):
        return self.rng.choice(self.towns)

    def town_pair(self):
        return self.rng.sample(self.towns, 2)

    def person(self):
        return "%s %s" % (self.rng.choice(FIRST_NAMES), self.rng.choice(self.surnames))

    def people(self, n):
        """n people with different surnames, so later mentions by surname stay unambiguous."""
        surnames = self.rng.sample(self.surnames, n)
        return ["%s %s" % (self.rng.choice(FIRST_NAMES), s) for s in surnames]

    def company(self, sectors=None):
        sector = self.rng.choice(sectors or SECTOR_NAMES)
        facility, product = SECTORS[sector]
        return {"name": "%s %s" % (self.rng.choice(self.stems), sector),
                "facility": facility, "product": product}

    def streets(self, n):
        return self.rng.sample(STREETS, n)

    def region(self):
        return self.rng.choice(self.regions)


def surname(full_name):
    return full_name.split(" ", 1)[1]


def fmt_millions(v):
    """News style: one decimal below 10 ("$4.2 million"), whole numbers above ("$18 million")."""
    if v < 10 and round(v, 1) != int(round(v, 1)):
        return "$%.1f million" % v
    return "$%d million" % round(v)


def money_m(rng, lo, hi):
    return fmt_millions(rng.uniform(lo, hi))


def money_k(rng, lo, hi, step=10):
    """An amount in thousands, rounded to `step` thousand ("$850,000")."""
    v = rng.randrange(lo, hi + 1, step)
    if v >= 1000:   # "$1.7 million", not "$1,710,000"
        return fmt_millions(v / 1000.0)
    return "${:,}".format(v * 1000)


def num(n):
    return "{:,}".format(n)


def word_num(n):
    return NUM_WORDS[n] if 0 <= n < len(NUM_WORDS) else num(n)


def rnum(rng, lo, hi, step=1):
    return rng.randrange(lo, hi + 1, step)


def pct(rng, lo, hi, decimals=False):
    if decimals:
        return "%.1f" % rng.uniform(lo, hi)
    return str(rng.randint(lo, hi))


# ---------------------------------------------------------------------------
# 2. A tiny template language.
#    ((a~b~c))          pick one variant at random (same meaning, different words)
#    [[n|neg|pos]]      pick by the article's register: neutral, loaded negative,
#                       loaded positive; each option may itself hold a~b variants.
#    {slot}             str.format slot filled from the story's facts.
#    Each rendered sentence remembers whether a loaded option was used, which
#    gives sentence-level tone labels for the tone corpus for free.
# ---------------------------------------------------------------------------

REG_RE = re.compile(r"\[\[(.*?)\]\]")
VAR_RE = re.compile(r"\(\((.*?)\)\)")


class Sent(str):
    """A rendered sentence carrying its tone ('neutral', 'neg' or 'pos')."""

    def __new__(cls, text, tone):
        obj = str.__new__(cls, text)
        obj.tone = tone
        return obj


class Writer:
    def __init__(self, rng, tone):
        self.rng, self.tone = rng, tone

    def r(self, fmt, facts, tone=None):
        tone = tone or self.tone
        idx = TONES.index(tone)
        used = []

        def register(m):
            opts = m.group(1).split("|")
            if idx >= len(opts):
                raise ValueError("register option %d missing in %r" % (idx, fmt))
            if idx > 0 and opts[idx] != opts[0]:
                used.append(True)
            return self.rng.choice(opts[idx].split("~"))

        text = REG_RE.sub(register, fmt)
        text = VAR_RE.sub(lambda m: self.rng.choice(m.group(1).split("~")), text)
        if idx > 0 and ("{ladj}" in text or "{Ladj}" in text):
            used.append(True)   # a loaded adjective outside [[...]] (loaded summaries) also counts
        text = tidy(text.format(**facts))
        return Sent(text, tone if used else "neutral")


def fmt_fields(fmt):
    return [f for _, f, _, _ in string.Formatter().parse(fmt) if f]


def _needs_an(word):
    w = word.lstrip("$\"'")
    if not w:
        return False
    m = re.match(r"[\d,]+", w)
    if m:  # numbers are read aloud: "an 8 percent rise", "an 11-day strike", "a 110-year-old"
        digits = m.group(0).replace(",", "")
        return digits.startswith("8") or (digits[:2] in ("11", "18") and len(digits) in (2, 5, 8))
    low = w.lower()
    if low.startswith(("uni", "use", "usu", "eu", "one", "once")):
        return False
    if low.startswith(("hour", "honest", "honour", "heir")):
        return True
    return low[0] in "aeiou"


def fix_articles(text):
    def repl(m):
        art, word = m.group(1), m.group(2)
        want = "an" if _needs_an(word) else "a"
        return (want.capitalize() if art[0].isupper() else want) + " " + word
    return re.sub(r"\b([Aa]n?) (\S+)", repl, text)


def capitalise_first(text):
    """Upper-case the first letter, skipping an opening quote; "60 firefighters" stays as it is."""
    i = 1 if text[:1] in "\"'" else 0
    if text[i:i + 1].isalpha():
        return text[:i] + text[i].upper() + text[i + 1:]
    return text


def tidy(text):
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r",\.", ".", text)
    return capitalise_first(fix_articles(text))


def n_words(text):
    return len(text.split())


# ---------------------------------------------------------------------------
# 3. News article templates. Each story type is a facts function plus format
#    lists: `lead` (one is always the first sentence and carries every fact the
#    summary repeats, which keeps summaries faithful), `body` (slots; 2-5 are
#    kept, in order), `summary` (neutral) and `summary_loaded`.
#    `pols` lists which loaded registers suit the story (a fire can be told
#    "heartbreaking", hardly "brilliant").
# ---------------------------------------------------------------------------

class Template:
    def __init__(self, name, topic, pols, facts, lead, body, summary, summary_loaded, ladj):
        self.name, self.topic, self.pols, self.facts = name, topic, pols, facts
        self.lead, self.summary, self.summary_loaded = lead, summary, summary_loaded
        self.body = [slot if isinstance(slot, list) else [slot] for slot in body]
        self.ladj = dict(LOADED_ADJ)
        self.ladj.update(ladj or {})


TEMPLATES = []


def template(name, topic, pols, lead, body, summary, summary_loaded, ladj=None):
    def register(fn):
        TEMPLATES.append(Template(name, topic, pols, fn, lead, body, summary, summary_loaded, ladj))
        return fn
    return register


# ----- local ---------------------------------------------------------------

@template(
    "council_plan", "local", ("neg", "pos"),
    lead=[
        "{council} has [[approved~agreed|pushed through|proudly approved]] a [[|{ladj} |{ladj} ]]{amount} plan to {project}, with work due to finish in {year}[[|, leaving many residents furious|, to the delight of many residents]].",
        "Councillors on {council} have [[backed~approved|forced through|enthusiastically backed]] a [[|{ladj} |{ladj} ]]{amount} plan to {project}, which is due to be finished in {year}.",
    ],
    body=[
        "The council voted {yes} to {no} at a meeting on {day}[[|, in what critics called a shameful vote|, in what supporters hailed as a historic vote]].",
        "The money will come from ((the council's reserves~a government grant and borrowing~a mix of borrowing and reserves)).",
        '[["The plan sets out a clear timetable, and work will be phased to limit disruption," said {leader}, the council leader.|"This is an outrageous waste of public money and a disastrous decision for {town}," said opposition councillor {opp}.|"This is a wonderful day for {town} and a brilliant result for everyone who campaigned for it," said council leader {leader}.]]',
        "[[Residents can view the designs at the town library until the end of {month}.|Furious residents say they were never consulted and have vowed to fight the plan.|Delighted residents say they have waited years for the project.]]",
        "((Construction~Work)) is expected to ((begin~start)) in {start_month}.",
        "The plan was first proposed in {prev} but was delayed by rising costs.",
    ],
    summary=[
        "{council} approved a {amount} plan to {project}, with work due to finish in {year}.",
        "Councillors in {town} approved a {amount} plan to {project} that is due to finish in {year}.",
    ],
    summary_loaded=["{council} [[|pushed through|approved]] a {ladj} {amount} plan to {project}, due to finish in {year}."],
    ladj={"neg": ["reckless", "scandalous", "shocking", "ruinous", "absurd"],
          "pos": ["visionary", "superb", "inspired", "remarkable", "splendid"]},
)
def _council_plan(rng, E, tone):
    town = E.town()
    street, = E.streets(1)
    leader, opp = E.people(2)
    project = rng.choice([
        "rebuild the %s bridge" % street, "build a new leisure centre on %s" % street,
        "turn the old gasworks into a public park", "build %d affordable homes on the former bus depot" % rnum(rng, 60, 300, 10),
        "repair roads and pavements across the town", "redevelop the %s market hall" % street,
        "put solar panels on %d public buildings" % rnum(rng, 12, 40), "build a cycle path along the river",
    ])
    return dict(town=town, council="%s %s Council" % (town, rng.choice(["Town", "Borough", "District"])),
                amount=money_m(rng, 1.2, 30), project=project, year=rng.randint(2026, 2029),
                yes=rnum(rng, 8, 15), no=rnum(rng, 2, 7), day=rng.choice(WORKDAYS),
                leader=leader, opp=opp, month=rng.choice(MONTHS), start_month=rng.choice(MONTHS),
                prev=rng.randint(2015, 2022))


@template(
    "library_closure", "local", ("neg",),
    lead=[
        "{council} will close the {street} library in {month} to save {saving} a year[[|, a {ladj} decision that has left readers heartbroken]].",
        "The {street} library in {town} will close in {month}[[ as the council tries to save {saving} a year| after a {ladj} council decision to save {saving} a year]].",
    ],
    body=[
        "The library ((has served the area since {since}~opened in {since})) and ((is used by~welcomes)) about {visitors} visitors a year.",
        "[[Its {staff} staff will be offered jobs at other council sites.|Its {staff} loyal staff face an uncertain future, and regular visitors called the news heartbreaking.]]",
        '[["We have had to make difficult choices to balance the budget," said {leader}, the council\'s finance lead.|"This is a shameful attack on our community, and the council should be ashamed," said local campaigner {opp}.]]',
        "Books and computers will move to the ((main~central)) library on {street2}.",
        "[[A petition against the closure has gathered {sigs} signatures.|An angry petition against the closure has already gathered {sigs} signatures.]]",
        "[[The council said a mobile library would visit the area once a week.|The council's offer of a weekly mobile library was dismissed by campaigners as an insult.]]",
    ],
    summary=[
        "{council} will close the {street} library in {month} to save {saving} a year.",
        "The {street} library in {town} will close in {month} as the council seeks to save {saving} a year.",
    ],
    summary_loaded=["{council} will close the {street} library in {month} in a {ladj} move to save {saving} a year."],
    ladj={"neg": ["shameful", "heartless", "disgraceful", "short-sighted", "shocking"]},
)
def _library(rng, E, tone):
    town = E.town()
    street, street2 = E.streets(2)
    leader, opp = E.people(2)
    return dict(town=town, council="%s Council" % town, street=street, street2=street2,
                month=rng.choice(MONTHS), saving=money_k(rng, 80, 400, 5), since=rng.randint(1890, 1975),
                visitors=num(rnum(rng, 8000, 60000, 500)), staff=word_num(rng.randint(2, 9)),
                leader=leader, opp=opp, sigs=num(rnum(rng, 400, 6000, 10)))


@template(
    "park_opening", "local", ("pos",),
    lead=[
        "A [[||{ladj} ]]new {size}-hectare park has opened on the site of the former {site} in {town} after a {amount} project.",
        "{town} has a new {size}-hectare park on the site of the former {site}, after a {amount} project[[|| that visitors are already calling {ladj}]].",
    ],
    body=[
        "The park includes ((a playground, a pond and a cafe~a skate park and two sports pitches~wildflower meadows and a community orchard)).",
        "It was opened on {day} by the mayor, {mayor}[[||, in front of a cheering crowd]].",
        '[["The site had been empty for {empty} years, and it is now open to everyone," said {mayor_s}.||"This is a dream come true for {town} and a truly magical place for families," said {mayor_s}.]]',
        "The park will be open from 7am to 9pm every day.",
        "[[About {visitors} people visited on the first weekend.||An amazing {visitors} people flocked to the park on its first weekend.]]",
        "The project was paid for by the council and a national lottery grant.",
    ],
    summary=[
        "A new {size}-hectare park opened on the site of the former {site} in {town} after a {amount} project.",
        "{town} opened a new {size}-hectare park on the former {site} site after a {amount} project.",
    ],
    summary_loaded=["A {ladj} new {size}-hectare park opened on the former {site} site in {town} after a {amount} project."],
    ladj={"pos": ["stunning", "gorgeous", "wonderful", "delightful", "beautiful", "magnificent"]},
)
def _park(rng, E, tone):
    mayor = E.person()
    return dict(town=E.town(), size=rng.randint(2, 14), amount=money_m(rng, 1.1, 9.5), mayor_s=surname(mayor),
                site=rng.choice(["gasworks", "bus depot", "quarry", "railway yard", "brickworks", "cattle market"]),
                day=rng.choice(WEEKDAYS), mayor=mayor, empty=word_num(rng.randint(5, 12)),
                visitors=num(rnum(rng, 1500, 9000, 100)))


@template(
    "building_fire", "local", ("neg",),
    lead=[
        "{n_ff} firefighters tackled a [[|{ladj} ]]fire that {damaged} a {building} in {town} early on {day}[[|, leaving neighbours in tears]].",
        "A [[|{ladj} ]]fire {damaged} a {building} in {town} early on {day}, and {n_ff} firefighters were needed to bring it under control.",
    ],
    body=[
        "[[{injuries}|{injuries_l}]]",
        "The fire ((started~broke out)) shortly after {time} and burned for about {hours} hours.",
        "[[Crews from {town} and {town2} attended the scene.|Crews from {town} and {town2} battled the terrifying blaze through the night.]]",
        "The cause of the fire is ((under investigation~not yet known)), the fire service said.",
        '[["Crews worked quickly to stop the fire from spreading to nearby buildings," said station commander {chief}.|"It was a horrific scene, and it is heartbreaking for everyone who worked there," said station commander {chief}.]]',
        "[[{street} was closed for most of the day.|{street} was closed for most of the day as stunned residents looked on.]]",
    ],
    summary=[
        "{n_ff} firefighters tackled a fire that {damaged} a {building} in {town} early on {day}.",
        "A fire {damaged} a {building} in {town} early on {day}, and {n_ff} firefighters brought it under control.",
    ],
    summary_loaded=["A {ladj} fire {damaged} a {building} in {town} early on {day}, and {n_ff} firefighters fought the blaze."],
    ladj={"neg": ["horrific", "devastating", "terrifying", "catastrophic", "dreadful"]},
)
def _fire(rng, E, tone):
    town, town2 = E.town_pair()
    street, = E.streets(1)
    building = rng.choice(["warehouse on %s" % street, "restaurant on %s" % street,
                           "furniture shop on %s" % street, "block of flats on %s" % street,
                           "school gym on %s" % street, "timber yard on %s" % street])
    hurt = rng.choice([("No one was hurt.", "Miraculously, no one was hurt in the terrifying blaze."),
                       ("Two people were treated for smoke inhalation.", "Two people were treated for smoke inhalation after a terrifying escape."),
                       ("One firefighter suffered minor burns.", "One brave firefighter suffered burns in the horrific blaze.")])
    return dict(town=town, town2=town2, street=street, building=building,
                damaged=rng.choice(["destroyed", "badly damaged", "gutted"]),
                day=rng.choice(WEEKDAYS), n_ff=rnum(rng, 20, 80, 5), injuries=hurt[0], injuries_l=hurt[1],
                time=rng.choice(["1am", "2am", "3am", "4am", "5am"]), hours=word_num(rng.randint(2, 8)),
                chief=E.person())


@template(
    "mayor_election", "local", ("neg", "pos"),
    lead=[
        "{winner} of the {party} has been elected mayor of {town} with {share} percent of the vote[[| in what opponents called a {ladj} result| in a {ladj} victory]].",
        "Voters in {town} have elected {winner} of the {party} as mayor with {share} percent of the vote[[| in what critics called a {ladj} outcome| in a {ladj} win]].",
    ],
    body=[
        "Turnout was {turnout} percent, compared with {prev_turnout} percent at the last election.",
        "{runner} of the {party2} finished second with {share2} percent.",
        '[["I will work with every councillor to deliver what I promised," said {winner_s}.|"This is a dark day for {town}, and voters will come to regret it," said {runner_s}.|"This is a brilliant, historic night for {town}, and I am thrilled," said {winner_s}.]]',
        "The new mayor will take office on {date}.",
        "[[The campaign focused on housing and bus services.|The bitter campaign was dominated by furious rows over housing and bus services.|The campaign ended with jubilant supporters celebrating in the town square.]]",
    ],
    summary=[
        "{winner} of the {party} was elected mayor of {town} with {share} percent of the vote.",
        "Voters in {town} elected {winner} of the {party} as mayor with {share} percent of the vote.",
    ],
    summary_loaded=["{winner} of the {party} was elected mayor of {town} with {share} percent of the vote [[|in a {ladj} result|in a {ladj} victory]]."],
    ladj={"neg": ["shocking", "disastrous", "dismal", "depressing", "worrying"],
          "pos": ["brilliant", "stunning", "sensational", "triumphant", "resounding"]},
)
def _election(rng, E, tone):
    winner, runner = E.people(2)
    party, party2 = rng.sample(PARTIES, 2)
    share = rng.randint(38, 62)
    return dict(town=E.town(), winner=winner, runner=runner, winner_s=surname(winner), runner_s=surname(runner),
                party=party, party2=party2, share=share, share2=rng.randint(20, min(share - 3, 100 - share)),
                turnout=rng.randint(28, 61), prev_turnout=rng.randint(25, 60),
                date="%d %s" % (rng.randint(1, 28), rng.choice(MONTHS)))


@template(
    "council_tax", "local", ("neg",),
    lead=[
        "{council} will raise council tax by {pct} percent from {month}[[, adding about {extra} a year to the average bill|, a {ladj} rise that will add about {extra} a year to the average bill]].",
        "Households in {town} will pay {pct} percent more council tax from {month}, adding about {extra} a year to the average bill[[|, in a {ladj} blow to struggling families]].",
    ],
    body=[
        "The council said the increase was needed to pay for ((social care~bin collections and social care~road repairs and social care)).",
        "[[The rise was approved by {yes} votes to {no}.|The rise was forced through by {yes} votes to {no}, to the fury of opposition councillors.]]",
        '[["Costs have risen sharply, and this increase lets us keep essential services running," said {leader}, the council leader.|"This is daylight robbery, and families simply cannot afford it," said resident {opp}.]]',
        "Residents on low incomes can apply for a reduction in their bills.",
        "[[The council faces a budget gap of {gap} next year.|The council blamed a disastrous budget gap of {gap} next year.]]",
    ],
    summary=[
        "{council} will raise council tax by {pct} percent from {month}, adding about {extra} a year to average bills.",
        "Households in {town} will pay {pct} percent more council tax from {month}, about {extra} a year on average.",
    ],
    summary_loaded=["{council} will impose a {ladj} {pct} percent council tax rise from {month}, adding about {extra} a year to bills."],
    ladj={"neg": ["outrageous", "crippling", "shocking", "brutal", "scandalous"]},
)
def _council_tax(rng, E, tone):
    town = E.town()
    leader, opp = E.people(2)
    return dict(town=town, council="%s Council" % town, pct=pct(rng, 2, 9, decimals=True),
                month=rng.choice(["April", "March", "May"]), extra="$%d" % rnum(rng, 40, 190, 2),
                yes=rnum(rng, 9, 16), no=rnum(rng, 3, 8), leader=leader, opp=opp, gap=money_m(rng, 1.5, 14))


# ----- business ------------------------------------------------------------

@template(
    "factory_opening", "business", ("pos",),
    lead=[
        "{company} will open a {amount} {facility} in {town}, creating {jobs} jobs[[||, in a {ladj} boost for the area]].",
        "A {amount} {facility} run by {company} will bring {jobs} [[||much-needed ]]jobs to {town}[[||, in {ladj} news for the area]].",
    ],
    body=[
        "The site will make {product} and is due to open in {open_year}.",
        "[[Most of the jobs will be in production and warehousing.||The exciting new roles will be in production and warehousing.]]",
        '[["{town} has the skills and the transport links we need," said {ceo}, the chief executive of {company}.||"This is a fantastic day for {town}, and we are thrilled to be here," said {ceo}, the chief executive of {company}.]]',
        "The company already employs about {staff} people at {n_sites} other sites.",
        "[[Local officials said the site would also support suppliers in the region.||Delighted local officials hailed the site as a game-changer for the region.]]",
        "Recruitment will begin in {month}.",
    ],
    summary=[
        "{company} will open a {amount} {facility} in {town}, creating {jobs} jobs.",
        "{company} plans a {amount} {facility} in {town} that will create {jobs} jobs.",
    ],
    summary_loaded=["{company} will open a {amount} {facility} in {town}, creating {jobs} jobs in a {ladj} boost for the area."],
    ladj={"pos": ["brilliant", "fantastic", "tremendous", "superb", "terrific", "wonderful"]},
)
def _factory_open(rng, E, tone):
    c = E.company()
    return dict(company=c["name"], facility=c["facility"], product=c["product"], town=E.town(),
                amount=money_m(rng, 4, 90), jobs=rnum(rng, 40, 600, 10), open_year=rng.randint(2026, 2028),
                ceo=E.person(), staff=num(rnum(rng, 300, 4000, 50)), n_sites=word_num(rng.randint(2, 6)),
                month=rng.choice(MONTHS))


@template(
    "factory_closure", "business", ("neg",),
    lead=[
        "{company} will close its {facility} in {town} in {month}, with the loss of about {jobs} jobs[[| in a {ladj} blow to the town]].",
        "About {jobs} jobs will go when {company} closes its {facility} in {town} in {month}[[|, a {ladj} blow for local families]].",
    ],
    body=[
        "The company blamed ((falling demand~rising energy costs~cheaper imports)) for the decision.",
        "[[Staff were told of the plans on {day}.|Stunned staff were told the heartbreaking news on {day}.]]",
        '[["We looked at every option, and we will support staff through the process," said a spokesperson for {company}.|"This is a disgraceful way to treat people who gave the company years of service," said union official {union_rep}.]]',
        "The site has operated in {town} since {since}.",
        "[[The council said it would help workers find new jobs.|Furious councillors demanded that the company reverse its shameful decision.]]",
        "Production will move to the company's other sites.",
    ],
    summary=[
        "{company} will close its {facility} in {town} in {month}, with the loss of about {jobs} jobs.",
        "About {jobs} jobs will go when {company} closes its {facility} in {town} in {month}.",
    ],
    summary_loaded=["{company} will close its {facility} in {town} in {month}, a {ladj} blow that will cost about {jobs} jobs."],
    ladj={"neg": ["devastating", "crushing", "brutal", "heartbreaking", "cruel"]},
)
def _factory_close(rng, E, tone):
    c = E.company()
    return dict(company=c["name"], facility=c["facility"], town=E.town(), month=rng.choice(MONTHS),
                jobs=rnum(rng, 40, 450, 10), day=rng.choice(WORKDAYS), union_rep=E.person(),
                since=rng.randint(1950, 2005))


@template(
    "company_results", "business", ("neg", "pos"),
    lead=[
        "{company} said profits [[{moved}|{moved_neg} a {ladj}|{moved_pos} a {ladj}]] {pct} percent to {profit} in {period}.",
        "Profits at {town}-based {company} [[{moved}|{moved_neg}|{moved_pos}]] {pct} percent to {profit} in {period}[[|, a {ladj} result|, a {ladj} result]].",
    ],
    body=[
        "Sales came to {sales} over the same period.",
        "The company [[said the change was due to {reason}|blamed the dismal figures on {reason}|credited the superb figures to {reason}]].",
        '[["The results are in line with our plans for the year," said chief executive {ceo}.|"These are painful and deeply disappointing figures," admitted chief executive {ceo}.|"These are outstanding results, and I am incredibly proud of our team," said chief executive {ceo}.]]',
        "[[Shares in the company {moved} {share_pct} percent in early trading.|Shares in the company crashed {share_pct} percent in early trading.|Shares in the company leapt {share_pct} percent in early trading.]]",
        "The company employs about {staff} people, most of them in {town}.",
    ],
    summary=[
        "{company} said profits {moved} {pct} percent to {profit} in {period}.",
        "Profits at {town}-based {company} {moved} {pct} percent to {profit} in {period}.",
    ],
    summary_loaded=["{company} reported a {ladj} {pct} percent [[|fall|rise]] in profits to {profit} in {period}."],
    ladj={"neg": ["dismal", "disastrous", "dreadful", "shocking", "miserable"],
          "pos": ["stunning", "stellar", "spectacular", "brilliant", "superb"]},
)
def _results(rng, E, tone):
    c = E.company()
    up = tone == "pos" or (tone == "neutral" and rng.random() < 0.5)
    return dict(company=c["name"], town=E.town(), moved="rose" if up else "fell",
                moved_neg=rng.choice(["plunged", "slumped"]), moved_pos=rng.choice(["soared", "jumped"]),
                pct=rng.randint(4, 38), profit=money_m(rng, 1.2, 60),
                period=rng.choice(["the first half of the year", "the three months to %s" % rng.choice(["March", "June", "September", "December"]), "the last financial year"]),
                sales=money_m(rng, 60, 900),
                reason=("strong demand for its %s" % c["product"]) if up else rng.choice(["higher energy costs", "weaker demand for its %s" % c["product"]]),
                ceo=E.person(), share_pct=rng.randint(2, 15), staff=num(rnum(rng, 200, 3000, 50)))


@template(
    "takeover", "business", ("neg", "pos"),
    lead=[
        "{buyer} has agreed to buy {town}-based {target}, which makes {product}, for {amount}[[| in a {ladj} deal that has alarmed staff| in a {ladj} deal]].",
        "{target}, the {town} maker of {product}, is to be bought by {buyer} for {amount}[[| in a {ladj} deal that has alarmed staff| in a {ladj} deal]].",
    ],
    body=[
        "The deal is expected to be completed by {month}.",
        "{target} employs {staff} people.",
        "[[{buyer} said all jobs would be kept for at least two years.|Worried staff fear the deal could bring painful job cuts.|{buyer} promised an exciting future for every member of staff.]]",
        '[["The two businesses fit well together," said {ceo}, the chief executive of {buyer}.|"We have heard fine words before, and they meant nothing," said union representative {rep}.|"This is a fantastic match, and together we will be unbeatable," said {ceo}, the chief executive of {buyer}.]]',
        "The deal still needs approval from ((regulators~shareholders)).",
    ],
    summary=[
        "{buyer} agreed to buy {town}-based {target}, which makes {product}, for {amount}.",
        "{target}, a {town} maker of {product}, is to be bought by {buyer} for {amount}.",
    ],
    summary_loaded=["{buyer} agreed to buy {town}-based {target}, which makes {product}, for {amount} in a {ladj} deal."],
    ladj={"neg": ["worrying", "troubling", "alarming", "shocking"],
          "pos": ["brilliant", "blockbuster", "fantastic", "remarkable"]},
)
def _takeover(rng, E, tone):
    buyer = E.company()
    target = E.company()
    while target["name"].split()[0] == buyer["name"].split()[0]:
        target = E.company()
    return dict(buyer=buyer["name"], target=target["name"], product=target["product"], town=E.town(),
                amount=money_m(rng, 8, 400), month=rng.choice(MONTHS), staff=num(rnum(rng, 60, 1800, 10)),
                ceo=E.person(), rep=E.person())


@template(
    "strike", "business", ("neg",),
    lead=[
        "{n_workers} {workers} will strike for {days} days from {day} in a dispute over pay[[| in a {ladj} walkout that threatens chaos]].",
        "Some {n_workers} {workers} will walk out for {days} days from {day} over pay[[|, in a {ladj} strike that threatens chaos]].",
    ],
    body=[
        "The {union} said its members had been offered a {offer} percent pay rise but wanted {ask} percent.",
        "[[The employer said it remained open to talks.|The employer called the strike a reckless stunt.]]",
        "[[Reduced services will run during the strike.|The public faces days of misery, with only a handful of services running.]]",
        '[["Our members do not take this step lightly," said {rep} of the {union}.|"Our members are sick and tired of being treated with contempt," said {rep} of the {union}.]]',
        "Talks are due to resume on {talks_day}.",
    ],
    summary=[
        "{n_workers} {workers} will strike for {days} days from {day} in a dispute over pay.",
        "{n_workers} {workers} will walk out for {days} days from {day} in a row over pay.",
    ],
    summary_loaded=["{n_workers} {workers} will begin a {ladj} {days}-day strike on {day} in a row over pay."],
    ladj={"neg": ["chaotic", "crippling", "damaging", "bitter", "miserable"]},
)
def _strike(rng, E, tone):
    town = E.town()
    c = E.company(["Logistics", "Foods", "Paper", "Steel"])
    workers, union = rng.choice([
        ("bus drivers at %s Buses" % town, "Northern Transport Guild"),
        ("dock workers at the port of %s" % town, "Port and Dock Workers Guild"),
        ("warehouse staff at %s in %s" % (c["name"], town), "United Crafts Union"),
        ("cleaners at %s General Hospital" % town, "Allied Service Workers Union"),
        ("refuse collectors in %s" % town, "Allied Service Workers Union")])
    offer = rng.randint(2, 5)
    d1, d2 = rng.sample(WEEKDAYS, 2)
    return dict(town=town, workers=workers, n_workers=rnum(rng, 120, 900, 10), days=word_num(rng.randint(2, 5)),
                day=d1, talks_day=d2, union=union, offer=offer, ask=offer + rng.randint(2, 6),
                rep=E.person())


# ----- science -------------------------------------------------------------

@template(
    "new_species", "science", ("pos",),
    lead=[
        "Researchers from the {uni} have discovered a [[||{ladj} ]]new species of {creature} in {place}.",
        "A new species of {creature} has been found in {place} by a team from the {uni}[[||, in a {ladj} discovery]].",
    ],
    body=[
        "The {creature} is about {size} millimetres long and has {feature}.",
        "The team found {n_spec} specimens during a survey in {month}.",
        '[["We will now study how the species lives and how common it is," said {res}, who led the survey.||"It is absolutely thrilling, and a wonderful reminder of how much we still have to discover," said {res}, who led the survey.]]',
        "It has been named after {honoree}, a local ((naturalist~teacher~volunteer)) who first reported it.",
        "The findings were published in the {journal}.",
    ],
    summary=[
        "Researchers from the {uni} discovered a new species of {creature} in {place}.",
        "A team from the {uni} found a new species of {creature} in {place}.",
    ],
    summary_loaded=["Researchers from the {uni} made a {ladj} discovery: a new species of {creature} in {place}."],
    ladj={"pos": ["remarkable", "thrilling", "spectacular", "extraordinary", "astonishing"]},
)
def _species(rng, E, tone):
    creature, size, feature = rng.choice([
        ("beetle", (6, 19), "bright blue wing cases"), ("frog", (18, 40), "orange spots on its back"),
        ("moth", (12, 30), "silver bands on its wings"), ("freshwater snail", (4, 12), "a ridged, spiral shell"),
        ("spider", (3, 9), "unusually long front legs"), ("bee", (8, 14), "a copper-coloured band"),
    ])
    town = E.town()
    res, honoree = E.people(2)
    return dict(uni="University of %s" % E.town(), creature=creature, size=rng.randint(*size), feature=feature,
                place=rng.choice(["the woods near %s" % town, "the marshes outside %s" % town,
                                  "the %s Hills" % town, "a stream near %s" % town]),
                n_spec=word_num(rng.randint(3, 12)), month=rng.choice(MONTHS), res=res, honoree=honoree,
                journal=rng.choice(JOURNALS))


_STUDY_FINDINGS = [
    # (habit, more/less, outcome, valence of the finding)
    ("walk to work", "less", "develop heart disease", "pos"),
    ("eat breakfast every day", "less", "feel tired at work", "pos"),
    ("volunteer once a week", "less", "report feeling lonely", "pos"),
    ("keep a vegetable garden", "more", "rate their health as good", "pos"),
    ("read to their children daily", "more", "see them do well at school", "pos"),
    ("sleep fewer than six hours a night", "more", "report memory problems", "neg"),
    ("spend more than five hours a day sitting", "more", "suffer back pain", "neg"),
    ("commute for over an hour each way", "more", "report high stress", "neg"),
    ("skip lunch at work", "more", "make mistakes in the afternoon", "neg"),
    ("use a phone in bed", "more", "sleep badly", "neg"),
]


@template(
    "health_study", "science", ("neg", "pos"),
    lead=[
        "A study of {n} adults by researchers at the {uni} found that people who {habit} were {pct} percent {cmp} likely to {outcome}[[|, a {ladj} finding|, a {ladj} finding]].",
        "People who {habit} are {pct} percent {cmp} likely to {outcome}, according to a [[|{ladj} |{ladj} ]]study of {n} adults by the {uni}.",
    ],
    body=[
        "The participants were followed for {years} years.",
        "The researchers adjusted for age, income and smoking.",
        '[["The link is clear, but more work is needed to understand the cause," said {res}, the study\'s lead author.|"These results are deeply worrying, and frankly alarming," said {res}, the study\'s lead author.|"These are incredibly exciting results that could help a great many people," said {res}, the study\'s lead author.]]',
        "The study was funded by the {region} Health Foundation.",
        "The findings were published in the {journal}.",
    ],
    summary=[
        "A study of {n} adults by the {uni} found people who {habit} were {pct} percent {cmp} likely to {outcome}.",
        "Researchers at the {uni} found people who {habit} were {pct} percent {cmp} likely to {outcome}.",
    ],
    summary_loaded=["A {ladj} study by the {uni} found people who {habit} were {pct} percent {cmp} likely to {outcome}."],
    ladj={"neg": ["alarming", "frightening", "disturbing", "grim"],
          "pos": ["exciting", "fascinating", "remarkable", "heartening"]},
)
def _study(rng, E, tone):
    options = [f for f in _STUDY_FINDINGS if tone == "neutral" or f[3] == tone]
    habit, cmp_, outcome, _ = rng.choice(options)
    return dict(n=num(rnum(rng, 800, 12000, 100)), uni="University of %s" % E.town(), habit=habit, cmp=cmp_,
                outcome=outcome, pct=rng.randint(12, 45), years=word_num(rng.randint(2, 10)), res=E.person(),
                region=E.region(), journal=rng.choice(JOURNALS))


@template(
    "astronomy", "science", ("pos",),
    lead=[
        "{person}, an amateur astronomer in {town}, has spotted a previously unknown {obj} using a {size}-centimetre telescope[[|| in a {ladj} discovery]].",
        "An amateur astronomer in {town}, {person}, has [[||made a {ladj} discovery and ]]spotted a previously unknown {obj} using a {size}-centimetre telescope.",
    ],
    body=[
        "The {obj} was confirmed by the {region} Observatory on {day}.",
        "It is expected to be named after its discoverer.",
        "[[The {obj} is too faint to see without a telescope.||Stargazers will be thrilled to hear the {obj} may be visible with binoculars in {month}.]]",
        '[["I check the same patch of sky most clear nights, and this time something had moved," said {person_s}.||"I could hardly believe my eyes, it was the most exciting night of my life," said {person_s}.]]',
        "{person_s}, a retired ((engineer~teacher~postal worker)), has been watching the sky for {years} years.",
    ],
    summary=[
        "{person}, an amateur astronomer in {town}, spotted a previously unknown {obj} using a {size}-centimetre telescope.",
        "Amateur astronomer {person} from {town} found a previously unknown {obj} with a {size}-centimetre telescope.",
    ],
    summary_loaded=["{person}, an amateur astronomer in {town}, made a {ladj} discovery of a previously unknown {obj}."],
    ladj={"pos": ["remarkable", "thrilling", "dazzling", "extraordinary", "sensational"]},
)
def _astro(rng, E, tone):
    p = E.person()
    return dict(person=p, person_s=surname(p), town=E.town(), obj=rng.choice(["comet", "asteroid"]),
                size=rnum(rng, 20, 60, 5), region=E.region(), day=rng.choice(WEEKDAYS), month=rng.choice(MONTHS),
                years=rnum(rng, 12, 45))


@template(
    "startup_launch", "science", ("neg", "pos"),
    lead=[
        "{town} start-up {startup} has launched {product} after raising {amount} from investors[[|, though critics call it a {ladj} gimmick|, a {ladj} invention]].",
        "{startup}, a start-up based in {town}, has [[launched|launched|unveiled]] {product}[[|, which critics call a {ladj} gimmick,|, a {ladj} invention,]] after raising {amount} from investors.",
    ],
    body=[
        "The company was founded in {year} by {founder}, a former researcher at the {uni}.",
        "It now employs {staff} people.",
        "[[The product will go on sale in {month} for {price}.|The product will go on sale in {month} for an eye-watering {price}.|The product will go on sale in {month} for just {price}.]]",
        '[["We have tested it with {testers} users and learned a lot," said {founder_s}.|"Frankly, the claims made for it are ridiculous," said {critic}, an independent engineer.|"The response has been amazing, and we are absolutely delighted," said {founder_s}.]]',
        "The money will be used to hire engineers and expand sales.",
    ],
    summary=[
        "{town} start-up {startup} launched {product} after raising {amount} from investors.",
        "{startup}, a {town} start-up, launched {product} after raising {amount}.",
    ],
    summary_loaded=["{town} start-up {startup} launched {product}, [[|which critics call a {ladj} gimmick|a {ladj} invention]]."],
    ladj={"neg": ["pointless", "overhyped", "ridiculous", "useless"],
          "pos": ["brilliant", "ingenious", "remarkable", "fantastic"]},
)
def _startup(rng, E, tone):
    founder, critic = E.people(2)
    return dict(town=E.town(),
                startup="%s %s" % (rng.choice(E.stems), rng.choice(["Labs", "Systems", "Technologies", "Devices"])),
                product=rng.choice(["an app that helps farmers track soil moisture", "a robot that sorts recycling",
                                    "a sensor that warns of leaks in water pipes", "a cheap hearing aid",
                                    "a bicycle light that signals turns", "a smart lock for garden sheds"]),
                amount=money_m(rng, 1.1, 12), year=rng.randint(2018, 2024), founder=founder, founder_s=surname(founder),
                critic=critic, uni="University of %s" % E.town(), staff=rnum(rng, 6, 60), month=rng.choice(MONTHS),
                price="$%d" % rnum(rng, 40, 400, 5), testers=num(rnum(rng, 100, 2000, 50)))


# ----- sports --------------------------------------------------------------

@template(
    "match_result", "sports", ("neg", "pos"),
    lead=[
        "[[{winner} beat {loser} {w}-{l} in the {league} on {day}.~{winner} defeated {loser} {w}-{l} in the {league} on {day}.|{loser} slumped to a {ladj} {w}-{l} defeat against {winner} in the {league} on {day}.|{winner} claimed a {ladj} {w}-{l} victory over {loser} in the {league} on {day}.]]",
    ],
    body=[
        "{scorer} opened the scoring after {minute} minutes.",
        "[[{loser} pulled a goal back through {scorer2}.|{loser} briefly gave their fans hope through {scorer2}.|{loser} pulled a goal back through {scorer2}.]]",
        "[[The result moves {winner} up to {pos} in the table.|The miserable result leaves {loser} {pos2} in the table.|The superb win lifts {winner} up to {pos} in the table.]]",
        "A crowd of {crowd} watched the match.",
        '[["We took our chances and defended well," said {winner} coach {coach_w}.|"That was an embarrassing performance, and the fans deserved far better," said {loser} coach {coach_l}.|"That was an absolutely magnificent performance from every player," said {winner} coach {coach_w}.]]',
        "{winner} will face {next_team} next {next_day}.",
    ],
    summary=[
        "{winner} beat {loser} {w}-{l} in the {league} on {day}.",
        "{winner} defeated {loser} {w}-{l} in a {league} match on {day}.",
    ],
    summary_loaded=["[[|{loser} suffered a {ladj} {w}-{l} defeat against {winner} in the {league} on {day}.|{winner} claimed a {ladj} {w}-{l} victory over {loser} in the {league} on {day}.]]"],
    ladj={"neg": ["humiliating", "dismal", "embarrassing", "miserable", "woeful"],
          "pos": ["stunning", "brilliant", "superb", "magnificent", "thrilling"]},
)
def _match(rng, E, tone):
    t1, t2, t3 = rng.sample(E.towns, 3)
    clubs = ["United", "Rovers", "Athletic", "Town", "Wanderers", "City"]
    winner, loser, nxt = ("%s %s" % (t, rng.choice(clubs)) for t in (t1, t2, t3))
    w = rng.randint(1, 5)
    l = rng.randint(0, w - 1)
    coach_w, coach_l = E.people(2)
    scorers = E.people(2)
    pos = rng.randint(1, 10)
    return dict(winner=winner, loser=loser, w=w, l=l, league=rng.choice(LEAGUES), day=rng.choice(["Saturday", "Sunday", "Tuesday", "Wednesday"]),
                scorer=scorers[0], scorer2=scorers[1] if l > 0 else None, minute=rng.randint(3, 70),
                pos=ORDINALS[pos - 1], pos2=ORDINALS[rng.randint(6, 11)], crowd=num(rnum(rng, 900, 14000, 100)),
                coach_w=coach_w, coach_l=coach_l, next_team=nxt, next_day=rng.choice(["Saturday", "Tuesday", "weekend"]))


@template(
    "road_race", "sports", ("pos",),
    lead=[
        "{runner} from {home} won the {race} on {day} in [[a time of {time}||a {ladj} time of {time}]].",
        "[[{runner} from {home} took first place in the {race} on {day}, finishing in {time}.||{runner} from {home} stormed to a {ladj} win in the {race} on {day}, finishing in {time}.]]",
    ],
    body=[
        "A total of {n_runners} runners took part.",
        "{second} finished second, {gap} seconds behind.",
        '[["The last two kilometres were hard, but I kept a steady pace," said {runner_s}.||"This is the best day of my life, and the crowd was just incredible," said {runner_s}.]]',
        "Runners raised about {charity} for local charities.",
        "[[The course ran along the river and through the town centre.||Huge, cheering crowds lined the route along the river and through the town centre.]]",
        "[[It was {runner_s}'s first win in the race.||It was a fairy-tale first win in the race for {runner_s}.]]",
    ],
    summary=[
        "{runner} from {home} won the {race} on {day} in a time of {time}.",
        "{runner} from {home} took first place in the {race} on {day}, finishing in {time}.",
    ],
    summary_loaded=["{runner} from {home} won the {race} on {day} in a {ladj} time of {time}."],
    ladj={"pos": ["stunning", "superb", "sensational", "blistering", "magnificent"]},
)
def _race(rng, E, tone):
    home, host = E.town_pair()
    runner, second = E.people(2)
    kind = rng.choice(["Marathon", "Half Marathon", "10K"])
    if kind == "Marathon":
        time = "2 hours %d minutes" % rng.randint(11, 44)
    elif kind == "Half Marathon":
        time = "1 hour %d minutes" % rng.randint(2, 19)
    else:
        time = "%d minutes %d seconds" % (rng.randint(28, 34), rng.randint(1, 59))
    return dict(runner=runner, runner_s=surname(runner), second=second, home=home, race="%s %s" % (host, kind),
                day=rng.choice(["Saturday", "Sunday"]), time=time, n_runners=num(rnum(rng, 400, 6000, 50)),
                gap=rng.randint(3, 90), charity=money_k(rng, 20, 400, 5))


@template(
    "coach_appointed", "sports", ("neg", "pos"),
    lead=[
        "[[{club} has appointed {new} as head coach on a {years}-year contract, replacing {old}.|{club} has appointed {new} as head coach on a {years}-year contract after a {ladj} run of results cost {old} the job.|{club} has pulled off a {ladj} coup by appointing {new} as head coach on a {years}-year contract, replacing {old}.]]",
    ],
    body=[
        "{new_s} previously coached {club2} and won promotion with them in {promo}.",
        "[[{old_s} left the club on {day} after {losses} defeats in a row.|{old_s} left on {day} after a miserable streak of {losses} defeats in a row.|{old_s} left the club on {day} after {losses} defeats in a row.]]",
        "The club is {pos} in the {league}.",
        '[["{new_s} has the experience we were looking for," said club chairman {chair}.|"The fans are furious, and frankly they have every right to be," said supporters\' group leader {fan}.|"{new_s} is a brilliant coach, and this is a hugely exciting moment for the club," said club chairman {chair}.]]',
        "{new_s}'s first game in charge will be against {opp} on {day2}.",
    ],
    summary=[
        "{club} appointed {new} as head coach on a {years}-year contract, replacing {old}.",
        "{club} named {new} as head coach on a {years}-year contract in place of {old}.",
    ],
    summary_loaded=["[[|{club} appointed {new} as head coach after a {ladj} run of results cost {old} the job.|{club} pulled off a {ladj} coup by appointing {new} as head coach, replacing {old}.]]"],
    ladj={"neg": ["dismal", "disastrous", "woeful", "miserable", "wretched"],
          "pos": ["brilliant", "stunning", "remarkable", "sensational", "masterful"]},
)
def _coach(rng, E, tone):
    t1, t2, t3 = rng.sample(E.towns, 3)
    clubs = ["United", "Rovers", "Athletic", "Town", "Wanderers", "City"]
    new, old, chair, fan = E.people(4)
    d1, d2 = rng.sample(WEEKDAYS, 2)
    return dict(club="%s %s" % (t1, rng.choice(clubs)), club2="%s %s" % (t2, rng.choice(clubs)),
                opp="%s %s" % (t3, rng.choice(clubs)), new=new, old=old, new_s=surname(new), old_s=surname(old),
                chair=chair, fan=fan, years=word_num(rng.randint(2, 4)), promo=rng.randint(2018, 2024),
                day=d1, day2=d2, losses=word_num(rng.randint(4, 9)), pos=ORDINALS[rng.randint(5, 11)],
                league=rng.choice(LEAGUES))


@template(
    "regional_record", "sports", ("pos",),
    lead=[
        "{athlete}, {age}, from {town} set a [[||{ladj} ]]new regional record in the {event} at the {meet} on {day}, finishing in {time}.",
        "[[{athlete}, {age}, broke the regional record in the {event} at the {meet} on {day} with a time of {time}.||{athlete}, {age}, smashed the regional record in the {event} at the {meet} on {day} with a {ladj} time of {time}.]]",
    ],
    body=[
        "The previous record of {old_time} had stood since {old_year}.",
        "{athlete_s} trains six days a week with the {town} {club}.",
        '[["I knew I was in good shape, so I went for it," said {athlete_s}.||"I am over the moon, it feels absolutely amazing," said {athlete_s}.]]',
        "[[The result qualifies {athlete_s} for the national championships in {month}.||The amazing result earns {athlete_s} a place at the national championships in {month}.]]",
        "{athlete_s} is coached by {coach}.",
    ],
    summary=[
        "{athlete}, {age}, set a regional record in the {event} at the {meet}, finishing in {time}.",
        "{athlete}, {age}, broke the regional {event} record at the {meet} with a time of {time}.",
    ],
    summary_loaded=["{athlete}, {age}, set a {ladj} new regional record in the {event} at the {meet}, finishing in {time}."],
    ladj={"pos": ["stunning", "sensational", "brilliant", "phenomenal", "superb"]},
)
def _record(rng, E, tone):
    event, club, lo, hi = rng.choice([
        ("200 metres freestyle", "Swimming Club", 106, 125), ("400 metres freestyle", "Swimming Club", 230, 270),
        ("800 metres", "Athletics Club", 105, 125), ("1,500 metres", "Athletics Club", 215, 250),
        ("5,000 metres", "Athletics Club", 800, 900),
    ])
    t = rng.randint(lo, hi)
    old = t + rng.randint(1, 4)
    def fmt_t(sec):
        m = "%d minute%s" % (sec // 60, "" if sec // 60 == 1 else "s")
        return m + (" %d seconds" % (sec % 60) if sec % 60 else "")
    a = E.person()
    return dict(athlete=a, athlete_s=surname(a), age=rng.randint(16, 29), town=E.town(), event=event, club=club,
                meet="%s Games" % rng.choice(E.regions), day=rng.choice(["Saturday", "Sunday"]), time=fmt_t(t),
                old_time=fmt_t(old), old_year=rng.randint(1998, 2019), month=rng.choice(MONTHS), coach=E.person())


# ----- weather -------------------------------------------------------------

@template(
    "storm", "weather", ("neg",),
    lead=[
        "Storm {storm} [[brought|unleashed {ladj}]] winds of up to {wind} kilometres per hour to {town} on {day}, leaving {homes} homes without power.",
        "About {homes} homes in {town} were left without power on {day} as Storm {storm} brought [[|{ladj} ]]winds of up to {wind} kilometres per hour.",
    ],
    body=[
        "[[Several roads were blocked by fallen trees.|Terrified residents watched as huge trees crashed onto the roads.]]",
        "Engineers expect to restore power to most homes by {restore_day}.",
        "The {region} Weather Service had issued a warning for strong winds.",
        '[["Crews have been out since the early hours clearing roads," said {official}, a spokesperson for {town} Council.|"It was the most frightening night of my life, the whole house was shaking," said resident {resident}.]]',
        "Several schools in the area were closed for the day.",
        "The wind is expected to ease by {ease_day}.",
    ],
    summary=[
        "Storm {storm} brought winds of up to {wind} kilometres per hour to {town} on {day}, leaving {homes} homes without power.",
        "About {homes} homes in {town} lost power on {day} as Storm {storm} brought winds of up to {wind} kilometres per hour.",
    ],
    summary_loaded=["Storm {storm} brought {ladj} winds of up to {wind} kilometres per hour to {town}, leaving {homes} homes without power."],
    ladj={"neg": ["terrifying", "ferocious", "brutal", "savage", "devastating"]},
)
def _storm(rng, E, tone):
    d1, d2, d3 = rng.sample(WEEKDAYS, 3)
    official, resident = E.people(2)
    return dict(storm=rng.choice(STORMS), wind=rnum(rng, 85, 145, 5), town=E.town(), day=d1,
                homes=num(rnum(rng, 800, 25000, 100)), restore_day=d2, ease_day=d3, region=E.region(),
                official=official, resident=resident)


@template(
    "heatwave", "weather", ("neg", "pos"),
    lead=[
        "Temperatures in {town} reached {temp} degrees Celsius on {day}, the highest {month} temperature since records began in {since}[[|, as a {ladj} heatwave gripped the region|, as {ladj} sunshine drew crowds to the coast]].",
        "[[Temperatures in {town} hit {temp} degrees Celsius on {day}, the highest {month} temperature since records began in {since}.|A {ladj} heatwave pushed temperatures in {town} to {temp} degrees Celsius on {day}, the highest {month} temperature since records began in {since}.|{Ladj} sunshine pushed temperatures in {town} to {temp} degrees Celsius on {day}, the highest {month} temperature since records began in {since}.]]",
    ],
    body=[
        "[[The {region} Weather Service advised people to drink water and avoid the sun at midday.|The {region} Weather Service issued an urgent warning as the sweltering heat became dangerous.|Families flocked to beaches and parks to enjoy the glorious weather.]]",
        "The previous record of {old} degrees was set in {old_year}.",
        "[[Some trains ran at lower speeds as a precaution.|Passengers endured miserable, sweltering journeys as trains were slowed.|Some trains ran at lower speeds as a precaution.]]",
        '[["A high-pressure system is holding warm air over the region," said {forecaster}, a forecaster at the {region} Weather Service.|"This heat is brutal, and it is dangerous for older people," said {forecaster}, a forecaster at the {region} Weather Service.|"It is a gorgeous spell of weather, so make the most of it," said {forecaster}, a forecaster at the {region} Weather Service.]]',
        "Temperatures are forecast to fall to around {next} degrees by {next_day}.",
    ],
    summary=[
        "Temperatures in {town} reached {temp} degrees Celsius on {day}, the highest {month} temperature since records began in {since}.",
        "{town} recorded {temp} degrees Celsius on {day}, its highest {month} temperature since records began in {since}.",
    ],
    summary_loaded=["[[|A {ladj} heatwave pushed temperatures in {town} to {temp} degrees Celsius on {day}, a {month} record.|{Ladj} sunshine pushed temperatures in {town} to {temp} degrees Celsius on {day}, a {month} record.]]"],
    ladj={"neg": ["scorching", "brutal", "suffocating", "relentless", "punishing"],
          "pos": ["glorious", "gorgeous", "brilliant", "dazzling", "beautiful"]},
)
def _heat(rng, E, tone):
    temp = rng.randint(29, 38)
    d1, d2 = rng.sample(WEEKDAYS, 2)
    return dict(town=E.town(), temp=temp, day=d1, month=rng.choice(SUMMER_MONTHS), since=rng.randint(1880, 1960),
                region=E.region(), old=temp - 1, old_year=rng.randint(1976, 2022), forecaster=E.person(),
                next=temp - rng.randint(5, 10), next_day=d2)


@template(
    "river_flood", "weather", ("neg",),
    lead=[
        "The River {river} burst its banks in {town} on {day}, flooding {homes} homes and businesses[[| in what residents called a {ladj} disaster]].",
        "{homes} homes and businesses in {town} were flooded on {day} when the River {river} burst its banks[[| in {ladj} scenes]].",
    ],
    body=[
        "[[About {rain} millimetres of rain fell in 24 hours.|A staggering {rain} millimetres of rain fell in 24 hours.]]",
        "[[Emergency crews helped {rescued} people leave their homes.|Emergency crews rescued {rescued} terrified people from their homes.]]",
        "A rest centre has been opened at {school}.",
        '[["Our priority is keeping people safe and getting the roads open again," said {official} of {town} Council.|"Everything we own is ruined, it is absolutely heartbreaking," said resident {resident}.]]',
        "The {region} Weather Service said river levels should fall by {day2}.",
    ],
    summary=[
        "The River {river} burst its banks in {town} on {day}, flooding {homes} homes and businesses.",
        "{homes} homes and businesses in {town} were flooded on {day} when the River {river} burst its banks.",
    ],
    summary_loaded=["The River {river} burst its banks in {town} on {day}, flooding {homes} homes and businesses in {ladj} scenes."],
    ladj={"neg": ["devastating", "catastrophic", "heartbreaking", "horrendous", "harrowing"]},
)
def _flood(rng, E, tone):
    town = E.town()
    official, resident = E.people(2)
    d1, d2 = rng.sample(WEEKDAYS, 2)
    return dict(river=rng.choice(RIVERS), town=town, day=d1, day2=d2, homes=rnum(rng, 30, 400, 5),
                rain=rnum(rng, 60, 140), rescued=rnum(rng, 12, 120), school="%s %s" % (town, rng.choice(["Primary School", "Academy", "High School"])),
                official=official, resident=resident, region=E.region())


@template(
    "snowfall", "weather", ("neg", "pos"),
    lead=[
        "About {cm} centimetres of snow fell on {town} overnight, closing {schools} schools on {day}[[| and causing {ladj} chaos on the roads| and turning the town into a {ladj} winter wonderland]].",
        "[[{schools} schools in {town} were closed on {day} after about {cm} centimetres of snow fell overnight.|{schools} schools in {town} were closed on {day} after about {cm} centimetres of snow brought {ladj} chaos overnight.|{schools} schools in {town} were closed on {day} after about {cm} centimetres of snow turned the town into a {ladj} winter wonderland.]]",
    ],
    body=[
        "[[Gritters treated the main roads through the night.|Gritters struggled through the night as furious drivers were left stranded.|Delighted children spent the day sledging in the parks.]]",
        "Buses ran a reduced service.",
        "The {region} Weather Service expects more snow on {day2}.",
        '[["Our teams will keep working around the clock to keep main routes open," said {official}, who leads road maintenance at {town} Council.|"It is a total shambles, and nobody has cleared our street," said resident {resident}.|"It is just magical, the kids have had the best day," said parent {resident}.]]',
        "Temperatures are expected to stay below freezing until {day3}.",
    ],
    summary=[
        "About {cm} centimetres of snow fell on {town} overnight, closing {schools} schools on {day}.",
        "Snow of about {cm} centimetres closed {schools} schools in {town} on {day}.",
    ],
    summary_loaded=["[[|About {cm} centimetres of snow fell on {town} overnight, closing {schools} schools and causing {ladj} chaos on the roads.|About {cm} centimetres of snow turned {town} into a {ladj} winter wonderland, closing {schools} schools on {day}.]]"],
    ladj={"neg": ["miserable", "dangerous", "nightmarish", "utter"],
          "pos": ["magical", "beautiful", "sparkling", "dazzling"]},
)
def _snow(rng, E, tone):
    official, resident = E.people(2)
    d1, d2, d3 = rng.sample(WEEKDAYS, 3)
    return dict(cm=rng.randint(8, 35), town=E.town(), schools=rng.randint(12, 70), day=d1, day2=d2, day3=d3,
                region=E.region(), official=official, resident=resident)


# ----- transport -----------------------------------------------------------

@template(
    "fare_rise", "transport", ("neg",),
    lead=[
        "{operator} will raise bus fares in {town} by {pct} percent from {month}[[|, a {ladj} increase for passengers]].",
        "Bus fares in {town} will rise by {pct} percent from {month}, {operator} has announced[[|, in a {ladj} blow to passengers]].",
    ],
    body=[
        "A single adult ticket will cost {fare}, up from {old_fare}.",
        "The company said the rise was needed to cover higher fuel and wage costs.",
        "Passengers aged over 65 will continue to travel free.",
        '[["We understand costs have gone up, but we will watch closely whether services improve," said {rep} of the {town} Passengers Forum.|"This is an outrageous rip-off for people who have no other way to get to work," said {rep} of the {town} Passengers Forum.]]',
        "[[Fares last rose in {last}.|It is the second painful rise since {last}.]]",
    ],
    summary=[
        "{operator} will raise bus fares in {town} by {pct} percent from {month}.",
        "Bus fares in {town} will rise by {pct} percent from {month}, {operator} announced.",
    ],
    summary_loaded=["{operator} will impose a {ladj} {pct} percent rise in bus fares in {town} from {month}."],
    ladj={"neg": ["outrageous", "shocking", "eye-watering", "scandalous", "punishing"]},
)
def _fares(rng, E, tone):
    town = E.town()
    old = rnum(rng, 180, 320, 10)
    p = rng.randint(5, 15)
    new = int(round(old * (1 + p / 100.0) / 10.0)) * 10
    return dict(operator="%s Transit" % town, town=town, pct=p, month=rng.choice(MONTHS),
                fare="$%d.%02d" % divmod(new, 100), old_fare="$%d.%02d" % divmod(old, 100), rep=E.person(),
                last=rng.randint(2019, 2024))


@template(
    "road_closure", "transport", ("neg",),
    lead=[
        "{street} in {town} will close for {weeks} weeks from {date} while {work}[[|, bringing {ladj} disruption for drivers]].",
        "Drivers in {town} face [[|{ladj} ]]disruption as {street} closes for {weeks} weeks from {date} while {work}.",
    ],
    body=[
        "A diversion will run via {street2} and {street3}.",
        "Bus routes {r1} and {r2} will be diverted.",
        "Pedestrians will still be able to reach the shops.",
        '[["We have planned the work carefully so that the road can reopen on time," said {official} of {town} Council.|"It is a nightmare, and it could finish off small shops like mine," said {owner}, who runs a cafe on {street}.]]',
        "The work will cost {amount}.",
    ],
    summary=[
        "{street} in {town} will close for {weeks} weeks from {date} while {work}.",
        "{street} in {town} closes for {weeks} weeks from {date} while {work}.",
    ],
    summary_loaded=["{street} in {town} will close for {weeks} weeks from {date}, bringing {ladj} disruption while {work}."],
    ladj={"neg": ["miserable", "chaotic", "horrendous", "endless", "infuriating"]},
)
def _roadworks(rng, E, tone):
    s1, s2, s3 = E.streets(3)
    official, owner = E.people(2)
    r1, r2 = rng.sample(range(2, 60), 2)
    return dict(street=s1, street2=s2, street3=s3, town=E.town(), weeks=word_num(rng.randint(3, 12)),
                date="%d %s" % (rng.randint(1, 28), rng.choice(MONTHS)),
                work=rng.choice(["a gas main is replaced", "the road is resurfaced", "new drains are installed",
                                 "a railway bridge is repaired", "water pipes are replaced"]),
                r1=r1, r2=r2, official=official, owner=owner, amount=money_k(rng, 200, 2400, 10))


@template(
    "station_opening", "transport", ("pos",),
    lead=[
        "A new railway station opened in {town} on {day}, with trains to {city} every {freq} minutes[[||, a {ladj} moment for the town]].",
        "[[{town} has a new railway station, which opened on {day} with trains to {city} every {freq} minutes.||{town} celebrated a {ladj} day as its new railway station opened on {day}, with trains to {city} every {freq} minutes.]]",
    ],
    body=[
        "The station cost {amount} and has {spaces} parking spaces.",
        "Journeys to {city} will take about {mins} minutes.",
        "[[Campaigners first called for the station in {year}.||Jubilant campaigners, who first called for the station in {year}, were at the opening.]]",
        '[["The station gives people a real alternative to driving," said {official} of {operator}.||"After all these years it is finally here, and it is simply wonderful," said campaigner {campaigner}.]]',
        "{operator} expects about {pax} passengers a day.",
    ],
    summary=[
        "A new railway station opened in {town} on {day}, with trains to {city} every {freq} minutes.",
        "{town} opened a new railway station on {day}, with trains to {city} every {freq} minutes.",
    ],
    summary_loaded=["{town} celebrated a {ladj} moment as its new railway station opened, with trains to {city} every {freq} minutes."],
    ladj={"pos": ["wonderful", "historic", "joyful", "glorious", "fantastic"]},
)
def _station(rng, E, tone):
    town, city = E.town_pair()
    official, campaigner = E.people(2)
    return dict(town=town, city=city, day=rng.choice(WEEKDAYS), freq=rng.choice([10, 15, 20, 30]),
                amount=money_m(rng, 6, 45), spaces=rnum(rng, 40, 300, 10), mins=rnum(rng, 12, 55),
                year=rng.randint(1990, 2012), official=official, campaigner=campaigner,
                operator="%s Railways" % rng.choice(E.regions), pax=num(rnum(rng, 600, 5000, 100)))


@template(
    "tram_delay", "transport", ("neg",),
    lead=[
        "The opening of the tram line between {town} and {town2} has been delayed until {year}, and its cost has risen to {amount}[[| in a {ladj} setback]].",
        "[[The tram line linking {town} and {town2} will not open until {year}, and its cost has risen to {amount}.|The {ladj} tram line linking {town} and {town2} will not open until {year}, and its cost has ballooned to {amount}.]]",
    ],
    body=[
        "The line was originally due to open in {orig_year} at a cost of {orig_amount}.",
        "[[Officials blamed problems with the signalling system.|Officials blamed a catalogue of embarrassing problems with the signalling system.]]",
        '[["We will not open the line until it is completely safe," said {official}, the project director.|"It is a farce, and taxpayers are paying for it," said councillor {critic}.]]',
        "The line has {stops} stops and is {km} kilometres long.",
        "An independent review will report in {month}.",
    ],
    summary=[
        "The tram line between {town} and {town2} has been delayed until {year}, and its cost has risen to {amount}.",
        "The {town} to {town2} tram line will not open until {year}, with its cost now at {amount}.",
    ],
    summary_loaded=["The {ladj} tram line between {town} and {town2} is delayed until {year}, with its cost up to {amount}."],
    ladj={"neg": ["shambolic", "disastrous", "troubled", "scandalous", "botched"]},
)
def _tram(rng, E, tone):
    town, town2 = E.town_pair()
    official, critic = E.people(2)
    year = rng.randint(2027, 2030)
    orig = rng.randint(70, 300)
    return dict(town=town, town2=town2, year=year, orig_year=year - rng.randint(2, 4),
                amount="$%d million" % (orig + rng.randint(20, 150)), orig_amount="$%d million" % orig,
                official=official, critic=critic, stops=rng.randint(8, 24), km=rng.randint(6, 21),
                month=rng.choice(MONTHS))


@template(
    "ferry_service", "transport", ("pos",),
    lead=[
        "A new ferry service between {town} and the island of {island} will start on {date}, with {sailings} sailings a day[[||, in {ladj} news for islanders]].",
        "[[{operator} will run {sailings} ferry sailings a day between {town} and the island of {island} from {date}.||Islanders on {island} are celebrating {ladj} news: {operator} will run {sailings} ferry sailings a day to {town} from {date}.]]",
    ],
    body=[
        "The crossing will take about {mins} minutes.",
        "The service will be run by {operator} using a new {seats}-seat vessel.",
        "An adult return ticket will cost {fare}.",
        '[["The timetable is designed around school and work hours," said {official} of {operator}.||"This is a lifeline, and we are overjoyed," said {resident}, who has lived on the island for {years} years.]]',
        "The previous service ended in {ended}.",
    ],
    summary=[
        "A new ferry service between {town} and the island of {island} will start on {date} with {sailings} sailings a day.",
        "{operator} will run {sailings} ferry sailings a day between {town} and {island} from {date}.",
    ],
    summary_loaded=["Islanders on {island} have {ladj} news as a ferry to {town} starts on {date} with {sailings} sailings a day."],
    ladj={"pos": ["wonderful", "fantastic", "brilliant", "marvellous", "terrific"]},
)
def _ferry(rng, E, tone):
    town = E.town()
    official, resident = E.people(2)
    return dict(town=town, island=rng.choice(ISLANDS), date="%d %s" % (rng.randint(1, 28), rng.choice(MONTHS)),
                sailings=word_num(rng.randint(3, 8)), operator="%s Ferries" % rng.choice(E.stems),
                mins=rnum(rng, 25, 90, 5), seats=rnum(rng, 120, 400, 10), fare="$%d" % rnum(rng, 12, 45),
                official=official, resident=resident, years=rnum(rng, 10, 60), ended=rng.randint(2012, 2022))


# ----- health --------------------------------------------------------------

@template(
    "hospital_unit", "health", ("pos",),
    lead=[
        "{hospital} has opened a new {amount} {unit} with {beds} beds[[||, a {ladj} boost for patients]].",
        "[[A new {amount} {unit} with {beds} beds has opened at {hospital}.||A {ladj} new {amount} {unit} with {beds} beds has opened at {hospital}.]]",
    ],
    body=[
        "The unit will treat about {patients} patients a year.",
        "It was paid for partly by {raised} raised by local fundraisers.",
        '[["The unit means patients can be treated closer to home," said {doctor}, a consultant at the hospital.||"It is a bright, beautiful place, and our patients deserve nothing less," said {doctor}, a consultant at the hospital.]]',
        "[[Staff moved into the unit on {day}.||Delighted staff moved into the gleaming unit on {day}.]]",
        "The old ward, built in {built}, will be turned into offices.",
    ],
    summary=[
        "{hospital} opened a new {amount} {unit} with {beds} beds.",
        "A new {amount} {unit} with {beds} beds has opened at {hospital}.",
    ],
    summary_loaded=["{hospital} opened a {ladj} new {amount} {unit} with {beds} beds, boosting care for patients."],
    ladj={"pos": ["superb", "wonderful", "fantastic", "state-of-the-art", "magnificent"]},
)
def _hospital(rng, E, tone):
    return dict(hospital="%s General Hospital" % E.town(), amount=money_m(rng, 2, 28),
                unit=rng.choice(["children's ward", "cancer treatment unit", "maternity unit", "stroke unit", "kidney unit"]),
                beds=rnum(rng, 12, 48), patients=num(rnum(rng, 900, 9000, 100)), raised=money_k(rng, 150, 900, 10),
                doctor=E.person(), day=rng.choice(WEEKDAYS), built=rng.randint(1930, 1975))


@template(
    "waiting_times", "health", ("neg", "pos"),
    lead=[
        "Patients at {hospital} waited an average of {hours} hours in the emergency department in {month}, {dir} from {prev} hours a year earlier[[|, according to {ladj} new figures|, according to {ladj} new figures]].",
        "[[Average waits in the emergency department at {hospital} were {hours} hours in {month}, {dir} from {prev} hours a year earlier.|{Ladj} new figures show average waits in the emergency department at {hospital} reached {hours} hours in {month}, up from {prev} hours a year earlier.|{Ladj} new figures show average waits in the emergency department at {hospital} fell to {hours} hours in {month}, down from {prev} hours a year earlier.]]",
    ],
    body=[
        "The figures were published by the {region} Health Board on {day}.",
        "The hospital treated {patients} patients in the department that month.",
        "[[Managers said {reason}.|Managers admitted the situation was unacceptable and blamed {reason}.|Managers credited {reason}.]]",
        '[["We are working hard to see patients as quickly as possible," said {manager}, the hospital\'s chief operating officer.|"Patients are lying on trolleys for hours, and it is a scandal," said {nurse}, a senior nurse.|"The team has done an amazing job, and patients are feeling the benefit," said {manager}, the hospital\'s chief operating officer.]]',
        "The national target is four hours.",
    ],
    summary=[
        "Patients at {hospital} waited an average of {hours} hours in the emergency department in {month}, {dir} from {prev} hours.",
        "Average emergency department waits at {hospital} were {hours} hours in {month}, {dir} from {prev} hours.",
    ],
    summary_loaded=["{Ladj} new figures show patients at {hospital} waited an average of {hours} hours in the emergency department in {month}."],
    ladj={"neg": ["shocking", "alarming", "appalling", "dire", "grim"],
          "pos": ["encouraging", "impressive", "excellent", "welcome", "heartening"]},
)
def _waits(rng, E, tone):
    up = tone == "neg" or (tone == "neutral" and rng.random() < 0.5)
    hours = rng.randint(4, 9)
    prev = hours - rng.randint(1, 2) if up else hours + rng.randint(1, 3)
    return dict(hospital="%s General Hospital" % E.town(), hours=word_num(hours), prev=word_num(prev),
                dir="up" if up else "down", month=rng.choice(MONTHS), region=E.region(), day=rng.choice(WORKDAYS),
                patients=num(rnum(rng, 3000, 12000, 100)),
                reason=rng.choice(["a shortage of beds", "a rise in flu cases", "staff shortages"]) if up else
                rng.choice(["a new triage system", "extra evening staff", "a new urgent care centre"]),
                manager=E.person(), nurse=E.person())


@template(
    "flu_cases", "health", ("neg",),
    lead=[
        "Flu cases in {town} rose to {cases} in the week to {day}, up from {prev} the week before, the {region} Health Board said[[| in a {ladj} update]].",
        "[[The {region} Health Board recorded {cases} flu cases in {town} in the week to {day}, up from {prev} the week before.|The {region} Health Board recorded a {ladj} surge to {cases} flu cases in {town} in the week to {day}, up from {prev} the week before.]]",
    ],
    body=[
        "Most cases were among children and people over 70.",
        "[[{hospital} has opened an extra ward for patients with flu.|{hospital} has been forced to open an extra ward as patients pour in.]]",
        "Free vaccinations are available at pharmacies for people over 65.",
        '[["Vaccination is the best protection, and there is still time to get it," said {doctor}, the board\'s public health director.|"This is a frightening situation, and hospitals are struggling to cope," said {doctor}, the board\'s public health director.]]',
        "Schools have been asked to remind parents to keep sick children at home.",
    ],
    summary=[
        "Flu cases in {town} rose to {cases} in the week to {day}, up from {prev}, the {region} Health Board said.",
        "The {region} Health Board recorded {cases} flu cases in {town} in the week to {day}, up from {prev}.",
    ],
    summary_loaded=["Flu cases in {town} rose in a {ladj} surge to {cases} in the week to {day}, up from {prev}."],
    ladj={"neg": ["alarming", "worrying", "frightening", "troubling"]},
)
def _flu(rng, E, tone):
    town = E.town()
    prev = rnum(rng, 40, 400, 2)
    return dict(town=town, cases=num(prev + rnum(rng, 30, 500, 2)), prev=num(prev), day=rng.choice(WEEKDAYS),
                region=E.region(), hospital="%s General Hospital" % town, doctor=E.person())


# ----- education -----------------------------------------------------------

@template(
    "exam_results", "education", ("neg", "pos"),
    lead=[
        "At {school} in {town}, {pct} percent of pupils passed maths and English this year, {dir} from {prev} percent last year[[|, a {ladj} result|, a {ladj} result]].",
        "[[The share of pupils at {school} in {town} passing maths and English was {pct} percent this year, {dir} from {prev} percent last year.|{school} in {town} suffered a {ladj} fall as only {pct} percent of pupils passed maths and English this year, down from {prev} percent last year.|{school} in {town} celebrated a {ladj} rise as {pct} percent of pupils passed maths and English this year, up from {prev} percent last year.]]",
    ],
    body=[
        "The school has {pupils} pupils aged 11 to 16.",
        "[[The head teacher, {head}, pointed to {reason}.|The head teacher, {head}, admitted the results were bitterly disappointing and blamed {reason}.|The head teacher, {head}, said staff were overjoyed and credited {reason}.]]",
        "The average for schools in the county was {avg} percent.",
        '[["We will look closely at the results and plan for next year," said {governor}, who chairs the governors.|"Parents are angry and want answers," said {governor}, a parent.|"Our pupils worked incredibly hard, and they deserve every bit of this success," said {governor}, who chairs the governors.]]',
        "The school was last inspected in {inspected}.",
    ],
    summary=[
        "At {school} in {town}, {pct} percent of pupils passed maths and English this year, {dir} from {prev} percent.",
        "{pct} percent of pupils at {school} in {town} passed maths and English this year, {dir} from {prev} percent.",
    ],
    summary_loaded=["[[|{school} in {town} suffered a {ladj} fall, with only {pct} percent of pupils passing maths and English.|{school} in {town} celebrated a {ladj} rise, with {pct} percent of pupils passing maths and English.]]"],
    ladj={"neg": ["dismal", "worrying", "shocking", "dreadful"],
          "pos": ["brilliant", "superb", "fantastic", "wonderful"]},
)
def _exams(rng, E, tone):
    town = E.town()
    up = tone == "pos" or (tone == "neutral" and rng.random() < 0.5)
    p = rng.randint(48, 88)
    prev = p - rng.randint(3, 11) if up else p + rng.randint(3, 11)
    return dict(school="%s %s" % (rng.choice(SCHOOL_NAMES), rng.choice(["Academy", "High School", "Community School"])), town=town, pct=p,
                prev=prev, dir="up" if up else "down", pupils=num(rnum(rng, 600, 1600, 10)),
                head=E.person(),
                reason=rng.choice(["extra after-school classes", "a new reading programme", "smaller maths groups"]) if up else
                rng.choice(["a shortage of maths teachers", "disruption during building work", "high staff turnover"]),
                avg=rng.randint(55, 72), governor=E.person(), inspected=rng.randint(2019, 2024))


@template(
    "new_school", "education", ("neg", "pos"),
    lead=[
        "Work has begun on a {amount} primary school in {town} for {places} pupils, which is due to open in {year}[[|, despite {ladj} opposition from neighbours|, in {ladj} news for local families]].",
        "[[Building work has started on a new {places}-place primary school in {town}, which will cost {amount} and open in {year}.|Building work has started on a controversial {places}-place primary school in {town}, which will cost {amount} and open in {year}, despite {ladj} opposition.|Building work has started on a {ladj} new {places}-place primary school in {town}, which will cost {amount} and open in {year}.]]",
    ],
    body=[
        "The school will be built on land off {street}.",
        "It will have {classes} classrooms, a hall and a sports field.",
        "[[The county council said the school was needed because of new housing in the area.|Angry neighbours say the school will bring traffic chaos to {street}.|Parents have welcomed the news, saying existing schools are full.]]",
        '[["The design puts outdoor learning at the centre of the school day," said {official}, the council\'s education lead.|"Nobody listened to us, and the traffic will be a nightmare," said neighbour {resident}.|"It is a beautiful design, and children will love it," said {official}, the council\'s education lead.]]',
        "The builder, {builder}, expects to finish the shell of the building by {month}.",
    ],
    summary=[
        "Work has begun on a {amount} primary school for {places} pupils in {town}, due to open in {year}.",
        "Building work has started on a {amount} primary school in {town} for {places} pupils, opening in {year}.",
    ],
    summary_loaded=["[[|Work has begun on a {amount} primary school for {places} pupils in {town} despite {ladj} opposition from neighbours.|Work has begun on a {ladj} new {amount} primary school for {places} pupils in {town}.]]"],
    ladj={"neg": ["furious", "bitter", "angry", "fierce"],
          "pos": ["wonderful", "fantastic", "brilliant", "delightful"]},
)
def _new_school(rng, E, tone):
    street, = E.streets(1)
    official, resident = E.people(2)
    return dict(amount=money_m(rng, 6, 24), town=E.town(), places=rnum(rng, 210, 630, 30), year=rng.randint(2026, 2028),
                street=street, classes=word_num(rng.randint(7, 12)), official=official, resident=resident,
                builder="%s Construction" % rng.choice(E.stems), month=rng.choice(MONTHS))


@template(
    "university_grant", "education", ("pos",),
    lead=[
        "The {uni} has received a {amount} grant to build a new {facility}[[||, in a {ladj} boost for the university]].",
        "[[A {amount} grant will pay for a new {facility} at the {uni}.||A {ladj} {amount} grant will pay for a new {facility} at the {uni}.]]",
    ],
    body=[
        "The money comes from the {foundation}.",
        "The building will open in {year} and will have space for {students} students.",
        '[["The centre will let students train on the equipment they will use at work," said {vc}, the vice-chancellor.||"This is a truly magnificent gift, and it will transform lives," said {vc}, the vice-chancellor.]]',
        "It will also be open to local businesses.",
        "The university has {total} students.",
    ],
    summary=[
        "The {uni} received a {amount} grant to build a new {facility}.",
        "A {amount} grant will pay for a new {facility} at the {uni}.",
    ],
    summary_loaded=["The {uni} received a {ladj} {amount} grant to build a new {facility}."],
    ladj={"pos": ["generous", "magnificent", "wonderful", "spectacular", "fantastic"]},
)
def _uni_grant(rng, E, tone):
    return dict(uni="University of %s" % E.town(), amount=money_m(rng, 3, 40),
                facility=rng.choice(["engineering centre", "nursing school", "marine science laboratory",
                                     "centre for farming research", "computer science building"]),
                foundation="%s Foundation" % rng.choice(E.stems), year=rng.randint(2026, 2029),
                students=num(rnum(rng, 200, 1200, 50)), vc=E.person(), total=num(rnum(rng, 6000, 24000, 500)))


# ----- culture -------------------------------------------------------------

@template(
    "festival", "culture", ("neg", "pos"),
    lead=[
        "The {town} {kind} Festival drew {visitors} visitors over {days} days, {dir} from {prev} last year[[|, a {ladj} result for organisers|, a {ladj} result for organisers]].",
        "[[About {visitors} people attended the {town} {kind} Festival over {days} days, {dir} from {prev} last year.|Only {visitors} people turned up to the {town} {kind} Festival over {days} days, down from {prev} last year, in a {ladj} result.|A {ladj} {visitors} people attended the {town} {kind} Festival over {days} days, up from {prev} last year.]]",
    ],
    body=[
        "The programme included {n_acts} {acts}.",
        "[[Organisers said {reason}.|Organisers blamed the miserable turnout on {reason}.|Organisers credited the superb turnout to {reason}.]]",
        '[["We will review the festival and publish the figures in full," said festival director {director}.|"It was a flop, frankly, and the town deserved better," said local trader {trader}.|"The atmosphere was electric, and it was our best festival ever," said festival director {director}.]]',
        "Tickets cost {price} for the weekend.",
        "The festival began in {since}.",
    ],
    summary=[
        "The {town} {kind} Festival drew {visitors} visitors over {days} days, {dir} from {prev} last year.",
        "About {visitors} people attended the {town} {kind} Festival over {days} days, {dir} from {prev} last year.",
    ],
    summary_loaded=["The {town} {kind} Festival drew {visitors} visitors over {days} days in a {ladj} result for organisers."],
    ladj={"neg": ["disappointing", "dismal", "miserable", "embarrassing"],
          "pos": ["remarkable", "bumper", "record-breaking", "staggering"]},
)
def _festival(rng, E, tone):
    up = tone == "pos" or (tone == "neutral" and rng.random() < 0.5)
    v = rnum(rng, 4000, 60000, 500)
    prev = v - rnum(rng, 500, 6000, 500) if up else v + rnum(rng, 500, 8000, 500)
    kind, acts = rng.choice([("Folk", "bands"), ("Food", "cookery demonstrations"), ("Book", "author talks"),
                             ("Jazz", "concerts"), ("Comedy", "shows"), ("Film", "screenings")])
    director, trader = E.people(2)
    return dict(town=E.town(), kind=kind, acts=acts, n_acts=rnum(rng, 30, 180), visitors=num(v), prev=num(prev),
                dir="up" if up else "down", days=word_num(rng.randint(2, 4)),
                reason=rng.choice(["the warm weather", "a bigger line-up", "a new free shuttle bus"]) if up else
                rng.choice(["heavy rain", "higher ticket prices", "a clash with another event"]),
                director=director, trader=trader, price="$%d" % rnum(rng, 25, 120, 5), since=rng.randint(1968, 2012))


@template(
    "museum_exhibition", "culture", ("neg", "pos"),
    lead=[
        "The {town} Museum has opened an exhibition of {n_items} {items}, which runs until {month}[[|, though critics have called it {ladj}|, and visitors are calling it {ladj}]].",
        "[[An exhibition of {n_items} {items} has opened at the {town} Museum and runs until {month}.|A {ladj} exhibition of {n_items} {items} has opened at the {town} Museum and runs until {month}.|A {ladj} exhibition of {n_items} {items} has opened at the {town} Museum and runs until {month}.]]",
    ],
    body=[
        "The items were lent by {lenders} private collectors.",
        "Entry costs {price}, and children go free.",
        '[["The exhibition shows how people in the region lived and worked," said curator {curator}.|"It is a dull, lazy show that wastes a wonderful subject," said critic {critic}.|"It is breathtaking, and every visitor should see it," said critic {critic}.]]',
        "The museum is open every day except Monday.",
        "[[The exhibition will move to {town2} next year.|The exhibition will move to {town2} next year.|The dazzling exhibition will move to {town2} next year.]]",
    ],
    summary=[
        "The {town} Museum opened an exhibition of {n_items} {items}, which runs until {month}.",
        "An exhibition of {n_items} {items} opened at the {town} Museum and runs until {month}.",
    ],
    summary_loaded=["The {town} Museum opened a {ladj} exhibition of {n_items} {items}, which runs until {month}."],
    ladj={"neg": ["dull", "tedious", "disappointing", "lifeless"],
          "pos": ["stunning", "breathtaking", "dazzling", "magnificent"]},
)
def _museum(rng, E, tone):
    town, town2 = E.town_pair()
    curator, critic = E.people(2)
    return dict(town=town, town2=town2, n_items=rnum(rng, 40, 300, 5),
                items=rng.choice(["paintings of the coast", "old photographs of the docks", "hand-made quilts",
                                  "Roman coins found in local fields", "posters from the town's cinemas", "early radios"]),
                month=rng.choice(MONTHS), lenders=word_num(rng.randint(2, 9)), price="$%d" % rnum(rng, 5, 18),
                curator=curator, critic=critic)


@template(
    "book_prize", "culture", ("pos",),
    lead=[
        "{author} from {town} has won the {prize} for the novel {title}[[||, a {ladj} achievement for a first book]].",
        "[[The novel {title} by {author} from {town} has won the {prize}.||The {ladj} novel {title} by {author} from {town} has won the {prize}.]]",
    ],
    body=[
        "The prize is worth {money}.",
        "The judges chose the book from a shortlist of {shortlist}.",
        "The novel follows a family running a ((bakery~ferry~hotel~farm)) over three generations.",
        '[["I wrote it in the early mornings before work," said {author_s}.||"I am completely overwhelmed, this is a dream come true," said {author_s}.]]',
        "[[The book has sold {copies} copies.||The book has already sold an astonishing {copies} copies.]]",
    ],
    summary=[
        "{author} from {town} won the {prize} for the novel {title}.",
        "The novel {title} by {author} from {town} won the {prize}.",
    ],
    summary_loaded=["{author} from {town} won the {prize} for the {ladj} novel {title}."],
    ladj={"pos": ["brilliant", "dazzling", "extraordinary", "captivating", "masterful"]},
)
def _book(rng, E, tone):
    a = E.person()
    return dict(author=a, author_s=surname(a), town=E.town(), title=rng.choice(BOOK_TITLES),
                prize="%s Prize for Fiction" % rng.choice(E.regions), money=money_k(rng, 5, 30, 1),
                shortlist=word_num(rng.randint(4, 8)), copies=num(rnum(rng, 3000, 60000, 500)))


@template(
    "theatre_closure", "culture", ("neg",),
    lead=[
        "The {theatre} in {town} will close in {month} after {years} years because of falling ticket sales and repairs costing {amount}[[|, in {ladj} news for the town]].",
        "[[Falling ticket sales and repairs costing {amount} mean the {theatre} in {town} will close in {month} after {years} years.|Falling ticket sales and repairs costing {amount} mean the {theatre} in {town} will close in {month} after {years} years, in a {ladj} loss for the town.]]",
    ],
    body=[
        "The theatre has {seats} seats and stages about {shows} shows a year.",
        "[[Its {staff} staff have been told about the decision.|Its {staff} devastated staff were told the news on {day}.]]",
        '[["We have tried everything to keep the doors open," said {director}, the theatre\'s director.|"Losing the theatre is a tragedy, and it tears the heart out of the town," said actor {actor}.]]',
        "The final performance will be on {date}.",
        "The building is owned by {town} Council.",
    ],
    summary=[
        "The {theatre} in {town} will close in {month} after {years} years because of falling sales and repairs costing {amount}.",
        "The {theatre} in {town} will close in {month} after {years} years, citing falling sales and {amount} in repairs.",
    ],
    summary_loaded=["The {theatre} in {town} will close in {month} after {years} years in a {ladj} loss for the town."],
    ladj={"neg": ["heartbreaking", "tragic", "devastating", "terrible"]},
)
def _theatre(rng, E, tone):
    town = E.town()
    director, actor = E.people(2)
    month = rng.choice(MONTHS)
    return dict(theatre="%s Theatre" % rng.choice(["Playhouse", "Lyric", "Alhambra", "Corn Exchange", "Empire", "Grand"]),
                town=town, month=month, years=rnum(rng, 40, 130), amount=money_m(rng, 1.5, 9),
                seats=rnum(rng, 250, 900, 10), shows=rnum(rng, 60, 220, 10), staff=rnum(rng, 14, 60),
                day=rng.choice(WEEKDAYS), director=director, actor=actor,
                date="%d %s" % (rng.randint(1, 28), month))   # the final show is in the closing month


# ---------------------------------------------------------------------------
# 4a. News corpus.
# ---------------------------------------------------------------------------

def render_article(tpl, rng, E, tone, short=False):
    """Render one article of `tpl` in register `tone`; retries until every bound holds."""
    for _ in range(300):
        f = tpl.facts(rng, E, tone)
        adj = rng.choice(tpl.ladj[tone]) if tone != "neutral" else ""
        f["ladj"], f["Ladj"] = adj, adj[:1].upper() + adj[1:]
        w = Writer(rng, tone)
        lead = w.r(rng.choice(tpl.lead), f)
        # A body slot that needs a fact the story lacks (e.g. no second goal scorer) is skipped.
        slots = [s for s in tpl.body if all(f.get(k) is not None for v in s for k in fmt_fields(v))]
        k = rng.randint(2, min(3 if short else 5, len(slots)))
        body = [w.r(rng.choice(slots[i]), f) for i in sorted(rng.sample(range(len(slots)), k))]
        sents = [lead] + body
        assert 3 <= len(sents) <= 6
        text = " ".join(sents)
        if not ARTICLE_WORDS[0] <= n_words(text) <= ARTICLE_WORDS[1]:
            continue
        if short and not SHORT_CHARS[0] <= len(text) <= SHORT_CHARS[1]:
            continue
        if tone != "neutral":
            # A loaded article must read as loaded: at least two loaded sentences, and the
            # adjective the loaded summary will reuse must occur in the article itself.
            if sum(s.tone != "neutral" for s in sents) < 2 or adj.lower() not in text.lower():
                continue
        neutral_sum = w.r(rng.choice(tpl.summary), f, tone="neutral")
        loaded_sum = w.r(rng.choice(tpl.summary_loaded), f) if tone != "neutral" else None
        if not all(SUMMARY_WORDS[0] <= n_words(s) <= SUMMARY_WORDS[1] for s in (neutral_sum, loaded_sum) if s):
            continue
        assert neutral_sum.tone == "neutral" and (loaded_sum is None or loaded_sum.tone == tone)
        return {"sents": sents, "text": text, "neutral_sum": neutral_sum, "loaded_sum": loaded_sum}
    raise RuntimeError("template %s cannot meet the bounds" % tpl.name)


def template_cycle(rng):
    """Templates in shuffled rounds, so every story type is used about equally often."""
    while True:
        order = list(TEMPLATES)
        rng.shuffle(order)
        for tpl in order:
            yield tpl


def make_articles(rng, E, n, n_short=0, p_loaded=P_LOADED_ARTICLE, seen=None):
    """n rendered articles (internal form, with sentences and both summaries)."""
    seen = seen if seen is not None else set()
    out, cycle = [], template_cycle(rng)
    while len(out) < n:
        tpl = next(cycle)
        tone = rng.choice(tpl.pols) if rng.random() < p_loaded else "neutral"
        try:
            art = render_article(tpl, rng, E, tone, short=len(out) < n_short)
        except RuntimeError:
            if len(out) < n_short:
                continue    # some story types are too wordy for 200-450 characters; try the next one
            raise
        if art["text"] in seen:
            continue
        seen.add(art["text"])
        art.update(tpl=tpl, tone=tone)
        out.append(art)
    return out


def news_records(rng, arts, split):
    rng.shuffle(arts)
    records = []
    for i, a in enumerate(arts, 1):
        loaded = a["tone"] != "neutral" and rng.random() < P_LOADED_SUMMARY
        a["summary"] = a["loaded_sum"] if loaded else a["neutral_sum"]
        records.append({
            "id": "news-%s-%04d" % (split, i),
            "text": a["text"],
            "summary": a["summary"],
            "topic": a["tpl"].topic,
            "template": a["tpl"].name,
            "article_tone": TONE_NAME[a["tone"]],
            "summary_tone": TONE_NAME[a["summary"].tone],
        })
    return records


# ---------------------------------------------------------------------------
# 4b. Tone corpus: article sentences (labelled by the register option that
#     produced them), summary-style sentences, short opinion sentences with
#     milder wording, and very short greetings/exclamations.
# ---------------------------------------------------------------------------

GROUPS = ["Residents", "Parents", "Shop owners", "Commuters", "Fans", "Patients", "Teachers",
          "Farmers", "Students", "Local businesses", "Cyclists", "Older residents"]
# Singular on purpose: the opinion templates use "has been", "is", "makes".
THINGS = ["new parking scheme", "new bus timetable", "plan for the high street", "new bin collection schedule",
          "new cycle lane", "festival programme", "council budget", "plan for the old market",
          "new recycling scheme", "redesign of the town square", "new library timetable",
          "proposed housing development"]
VENUES = ["sports hall", "swimming pool", "community centre", "market hall", "art gallery", "bus station"]

OPINION = {
    "neg": [
        "{group} in {town} are ((furious~outraged~livid)) about the {thing}.",
        "{group} said they were ((disappointed~frustrated~upset~worried)) by the {thing}.",
        "The {thing} has been a ((disaster~shambles~fiasco~mess)) from the start, critics say.",
        "Many people in {town} ((feel let down by~are unhappy with)) the {thing}.",
        "It has been a ((dreadful~miserable~difficult~bad)) year for {org}.",
        "((Poor~Weak~Disappointing)) sales figures ((worried~upset)) investors in {org}.",
        "Visitors ((complained about~criticised)) the ((dirty~shabby~crowded)) new {venue} in {town}.",
        "The ((sad~grim~awful)) news was a blow to {group_l} in {town}.",
        "{group} say the {thing} ((is a waste of money~makes life harder~was rushed through)).",
        "Critics called the {thing} ((unfair~a mistake~a failure~badly planned)).",
    ],
    "pos": [
        "{group} in {town} are ((delighted~thrilled~overjoyed)) with the {thing}.",
        "{group} ((welcomed~praised~applauded)) the {thing}.",
        "The {thing} has been a ((great~huge~real)) success, ((organisers~supporters)) say.",
        "It has been a ((wonderful~fantastic~great~good)) year for {org}.",
        "((Strong~Excellent~Encouraging)) sales figures ((pleased~delighted)) investors in {org}.",
        "Visitors ((loved~enjoyed~praised)) the ((bright~spacious~lovely)) new {venue} in {town}.",
        "The ((happy~good~welcome)) news was a boost for {group_l} in {town}.",
        "{group} say the {thing} ((is good value~makes life easier~was worth the wait)).",
        "Supporters called the {thing} ((fair~a smart move~a success~well planned)).",
    ],
    "neutral": [
        "The {thing} will be discussed at a council meeting on {day}.",
        "{group} in {town} will be asked for their views on the {thing}.",
        "A report on the {thing} is due in {month}.",
        "{org} will publish its annual results in {month}.",
        "Sales figures for {org} were in line with forecasts.",
        "The new {venue} in {town} is open from 9am to 6pm.",
        "The {thing} will take effect in {month}.",
        "{group} can comment on the {thing} until the end of {month}.",
        "The council has published details of the {thing} on its website.",
        "{org} employs about {staff} people in {town}.",
    ],
}

# Short texts: greetings and exclamations so the classifier also sees very short inputs.
# Train and test use different wording.
SHORT_TEXTS = {
    "train": {
        "neg": ["I hate you", "I hate this!", "This is awful.", "What a terrible day.", "You ruined everything!",
                "Worst service ever.", "I am so angry right now.", "That was a disgusting meal.", "This is a disaster!",
                "I can't stand this.", "Leave me alone, I am furious.", "What a horrible thing to say.",
                "I feel miserable.", "This is the worst!", "Shame on you!", "That is pathetic.",
                "I'm so disappointed in you.", "Terrible, just terrible.", "How dare you!", "This makes me sick.",
                "Awful news.", "I regret coming here.", "Such a waste of time.", "You are a liar!", "I hate Mondays."],
        "neutral": ["hello", "Hello.", "Hi there.", "Good morning.", "Good evening.", "See you tomorrow.",
                    "The meeting is at three.", "It is Tuesday.", "Please call me back.", "I am at the station.",
                    "The bus leaves at noon.", "OK.", "Noted.", "What time is it?", "The shop opens at nine.",
                    "I will send the file later.", "Here is the report.", "It is raining outside.", "Let me check.",
                    "We are on the second floor.", "The train is on platform two.", "Dinner is at seven.",
                    "Hello, is anyone there?", "My name is Sam.", "Turn left at the corner."],
        "pos": ["I love you!", "I love this!", "Thank you so much!", "What a wonderful day!", "This is amazing!",
                "You are the best!", "Brilliant work, well done!", "I am so happy for you.", "That was delicious!",
                "Fantastic news!", "Congratulations!", "What a lovely surprise!", "I adore this place.",
                "Best day ever!", "You made my day.", "This is perfect.", "So proud of you!", "Great job, everyone!",
                "I'm thrilled!", "Absolutely beautiful.", "Love it!", "You're wonderful.", "What a fantastic result!",
                "I enjoyed every minute.", "Lovely to see you!"],
    },
    "test": {
        "neg": ["I really hate you.", "This is dreadful!", "What an awful mess.", "I am furious with you.",
                "You disgust me.", "Horrible weather today.", "That was a terrible film.", "I can't bear this any more.",
                "Worst day of my life.", "Stop it, you're ruining everything."],
        "neutral": ["hi", "Good afternoon.", "The office closes at five.", "I am on my way.", "See you on Monday.",
                    "The parcel arrived.", "It is cloudy today.", "Room 12 is upstairs.", "Call me when you land.",
                    "The report is attached."],
        "pos": ["I love you so much!", "You're amazing!", "Thanks a million!", "What a beautiful morning!",
                "This is wonderful news!", "Well done, that was brilliant!", "I'm delighted!", "Love this song!",
                "You are so kind.", "Such a happy day!"],
    },
}


def opinion_sentence(rng, E, tone):
    group = rng.choice(GROUPS)
    facts = dict(group=group, group_l=group[0].lower() + group[1:], town=E.town(), thing=rng.choice(THINGS),
                 org=E.company()["name"], venue=rng.choice(VENUES), day=rng.choice(WEEKDAYS),
                 month=rng.choice(MONTHS), staff=num(rnum(rng, 50, 2000, 10)))
    return Writer(rng, "neutral").r(rng.choice(OPINION[tone]), facts)


def shape(sentence):
    """A sentence with names and numbers blanked: sentences of one shape differ only in names/numbers."""
    return re.sub(r"\d[\d,.]*", "0", re.sub(r"\b[A-Z][A-Za-z'-]*", "N", sentence))


def cap_shapes(sentences, cap):
    """Keep at most `cap` sentences per shape (in the given order), so no sentence frame dominates."""
    seen, out = Counter(), []
    for s in sentences:
        k = shape(s)
        if seen[k] < cap:
            seen[k] += 1
            out.append(s)
    return out


def tone_pools(rng, E, arts, n_opinion):
    """Candidate sentences per tone and source, in a fixed order."""
    pools = {t: {"article": [], "summary": [], "opinion": []} for t in ("neg", "neutral", "pos")}
    for a in arts:
        for s in a["sents"]:
            pools[s.tone]["article"].append(str(s))
        pools["neutral"]["summary"].append(str(a["neutral_sum"]))
        if a["loaded_sum"]:
            pools[a["tone"]]["summary"].append(str(a["loaded_sum"]))
    for t in pools:
        for _ in range(n_opinion):
            pools[t]["opinion"].append(str(opinion_sentence(rng, E, t)))
    return pools


def make_tone(rng, pools, shorts, per_class, quotas, exclude, cap):
    """per_class examples per label: all short texts, then quota[source] from each pool, rest from articles.
    At most `cap` sentences of one shape (see shape()) are taken."""
    rows, used, shapes = [], set(exclude), Counter()
    for t in ("neg", "neutral", "pos"):
        chosen = []

        def take(cands, k):
            cands = list(dict.fromkeys(cands))    # de-duplicate, keep order
            rng.shuffle(cands)
            got = 0
            for c in cands:
                if got >= k or len(chosen) >= per_class:
                    break
                if c not in used and shapes[shape(c)] < cap:
                    used.add(c)
                    shapes[shape(c)] += 1
                    chosen.append(c)
                    got += 1

        take(shorts[t], len(shorts[t]))
        take(pools[t]["summary"], quotas["summary"])
        take(pools[t]["opinion"], quotas["opinion"])
        take(pools[t]["article"], per_class - len(chosen))
        take(pools[t]["summary"] + pools[t]["opinion"], per_class - len(chosen))
        if len(chosen) < per_class:
            raise RuntimeError("tone pool too small for %s: %d" % (t, len(chosen)))
        rows += [{"text": c, "label": TONE_LABEL[t]} for c in chosen]
    rng.shuffle(rows)
    return rows


# ---------------------------------------------------------------------------
# 4c. Acceptability corpus. Acceptable sentences come from the news generators
#     and an everyday-sentence generator; unacceptable ones are systematic
#     corruptions of other acceptable sentences. Each corruption only fires
#     where it reliably breaks the grammar (e.g. "was" is dropped only before
#     a/the/a number/an -ing word, because "the road was closed" -> "the road
#     closed" would still be grammatical).
# ---------------------------------------------------------------------------

SUBJECTS = [
    # (text, agreement class, is a proper noun/pronoun that keeps its capital)
    ("I", "1sg", True), ("We", "pl", False), ("My sister", "3sg", False), ("My brother", "3sg", False),
    ("Our neighbours", "pl", False), ("The children", "pl", False), ("My parents", "pl", False),
    ("Our teacher", "3sg", False), ("My colleagues", "pl", False), ("Grandma", "3sg", True),
    ("The twins", "pl", False), ("My friend {first}", "3sg", False), ("{first}", "3sg", True),
    ("Everyone at work", "3sg", False), ("My uncle", "3sg", False), ("Our new neighbour", "3sg", False),
]
VERB_FORMS = {  # agreement class -> forms
    "be_past": {"1sg": "was", "3sg": "was", "pl": "were"},
    "be_pres": {"1sg": "am", "3sg": "is", "pl": "are"},
    "have": {"1sg": "have", "3sg": "has", "pl": "have"},
    "do_not": {"1sg": "do not", "3sg": "does not", "pl": "do not"},
    "walk": {"1sg": "walk", "3sg": "walks", "pl": "walk"},
    "cycle": {"1sg": "cycle", "3sg": "cycles", "pl": "cycle"},
    "drive": {"1sg": "drive", "3sg": "drives", "pl": "drive"},
}

EVERYDAY = [
    "{S} {be_past} at the ((market~library~dentist~swimming pool~post office~garden centre)) ((yesterday~last Tuesday~on Saturday morning~all afternoon)).",
    "{S} {have} lived in {town} for {n} years.",
    "{S} usually {move} to ((work~school~the station~the shops)) on {weekday}s.",
    "{S} bought ((a loaf of bread~some apples~a new kettle~two tickets~a birthday card~a pair of boots)) at the ((bakery~market~hardware shop~station~corner shop)) on {street}.",
    "Could you ((pass me the salt~close the window~call me back later~water the plants while I am away~lend me your umbrella~turn the music down)), please?",
    "{S} {be_pres} going to visit ((an old friend~our cousins~my aunt~my grandparents)) in {town} next ((week~month~summer)).",
    "It rained all afternoon, so {s} stayed inside and ((read a book~baked some bread~watched a film~tidied the kitchen~wrote some letters)).",
    "The ((bakery~pharmacy~bookshop~hardware shop~post office)) on {street} opens at ((eight~nine~half past eight)) on {weekday}s.",
    "{S} forgot to bring an umbrella, and it started to rain just after ((noon~three~six)).",
    "If the weather is good on {weekday}, {s} will ((have a picnic~play football~go for a long walk~fly a kite)) in the park.",
    "{S} {have} never seen the river so high.",
    "There ((is a letter for you~is a bowl of apples~is a set of keys~are three letters for you~are two bowls of soup~are some keys)) on the kitchen table.",
    "The train to {town} was {n2} minutes late this morning.",
    "Please remember to turn off the lights when you leave the ((kitchen~office~classroom~hall)).",
    "{S} {do_not} like waiting for the bus in the rain.",
    "After dinner, {s} washed the dishes and ((read a book~watched the news~called a friend~went to bed early)).",
    "{S} walked the dog along the river before breakfast.",
    "The children played ((football~hide and seek~cards~tennis)) in the garden until it got dark.",
    "{S} {be_past} tired after the long journey from {town}.",
    "Would you like ((a cup of tea~some more soup~a lift to the station~a copy of the map)) before we leave?",
    "{S} {have} finished painting the ((kitchen~spare bedroom~hallway~garden fence)).",
    "My ((aunt~grandmother~father~neighbour)) makes the best ((apple pie~vegetable soup~lemon cake~fish stew)) I have ever tasted.",
    "We need to buy ((milk~eggs~bread)), ((rice~coffee~cheese)) and ((tomatoes~onions~butter)) for the weekend.",
    "{S} {be_past} born in {town} but {have} lived in {town2} since {year}.",
    "The library is closed on {weekday}s, so we will go ((tomorrow~next week~on Saturday)).",
    "{S} left the keys on the table by the door.",
]


def everyday_sentence(rng, E):
    subj, agr, proper = rng.choice(SUBJECTS)
    subj = subj.format(first=rng.choice(FIRST_NAMES))
    town, town2 = E.town_pair()
    street, = E.streets(1)
    facts = dict(S=subj, s=subj if proper else subj[0].lower() + subj[1:], town=town, town2=town2,
                 street=street, weekday=rng.choice(WEEKDAYS), n=word_num(rng.randint(2, 12)),
                 n2=rng.randint(5, 40), year=rng.randint(1995, 2022),
                 move=VERB_FORMS[rng.choice(["walk", "cycle", "drive"])][agr],
                 **{k: VERB_FORMS[k][agr] for k in ("be_past", "be_pres", "have", "do_not")})
    return Writer(rng, "neutral").r(rng.choice(EVERYDAY), facts)


DETERMINERS = {"the", "a", "an", "this", "these", "its", "their", "his", "her"}
PREPOSITIONS = {"to", "of", "in", "on", "at", "for", "from", "with", "by", "into", "between", "during"}
AUX = {"was", "were", "is", "are", "has", "have", "will", "would"}
FUNCTION_WORDS = DETERMINERS | PREPOSITIONS | AUX | {"and", "but", "so", "it", "we", "there"}
ADVERBS = {"also", "not", "now", "still", "already", "just", "only", "then", "again", "never", "often",
           "soon", "usually", "briefly", "finally", "frankly"}
MAIN_VERBS = {"said", "approved", "announced", "bought", "beat", "defeated", "won", "reached", "launched",
              "raised", "discovered", "spotted", "visited", "appointed", "elected", "received", "tackled",
              "walked", "washed", "left", "forgot", "finished", "drew", "recorded", "opened"}
SINGULAR_NOUNS = {"bridge", "plan", "road", "park", "library", "station", "line", "deal",
                  "study", "festival", "exhibition", "storm", "fire", "river",
                  "unit", "ward", "service", "site", "project", "result", "record", "figure", "work", "it",
                  "he", "she", "money", "programme", "course", "prize", "book", "train", "weather", "rise"}
# Collective nouns ("the staff were", "the staff was") accept either verb, so no agreement error after them.
COLLECTIVE = {"staff", "police", "team", "crew", "council", "club", "family", "government", "board", "committee",
              "public", "union", "company", "audience", "crowd", "group", "band", "school", "hospital"}
NOT_PLURAL = ("ss", "us", "is", "as", "os", "news", "series", "species", "'s")
TO_VERBS = {"plans", "plan", "wants", "want", "hope", "hopes", "expected", "due", "needed", "agreed", "decided",
            "going", "used", "able", "likely", "set", "continue", "help", "helped", "forgot", "started",
            "remember", "like"}
IRREGULAR_3SG = {"be": "is", "have": "has", "do": "does", "go": "goes"}


def _split(tok):
    m = re.match(r"^(.*?)([,.;:!?]*)$", tok)
    return m.group(1), m.group(2)


def _is_word(core):
    return re.match(r"^[A-Za-z][A-Za-z'-]*$", core) is not None


class Tokens:
    """A sentence as word cores plus trailing punctuation, so words can move while commas stay put."""

    def __init__(self, sentence):
        parts = [_split(t) for t in sentence.split(" ")]
        self.cores = [c for c, _ in parts]
        self.trails = [p for _, p in parts]
        # Sentence-initial words that are not function words are treated as names (keep capitals).
        self.first_proper = self.cores[0].lower() not in FUNCTION_WORDS | {"i", "my", "our", "please", "could", "would", "after", "if", "people", "flu"}

    def low(self, i):
        return self.cores[i].lower()

    def text(self, cores=None, trails=None):
        cores = list(cores if cores is not None else self.cores)
        trails = trails if trails is not None else self.trails
        return " ".join(c + p for c, p in zip(cores, trails) if c or p)


def _decap(word, proper):
    return word if proper or word == "I" else word[:1].lower() + word[1:]


def _recap(cores, first_proper_orig, moved_first_index):
    """After moving words: lower-case the old first word (unless a name), capitalise the new first word."""
    cores = list(cores)
    if moved_first_index is not None:
        cores[moved_first_index] = _decap(cores[moved_first_index], first_proper_orig)
    cores[0] = cores[0][:1].upper() + cores[0][1:]
    return cores


def corrupt_swap(rng, s):
    t = Tokens(s)
    cands = [i for i in range(len(t.cores) - 1)
             if not t.trails[i] and _is_word(t.cores[i]) and _is_word(t.cores[i + 1])
             and t.low(i) != t.low(i + 1)
             and (t.low(i) in FUNCTION_WORDS or t.low(i + 1) in FUNCTION_WORDS)
             and not {t.low(i), t.low(i + 1)} & (ADVERBS | {"said", "there"})]
    if not cands:
        return None
    i = rng.choice(cands)
    cores = list(t.cores)
    cores[i], cores[i + 1] = cores[i + 1], cores[i]
    if i == 0:
        cores = _recap(cores, t.first_proper, 1)
    return t.text(cores)


DOUBLE_OK = {"the", "a", "an", "to", "of", "in", "on", "for", "at", "by", "from", "with", "will", "was",
             "were", "has", "have", "is", "are", "and"}


def corrupt_double(rng, s):
    t = Tokens(s)
    cands = [i for i in range(len(t.cores)) if t.low(i) in DOUBLE_OK and not t.trails[i]]
    if not cands:
        return None
    i = rng.choice(cands)
    cores = list(t.cores)
    cores[i] = cores[i] + " " + cores[i].lower()
    return t.text(cores)


def corrupt_drop(rng, s):
    t = Tokens(s)
    n = len(t.cores)
    cands = []
    for i in range(n - 1):
        w, prev, nxt = t.low(i), (t.low(i - 1) if i else ""), t.low(i + 1)
        if t.trails[i] or (i == 0 and w not in AUX):
            continue
        if w == "to" and prev not in ("up", "next"):
            cands.append(i)
        elif w == "of" and prev != "out":
            cands.append(i)
        elif w in ("a", "an") and nxt not in ("few", "little"):
            cands.append(i)
        elif w in ("will", "would") and nxt == "be":
            cands.append(i)
        elif w in ("has", "have") and nxt == "been":
            cands.append(i)
        elif w in ("is", "are", "was", "were") and prev != "there" and (
                nxt in ("a", "an", "the", "not", "due", "about", "likely", "going") or nxt[:1].isdigit()
                or (nxt.endswith("ing") and nxt != "during")):
            cands.append(i)
        elif w in MAIN_VERBS and prev not in DETERMINERS and i > 0:
            cands.append(i)
    if not cands:
        return None
    i = rng.choice(cands)
    cores, trails = list(t.cores), list(t.trails)
    del cores[i], trails[i]
    return t.text(cores, trails)


def _third_person(verb):
    if verb in IRREGULAR_3SG:
        return IRREGULAR_3SG[verb]
    if verb.endswith(("ch", "sh", "x", "o", "s", "z")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def corrupt_agreement(rng, s):
    t = Tokens(s)
    n = len(t.cores)
    options = []
    for i in range(1, n):
        w, prev = t.low(i), t.low(i - 1)
        if prev == "there" or prev in COLLECTIVE:
            continue
        if w == "were":
            options.append((i, "was"))
        elif w == "are":
            options.append((i, "is"))
        elif w == "have" and prev not in ("would", "could", "should", "might", "must", "to", "will"):
            options.append((i, "has"))
        elif w == "was" and prev in SINGULAR_NOUNS:
            options.append((i, "were"))
        elif w == "is" and prev in SINGULAR_NOUNS:
            options.append((i, "are"))
        elif w == "has" and prev in SINGULAR_NOUNS:
            options.append((i, "have"))
        elif i + 1 < n and not t.trails[i] and w in ("will", "would", "can", "could", "should", "must") or (
                w == "to" and i + 1 < n and prev in TO_VERBS and not t.trails[i]):
            nxt = t.cores[i + 1] if i + 1 < n else ""
            if nxt and nxt.islower() and _is_word(nxt) and nxt not in FUNCTION_WORDS | ADVERBS | {"be", "not"} | DETERMINERS:
                options.append((i + 1, _third_person(nxt)))
            elif nxt == "be":
                options.append((i + 1, "is"))
    if not options:
        return None
    i, new = rng.choice(options)
    cores = list(t.cores)
    cores[i] = new
    return t.text(cores)


def corrupt_determiner(rng, s):
    t = Tokens(s)
    n = len(t.cores)
    options = []
    for i in range(n - 1):
        w, nxt = t.low(i), t.cores[i + 1]
        if t.trails[i] or not nxt:
            continue
        if w in ("a", "an"):
            options.append((i, "an" if w == "a" else "a"))
        elif w == "the" and nxt.islower() and _is_word(nxt) and nxt.endswith("s") and len(nxt) > 3 \
                and not nxt.endswith(NOT_PLURAL):
            options.append((i, "an" if nxt[0] in "aeiou" else "a"))
        elif w == "this":
            options.append((i, "these"))
        elif w == "these":
            options.append((i, "this"))
    if not options:
        return None
    i, new = rng.choice(options)
    cores = list(t.cores)
    cores[i] = new[:1].upper() + new[1:] if i == 0 else new
    return t.text(cores)


CUT_AFTER = DETERMINERS | PREPOSITIONS | {"and"}


def corrupt_scramble(rng, s):
    """Rotate the sentence at a cut that leaves a determiner/preposition stranded at the end."""
    t = Tokens(s)
    n = len(t.cores)
    if n < 6:
        return None
    cands = [k for k in range(2, n - 2) if t.low(k - 1) in CUT_AFTER and not t.trails[k - 1]]
    if not cands:
        return None
    k = rng.choice(cands)
    final = t.trails[-1]
    trails = list(t.trails)
    trails[-1] = ""
    cores = t.cores[k:] + t.cores[:k]
    trails = trails[k:] + trails[:k]
    trails[-1] = final
    cores = _recap(cores, t.first_proper, n - k)
    return t.text(cores, trails)


TRUNC_AFTER = DETERMINERS | {"of", "from", "with", "into", "between", "during"}


def corrupt_truncate(rng, s):
    t = Tokens(s)
    n = len(t.cores)
    cands = [k for k in range(3, n - 2) if t.low(k) in TRUNC_AFTER and not t.trails[k]]
    if not cands:
        return None
    k = rng.choice(cands)
    final = t.trails[-1] if t.trails[-1] in (".", "?", "!") else "."
    return t.text(t.cores[:k + 1], t.trails[:k] + [final])


CORRUPTIONS = [
    ("word_swap", corrupt_swap), ("doubled_word", corrupt_double), ("dropped_word", corrupt_drop),
    ("agreement", corrupt_agreement), ("determiner", corrupt_determiner), ("scrambled", corrupt_scramble),
    ("truncated", corrupt_truncate),
]


def acceptability_pool(arts, everyday):
    """Candidate acceptable sentences: news sentences without quotations, summaries, everyday sentences."""
    news = []
    for a in arts:
        news += [str(s) for s in a["sents"] if '"' not in s]
        news += [str(a["neutral_sum"])] + ([str(a["loaded_sum"])] if a["loaded_sum"] else [])
    return list(dict.fromkeys(news)), list(dict.fromkeys(str(s) for s in everyday))


def make_acceptability(rng, news, everyday, per_class, exclude, cap, share_everyday=0.35):
    """per_class acceptable + per_class corrupted rows; sources never reused and never in `exclude`."""
    news = [s for s in news if s not in exclude]
    everyday = [s for s in everyday if s not in exclude]
    rng.shuffle(news)
    rng.shuffle(everyday)
    news, everyday = cap_shapes(news, cap), cap_shapes(everyday, cap)
    n_every = int(round(2 * per_class * share_everyday))
    need_news = 2 * per_class - n_every
    # Extra sources in reserve for sentences no corruption applies to.
    sources = everyday[:n_every] + news[:need_news]
    reserve = everyday[n_every:] + news[need_news:]
    rng.shuffle(sources)
    rng.shuffle(reserve)
    acceptable = sources[:per_class]
    to_corrupt = sources[per_class:] + reserve
    taken = set(acceptable) | set(exclude) | set(news) | set(everyday)
    counts = Counter({name: 0 for name, _ in CORRUPTIONS})
    bad = []
    for src in to_corrupt:
        if len(bad) >= per_class:
            break
        order = sorted(CORRUPTIONS, key=lambda c: (counts[c[0]], rng.random()))
        for name, fn in order:
            out = fn(rng, src)
            if out and out != src and out not in taken:
                taken.add(out)
                counts[name] += 1
                bad.append({"text": out, "label": 0, "corruption": name, "source": src})
                break
    if len(bad) < per_class:
        raise RuntimeError("not enough corruptible sentences")
    rows = [{"text": s, "label": 1, "corruption": "none"} for s in acceptable]
    rows += [{"text": b["text"], "label": 0, "corruption": b["corruption"]} for b in bad]
    rng.shuffle(rows)
    used_sources = acceptable + [b["source"] for b in bad]
    return rows, used_sources


# ---------------------------------------------------------------------------
# 5. Build, self-check, write.
# ---------------------------------------------------------------------------

def entity_pools(rng):
    return (Entities(rng, TOWNS, SURNAMES, COMPANY_STEMS, REGIONS),
            Entities(rng, TOWNS_HELDOUT, SURNAMES_HELDOUT, COMPANY_STEMS_HELDOUT, REGIONS_HELDOUT))


def build():
    """Return {relative path: list of JSON-able rows} for every output file."""
    # News: one generator for all three splits; test draws from the held-out names.
    rng = random.Random(SEED)
    e_train, e_test = entity_pools(rng)
    seen = set()
    arts = {"train": make_articles(rng, e_train, N_NEWS["train"], seen=seen),
            "validation": make_articles(rng, e_train, N_NEWS["validation"], seen=seen),
            "test": make_articles(rng, e_test, N_NEWS["test"], n_short=N_TEST_SHORT, seen=seen)}
    out = {"news/%s.jsonl" % s: news_records(rng, arts[s], s) for s in ("train", "validation", "test")}

    # Extra articles that only feed the sentence corpora (more loaded sentences than the news set has).
    prng = random.Random(SEED + 1)
    p_train, p_test = entity_pools(prng)
    extra_train = make_articles(prng, p_train, 2500, p_loaded=0.8)
    extra_test = make_articles(prng, p_test, 400, p_loaded=0.8)
    train_side = arts["train"] + arts["validation"] + extra_train
    test_side = arts["test"] + extra_test

    # Tone.
    trng = random.Random(SEED + 2)
    t_train, t_test = entity_pools(trng)
    tone_train = make_tone(trng, tone_pools(trng, t_train, train_side, 600), SHORT_TEXTS["train"],
                           N_TONE["train"], {"summary": 350, "opinion": 300}, exclude=set(), cap=3)
    tone_test = make_tone(trng, tone_pools(trng, t_test, test_side, 150), SHORT_TEXTS["test"],
                          N_TONE["test"], {"summary": 45, "opinion": 40},
                          exclude={r["text"] for r in tone_train}, cap=2)
    out["tone/train.jsonl"], out["tone/test.jsonl"] = tone_train, tone_test

    # Acceptability: test sources exclude every sentence the train side could have used.
    arng = random.Random(SEED + 3)
    a_train, a_test = entity_pools(arng)
    news_tr, every_tr = acceptability_pool(train_side, [everyday_sentence(arng, a_train) for _ in range(8000)])
    news_te, every_te = acceptability_pool(test_side, [everyday_sentence(arng, a_test) for _ in range(3000)])
    acc_train, _ = make_acceptability(arng, news_tr, every_tr, N_ACCEPT["train"], exclude=set(), cap=3)
    acc_test, _ = make_acceptability(arng, news_te, every_te, N_ACCEPT["test"],
                                     exclude=set(news_tr) | set(every_tr) | {r["text"] for r in acc_train}, cap=2)
    out["acceptability/train.jsonl"], out["acceptability/test.jsonl"] = acc_train, acc_test
    return out


def serialise(rows):
    return "".join(json.dumps(r, ensure_ascii=True) + "\n" for r in rows).encode("ascii")


def has_name(text, names):
    return any(re.search(r"\b%s\b" % re.escape(n), text) for n in names)


def self_check(out, blobs):
    news = {s: out["news/%s.jsonl" % s] for s in ("train", "validation", "test")}
    all_news = [r for rows in news.values() for r in rows]
    for s, rows in news.items():
        assert len(rows) == N_NEWS[s], (s, len(rows))
    assert len({r["id"] for r in all_news}) == len(all_news), "duplicate news ids"
    assert len({r["text"] for r in all_news}) == len(all_news), "an article appears twice"
    for r in all_news:
        assert ARTICLE_WORDS[0] <= n_words(r["text"]) <= ARTICLE_WORDS[1], r["id"]
        assert SUMMARY_WORDS[0] <= n_words(r["summary"]) <= SUMMARY_WORDS[1], r["id"]
        assert r["summary_tone"] in ("neutral", r["article_tone"]), r["id"]
        assert r["text"].isascii() and r["summary"].isascii(), r["id"]
    short = [r for r in news["test"] if SHORT_CHARS[0] <= len(r["text"]) <= SHORT_CHARS[1]]
    assert len(short) >= 60, len(short)
    # Held-out names: test uses only held-out towns, train/validation never mention them.
    for r in news["test"]:
        assert not has_name(r["text"], TOWNS), r["id"]
    for r in news["train"] + news["validation"]:
        assert not has_name(r["text"], TOWNS_HELDOUT + SURNAMES_HELDOUT), r["id"]
    assert len({r["template"] for r in all_news}) >= 25
    for s in ("train", "test"):
        loaded = Counter(r["summary_tone"] != "neutral" for r in news[s])
        assert 0.15 < loaded[True] / len(news[s]) < 0.45, (s, loaded)

    tone = {s: out["tone/%s.jsonl" % s] for s in ("train", "test")}
    for s, rows in tone.items():
        c = Counter(r["label"] for r in rows)
        assert c == Counter({0: N_TONE[s], 1: N_TONE[s], 2: N_TONE[s]}), (s, c)
        assert len({r["text"] for r in rows}) == len(rows), "duplicate tone text in %s" % s
    assert not {r["text"] for r in tone["train"]} & {r["text"] for r in tone["test"]}, "tone test overlaps train"

    acc = {s: out["acceptability/%s.jsonl" % s] for s in ("train", "test")}
    for s, rows in acc.items():
        c = Counter(r["label"] for r in rows)
        assert c == Counter({0: N_ACCEPT[s], 1: N_ACCEPT[s]}), (s, c)
        assert len({r["text"] for r in rows}) == len(rows), "duplicate acceptability text in %s" % s
        assert all((r["label"] == 1) == (r["corruption"] == "none") for r in rows)
        kinds = Counter(r["corruption"] for r in rows if r["label"] == 0)
        assert len(kinds) == len(CORRUPTIONS) and min(kinds.values()) > N_ACCEPT[s] / len(CORRUPTIONS) * 0.5, kinds
    assert not {r["text"] for r in acc["train"]} & {r["text"] for r in acc["test"]}, "acceptability test overlaps train"

    for rows in out.values():
        assert all(r["text"].isascii() and r["text"].strip() == r["text"] and r["text"] for r in rows)
    total = sum(len(b) for b in blobs.values())
    assert total < 4 * 1024 * 1024, total
    return total


def print_table(out, blobs, total):
    print("%-30s %6s %9s  %s" % ("file", "rows", "bytes", "breakdown"))
    for path, rows in out.items():
        if path.startswith("news/"):
            c = Counter("%s>%s" % (r["article_tone"][:3], r["summary_tone"][:3]) for r in rows)
            short = sum(SHORT_CHARS[0] <= len(r["text"]) <= SHORT_CHARS[1] for r in rows)
            words = [n_words(r["text"]) for r in rows]
            info = "article>summary tone %s; %d-%d words; %d of 200-450 chars" % (
                dict(sorted(c.items())), min(words), max(words), short)
        elif path.startswith("tone/"):
            info = "labels %s" % dict(sorted(Counter(r["label"] for r in rows).items()))
        else:
            info = "labels %s; %s" % (dict(sorted(Counter(r["label"] for r in rows).items())),
                                      dict(sorted(Counter(r["corruption"] for r in rows if r["label"] == 0).items())))
        print("%-30s %6d %9d  %s" % (path, len(rows), len(blobs[path]), info))
    print("%-30s %6s %9d  (%d templates, %d topics)" % ("total", "", total, len(TEMPLATES),
                                                        len({t.topic for t in TEMPLATES})))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    args = ap.parse_args()
    out = build()
    blobs = {p: serialise(rows) for p, rows in out.items()}
    total = self_check(out, blobs)
    if args.check:
        stale = [p for p, b in blobs.items()
                 if not os.path.exists(os.path.join(DATA, p)) or open(os.path.join(DATA, p), "rb").read() != b]
        if stale:
            print("out of date: " + ", ".join(stale))
            return 1
        print("data/ matches the generator")
    else:
        for p, b in blobs.items():
            path = os.path.join(DATA, p)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(b)
    print_table(out, blobs, total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
