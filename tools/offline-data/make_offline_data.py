#!/usr/bin/env python3
"""Generate the workshop's offline corpora (news summarisation, tone, acceptability).

Everything is synthetic and written for this project: places, people, organisations, events and
sentences are invented and assembled from templates, so the kit runs with no network and no
third-party data.

    python3 tools/offline-data/make_offline_data.py            # writes data/news, data/tone, data/acceptability
    python3 tools/offline-data/make_offline_data.py --check    # regenerate in memory, compare with the files on disk

The output is byte-identical on every run: one fixed seed, one random.Random per corpus, and no
iteration over sets or other unordered containers.

Layout. This script holds only logic; all wording lives in JSON files under data/templates/:

  vocabulary.json     invented names and word tables (towns, people, companies, streets, months ...);
                      the *_heldout lists are used only for the test split
  stories.json        the news story types: for each, a "facts" spec (random facts, drawn in the
                      order written), lead / body / summary / summary_loaded sentence templates, the
                      loaded registers that suit it ("tones") and its loaded adjectives
  tone.json           opinion-sentence templates and very short texts for the tone corpus
  acceptability.json  everyday-sentence templates and the word classes the corruption rules use

Sections of this file:
  1. settings, data loading, text helpers;
  2. the sentence template language (Writer) and the fact engine (Facts) that interpret stories.json;
  3. corpus builders: news, tone, acceptability (with the corruption functions);
  4. self-checks, the summary table and main().

Sentence templates (all files):
    ((a~b~c))       one variant at random (same meaning, different words)
    [[n|neg|pos]]   chosen by the register: neutral, loaded negative, loaded positive; each option may
                    hold a~b variants. A sentence that used a loaded option is labelled with that tone.
    {name}          a fact (str.format); {ladj}/{Ladj} is the story's loaded adjective.

Fact specs (stories.json "facts") are ordered objects "name": spec, evaluated top to bottom by the
Facts class, so the random draws happen in the order they are written. Operations: pick, int,
uniform, millions, thousands, sample, distinct, draw (town, towns, street, streets, region, stem,
person, people, company), surname, calc (arithmetic, never random), trend, if, fmt; "as" formats the
result (num, words, ordinal, cents, duration). data/README.md documents them and shows how to add a
story type.
"""

import argparse
import ast
import json
import operator
import os
import random
import re
import string
import sys
from collections import Counter

# ---------------------------------------------------------------------------
# 1. Settings, data loading, text helpers.
# ---------------------------------------------------------------------------

SEED = 20240611
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "data")
TEMPLATES_DIR = os.path.join(DATA, "templates")

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

TONES = ("neutral", "neg", "pos")
TONE_LABEL = {"neg": 0, "neutral": 1, "pos": 2}
TONE_NAME = {"neg": "negative", "neutral": "neutral", "pos": "positive"}


def load(name):
    with open(os.path.join(TEMPLATES_DIR, name), encoding="utf-8") as fh:
        return json.load(fh)


VOCAB = load("vocabulary.json")
STORIES = load("stories.json")
TONE_DATA = load("tone.json")
ACCEPT_DATA = load("acceptability.json")
SECTORS = VOCAB["sectors"]


class Entities:
    """Draws names from one split's pools (train/validation or held-out test)."""

    def __init__(self, rng, heldout):
        sfx = "_heldout" if heldout else ""
        self.rng, self.towns, self.surnames = rng, VOCAB["towns" + sfx], VOCAB["surnames" + sfx]
        self.stems, self.regions = VOCAB["company_stems" + sfx], VOCAB["regions" + sfx]

    def town(self):
        return self.rng.choice(self.towns)

    def town_pair(self):
        return self.rng.sample(self.towns, 2)

    def person(self):
        return "%s %s" % (self.rng.choice(VOCAB["first_names"]), self.rng.choice(self.surnames))

    def people(self, n):
        """n people with different surnames, so later mentions by surname stay unambiguous."""
        surnames = self.rng.sample(self.surnames, n)
        return ["%s %s" % (self.rng.choice(VOCAB["first_names"]), s) for s in surnames]

    def company(self, sectors=None):
        sector = self.rng.choice(sectors or list(SECTORS))
        facility, product = SECTORS[sector]
        return ["%s %s" % (self.rng.choice(self.stems), sector), facility, product]

    def streets(self, n):
        return self.rng.sample(VOCAB["streets"], n)


def surname(full_name):
    return full_name.split(" ", 1)[1]


def fmt_millions(v):
    """News style: one decimal below 10 ("$4.2 million"), whole numbers above ("$18 million")."""
    if v < 10 and round(v, 1) != int(round(v, 1)):
        return "$%.1f million" % v
    return "$%d million" % round(v)


def money_k(rng, lo, hi, step=10):
    """An amount in thousands, rounded to `step` thousand ("$850,000")."""
    v = rng.randrange(lo, hi + 1, step)
    if v >= 1000:   # "$1.7 million", not "$1,710,000"
        return fmt_millions(v / 1000.0)
    return "${:,}".format(v * 1000)


def num(n):
    return "{:,}".format(n)


def word_num(n):
    return VOCAB["num_words"][n] if 0 <= n < len(VOCAB["num_words"]) else num(n)


def duration(sec):
    m = "%d minute%s" % (sec // 60, "" if sec // 60 == 1 else "s")
    return m + (" %d seconds" % (sec % 60) if sec % 60 else "")


FORMATS = {"num": num, "words": word_num, "ordinal": lambda n: VOCAB["ordinals"][n - 1],
           "cents": lambda n: "$%d.%02d" % divmod(n, 100), "duration": duration}


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
# 2. Sentence templates and the fact engine.
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


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge}
_CALLS = {"min": min, "max": max, "int": int, "round": round}


def calc(expr, facts):
    """Evaluate a small arithmetic expression (numbers, facts, + - * / // %, comparisons,
    `a if c else b`, min/max/int/round). It never draws random numbers."""
    def ev(n):
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, ast.Name):
            return facts[n.id]
        if isinstance(n, ast.BinOp) and type(n.op) in _BINOPS:
            return _BINOPS[type(n.op)](ev(n.left), ev(n.right))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -ev(n.operand)
        if isinstance(n, ast.Compare) and len(n.ops) == 1 and type(n.ops[0]) in _CMPOPS:
            return _CMPOPS[type(n.ops[0])](ev(n.left), ev(n.comparators[0]))
        if isinstance(n, ast.IfExp):
            return ev(n.body) if ev(n.test) else ev(n.orelse)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in _CALLS:
            return _CALLS[n.func.id](*[ev(a) for a in n.args])
        raise ValueError("unsupported in calc %r: %s" % (expr, ast.dump(n)))
    return ev(ast.parse(expr, mode="eval").body)


class Facts:
    """Evaluates one story's fact spec; random draws happen exactly in the order they are written."""

    def __init__(self, rng, E, tone):
        self.rng, self.E, self.tone, self.f = rng, E, tone, {}

    def run(self, spec):
        for names, expr in spec.items():
            keys, v = names.split(), self.value(expr)
            if len(keys) == 1:
                self.f[keys[0]] = v
            else:
                if len(v) != len(keys):
                    raise ValueError("cannot unpack %d values into %r" % (len(v), names))
                self.f.update(zip(keys, v))
        return self.f

    def number(self, x):
        return calc(x, self.f) if isinstance(x, str) else x

    def value(self, x):
        if x is None or isinstance(x, (int, float)):
            return x
        if isinstance(x, str):
            return x.format(**self.f)
        if isinstance(x, list):
            return [self.value(v) for v in x]
        ops = [k for k in x if hasattr(self, "op_" + k)]
        if len(ops) != 1:
            raise ValueError("a fact spec needs exactly one operation: %r" % (x,))
        v = getattr(self, "op_" + ops[0])(x[ops[0]], x)
        return FORMATS[x["as"]](v) if "as" in x else v

    def op_pick(self, arg, x):
        items = VOCAB[arg] if isinstance(arg, str) else self.value(arg)
        if x.get("match_tone") and self.tone != "neutral":
            items = [row for row in items if row[-1] == self.tone]
        return self.rng.choice(items)

    def op_int(self, arg, x):
        lo, hi, step = (list(arg) + [1])[:3]
        return self.rng.randrange(self.number(lo), self.number(hi) + 1, step)

    def op_uniform(self, arg, x):
        return self.rng.uniform(*arg)

    def op_millions(self, arg, x):
        return fmt_millions(self.rng.uniform(*arg))

    def op_thousands(self, arg, x):
        return money_k(self.rng, *arg)

    def op_sample(self, arg, x):
        return self.rng.sample(VOCAB[arg], x["k"])

    def op_distinct(self, arg, x):
        return self.rng.sample(range(arg[0], arg[1] + 1), x["k"])

    def op_draw(self, arg, x):
        E, n = self.E, x.get("n")
        if arg == "company":
            c = E.company(x.get("sectors"))
            while "unlike" in x and c[0].split()[0] == self.f[x["unlike"]].split()[0]:
                c = E.company(x.get("sectors"))
            return c
        draws = {"town": E.town, "region": lambda: self.rng.choice(E.regions), "person": E.person,
                 "stem": lambda: self.rng.choice(E.stems), "street": lambda: E.streets(1)[0],
                 "towns": lambda: self.rng.sample(E.towns, n), "streets": lambda: E.streets(n),
                 "people": lambda: E.people(n)}
        return draws[arg]()

    def op_surname(self, arg, x):
        return surname(self.f[arg])

    def op_calc(self, arg, x):
        return calc(arg, self.f)

    def op_trend(self, arg, x):
        return self.tone == arg or (self.tone == "neutral" and self.rng.random() < 0.5)

    def op_if(self, arg, x):
        return self.value(x["then"] if calc(arg, self.f) else x["else"])

    def op_fmt(self, arg, x):
        return arg.format(*[self.value(a) for a in x.get("args", [])], **self.f)


class Story:
    """One story type of stories.json. `tones` lists which loaded registers suit the story (a fire
    can be told "heartbreaking", hardly "brilliant"). Every `lead` sentence carries all the facts
    the summaries repeat, so a reference summary never says more than the article."""

    def __init__(self, d, default_ladj):
        self.name, self.topic, self.pols, self.spec = d["name"], d["topic"], tuple(d["tones"]), d["facts"]
        self.lead, self.summary, self.summary_loaded = d["lead"], d["summary"], d["summary_loaded"]
        self.body = [slot if isinstance(slot, list) else [slot] for slot in d["body"]]
        self.ladj = dict(default_ladj)
        self.ladj.update(d.get("loaded_adjectives", {}))

    def facts(self, rng, E, tone):
        return Facts(rng, E, tone).run(self.spec)


TEMPLATES = [Story(d, STORIES["default_loaded_adjectives"]) for d in STORIES["stories"]]


# ---------------------------------------------------------------------------
# 3a. News corpus.
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
# 3b. Tone corpus: article sentences (labelled by the register option that
#     produced them), summary-style sentences, short opinion sentences with
#     milder wording, and very short greetings/exclamations.
# ---------------------------------------------------------------------------

def opinion_sentence(rng, E, tone):
    group = rng.choice(TONE_DATA["groups"])
    facts = dict(group=group, group_l=group[0].lower() + group[1:], town=E.town(),
                 thing=rng.choice(TONE_DATA["things"]), org=E.company()[0], venue=rng.choice(TONE_DATA["venues"]),
                 day=rng.choice(VOCAB["weekdays"]), month=rng.choice(VOCAB["months"]),
                 staff=num(rng.randrange(50, 2001, 10)))
    return Writer(rng, "neutral").r(rng.choice(TONE_DATA["opinion"][tone]), facts)


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
# 3c. Acceptability corpus. Acceptable sentences come from the news generators
#     and an everyday-sentence generator; unacceptable ones are systematic
#     corruptions of other acceptable sentences. Each corruption only fires
#     where it reliably breaks the grammar (e.g. "was" is dropped only before
#     a/the/a number/an -ing word, because "the road was closed" -> "the road
#     closed" would still be grammatical).
# ---------------------------------------------------------------------------

def everyday_sentence(rng, E):
    subj, agr, proper = rng.choice(ACCEPT_DATA["subjects"])
    subj = subj.format(first=rng.choice(VOCAB["first_names"]))
    town, town2 = E.town_pair()
    street, = E.streets(1)
    forms = ACCEPT_DATA["verb_forms"]
    facts = dict(S=subj, s=subj if proper else subj[0].lower() + subj[1:], town=town, town2=town2,
                 street=street, weekday=rng.choice(VOCAB["weekdays"]), n=word_num(rng.randint(2, 12)),
                 n2=rng.randint(5, 40), year=rng.randint(1995, 2022),
                 move=forms[rng.choice(ACCEPT_DATA["travel_verbs"])][agr],
                 **{k: forms[k][agr] for k in ("be_past", "be_pres", "have", "do_not")})
    return Writer(rng, "neutral").r(rng.choice(ACCEPT_DATA["everyday"]), facts)


_W = {k: set(v) for k, v in ACCEPT_DATA["words"].items()}
DETERMINERS, PREPOSITIONS, AUX = _W["determiners"], _W["prepositions"], _W["auxiliaries"]
FUNCTION_WORDS = DETERMINERS | PREPOSITIONS | AUX | _W["other_function_words"]
ADVERBS, MAIN_VERBS, SINGULAR_NOUNS = _W["adverbs"], _W["main_verbs"], _W["singular_nouns"]
# Collective nouns ("the staff were", "the staff was") accept either verb, so no agreement error after them.
COLLECTIVE, TO_VERBS, DOUBLE_OK = _W["collective_nouns"], _W["to_verbs"], _W["doubled_ok"]
NOT_NAMES = FUNCTION_WORDS | _W["not_names_at_start"]
CUT_AFTER = DETERMINERS | PREPOSITIONS | _W["scramble_cut_after"]
TRUNC_AFTER = DETERMINERS | _W["truncate_after"]
NOT_PLURAL = tuple(ACCEPT_DATA["not_plural_endings"])
IRREGULAR_3SG = ACCEPT_DATA["irregular_3sg"]


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
        self.first_proper = self.cores[0].lower() not in NOT_NAMES

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


def corrupt_truncate(rng, s):
    t = Tokens(s)
    n = len(t.cores)
    cands = [k for k in range(3, n - 2) if t.low(k) in TRUNC_AFTER and not t.trails[k]]
    if not cands:
        return None
    k = rng.choice(cands)
    final = t.trails[-1] if t.trails[-1] in (".", "?", "!") else "."
    return t.text(t.cores[:k + 1], t.trails[:k] + [final])


# The mistakes a small summarizer makes when it samples at temperature 1 (read from the offline policy's own samples,
# data/policy-samples): it drifts from one story into another mid-phrase, repeats or skips a stretch, runs out of tokens
# mid-word, glues two word pieces together, or loses the word order. Each takes a donor sentence where it needs one.

def _words(s):
    return s.split(" ")


def corrupt_splice(rng, s, donor):
    """The start of one sentence joined to the end of another, mid-phrase."""
    a, b = _words(s), _words(donor)
    if len(a) < 6 or len(b) < 6 or s == donor:
        return None
    i, j = rng.randint(2, len(a) - 3), rng.randint(2, len(b) - 2)
    if a[i - 1].lower() == b[j].lower():
        return None
    return " ".join(a[:i] + b[j:])


def corrupt_repeat_span(rng, s, donor):
    """A stretch of two to five words said twice, sometimes with the second copy cut short."""
    a = _words(s)
    if len(a) < 6:
        return None
    k = rng.randint(2, min(5, len(a) - 3))
    i = rng.randint(1, len(a) - k - 1)
    again = a[i:i + k] if rng.random() < 0.6 else a[i - 1:i + k - 1]
    return " ".join(a[:i + k] + again + a[i + k:])


def corrupt_drop_span(rng, s, donor):
    """Two to five words from the middle left out."""
    a = _words(s)
    if len(a) < 8:
        return None
    k = rng.randint(2, min(5, len(a) - 5))
    i = rng.randint(2, len(a) - k - 2)
    return " ".join(a[:i] + a[i + k:])


def corrupt_cut_off(rng, s, donor):
    """Stopped mid-phrase, as when the token budget runs out: no full stop, sometimes inside a word."""
    a = _words(s)
    if len(a) < 6:
        return None
    k = rng.randint(3, len(a) - 2)
    words = a[:k]
    last = words[-1].rstrip(",.;:")
    if rng.random() < 0.5 and len(last) >= 5:
        words[-1] = last[:rng.randint(2, len(last) - 2)]
    else:
        words[-1] = last
    return " ".join(words)


def corrupt_broken_word(rng, s, donor):
    """A word whose end is replaced by the end of another word ("horrendous" + "Brackenford" -> "horrendckenford")."""
    a, b = _words(s), [w for w in _words(donor) if _is_word(w) and len(w) >= 5]
    cands = [i for i, w in enumerate(a) if _is_word(w) and len(w) >= 5]
    if not cands or not b:
        return None
    i, d = rng.choice(cands), rng.choice(b)
    w = a[i]
    glued = w[:rng.randint(2, len(w) - 2)] + d[rng.randint(2, len(d) - 2):].lower()
    if glued.lower() == w.lower():
        return None
    return " ".join(a[:i] + [glued] + a[i + 1:])


def corrupt_salad(rng, s, donor):
    """Four to seven neighbouring words in random order."""
    a = _words(s)
    if len(a) < 7:
        return None
    k = rng.randint(4, min(7, len(a) - 2))
    i = rng.randint(1, len(a) - k - 1)
    window = a[i:i + k]
    shuffled = list(window)
    rng.shuffle(shuffled)
    if shuffled == window:
        return None
    return " ".join(a[:i] + shuffled + a[i + k:])


def _single(fn):
    return lambda rng, s, donor: fn(rng, s)


# (name, function(rng, sentence, donor), weight): a weight-2 kind makes twice the share of the negatives. The policy's
# kinds of mistake weigh 2, the subtle textbook errors 1, so about 63% of the negatives look like the policy's samples.
CORRUPTIONS = [
    ("word_swap", _single(corrupt_swap), 1), ("doubled_word", _single(corrupt_double), 1),
    ("dropped_word", _single(corrupt_drop), 1), ("agreement", _single(corrupt_agreement), 1),
    ("determiner", _single(corrupt_determiner), 1), ("scrambled", _single(corrupt_scramble), 1),
    ("truncated", _single(corrupt_truncate), 1),
    ("spliced", corrupt_splice, 2), ("repeated_span", corrupt_repeat_span, 2), ("dropped_span", corrupt_drop_span, 2),
    ("cut_off", corrupt_cut_off, 2), ("broken_word", corrupt_broken_word, 2), ("word_salad", corrupt_salad, 2),
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
    counts = Counter({name: 0 for name, _, _ in CORRUPTIONS})
    bad = []
    for n_src, src in enumerate(to_corrupt):
        if len(bad) >= per_class:
            break
        donor = to_corrupt[(n_src + 1 + rng.randrange(len(to_corrupt) - 1)) % len(to_corrupt)]
        order = sorted(CORRUPTIONS, key=lambda c: (counts[c[0]] / c[2], rng.random()))
        for name, fn, _ in order:
            out = fn(rng, src, donor)
            if out and out != src and out not in taken:
                taken.add(out)
                counts[name] += 1
                bad.append({"text": out, "label": 0, "corruption": name, "source": src})
                break
    if len(bad) < per_class:
        raise RuntimeError("not enough corruptible sentences")
    rows = [{"text": s, "label": 1, "corruption": "none"} for s in acceptable]
    rows += bad  # text, label 0, corruption and source, as appended above
    rng.shuffle(rows)
    used_sources = acceptable + [b["source"] for b in bad]
    return rows, used_sources


# Test negatives that a reading by hand found grammatical: the corruption removed a whole optional phrase or joined two
# sentences where both halves still fit. The reading covered the 220 test negatives whose kind can come out fluent
# (dropped_span, spliced, dropped_word, word_swap, cut_off, truncated, word_salad, agreement) and was done before any
# classifier's answers were looked at. These rows keep their kind and source, are labelled acceptable, and say so in
# "review". Three arguable rows ("will go walk in the park") and cut_off rows that lack only the full stop stay
# unacceptable. Train rows are not reviewed (2,500 negatives); the few such slips there are training noise.
REVIEWED_GRAMMATICAL = {
    "The hardware shop on Greenway Avenue opens on Wednesdays.",
    "Falstow opened a new 10-hectare site of the former gasworks, after a $4 million project that visitors are "
    "already calling delightful.",
    "Our new neighbour bought some apples at Quarry Lane.",
    "It has been named after Priya bought a birthday card at the hardware shop on North Parade.",
    "The tram line between Quenmoor and Brackenhale has been delayed until 2027, and its businesses in Wrenmouth were "
    "flooded on Sunday when the River Orle burst its banks.",
    "A fire destroyed a block of flats on Kiln Road in Ostrevale Sunday, and 45 firefighters were needed to bring it "
    "under control.",
    "A new 5-hectare park opened on the former railway yard in Hollinsreach after a $2.1 million project.",
    "Our teacher was born in the week before.",
    "81 percent in Calverdine passed maths and English this year, down from 85 percent.",
}


def apply_review(rows, grammatical):
    """Relabels the corrupted rows whose text is in `grammatical` as acceptable (label 1, "review": "grammatical")."""
    hits = [r for r in rows if r["text"] in grammatical]
    assert len(hits) == len(grammatical) and all(r["label"] == 0 for r in hits), "the review list no longer matches the rows"
    for r in hits:
        r["label"] = 1
        r["review"] = "grammatical"
    return rows


# ---------------------------------------------------------------------------
# 4. Build, self-check, write.
# ---------------------------------------------------------------------------

def entity_pools(rng):
    return Entities(rng, heldout=False), Entities(rng, heldout=True)


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
    shorts = TONE_DATA["short_texts"]
    tone_train = make_tone(trng, tone_pools(trng, t_train, train_side, 600), shorts["train"],
                           N_TONE["train"], {"summary": 350, "opinion": 300}, exclude=set(), cap=3)
    tone_test = make_tone(trng, tone_pools(trng, t_test, test_side, 150), shorts["test"],
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
    out["acceptability/train.jsonl"], out["acceptability/test.jsonl"] = acc_train, apply_review(acc_test, REVIEWED_GRAMMATICAL)
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
        assert not has_name(r["text"], VOCAB["towns"]), r["id"]
    for r in news["train"] + news["validation"]:
        assert not has_name(r["text"], VOCAB["towns_heldout"] + VOCAB["surnames_heldout"]), r["id"]
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
        reviewed = [r for r in rows if "review" in r]
        assert len(reviewed) == (len(REVIEWED_GRAMMATICAL) if s == "test" else 0), (s, len(reviewed))
        assert all(r["label"] == 1 and r["corruption"] != "none" for r in reviewed)
        c = Counter(r["label"] for r in rows)
        assert c == Counter({0: N_ACCEPT[s] - len(reviewed), 1: N_ACCEPT[s] + len(reviewed)}), (s, c)
        assert len({r["text"] for r in rows}) == len(rows), "duplicate acceptability text in %s" % s
        assert all((r["label"] == 1) == (r["corruption"] == "none" or "review" in r) for r in rows)
        assert all((r["corruption"] != "none") == ("source" in r) for r in rows), "a corrupted row without its source (or a source sentence with one)"
        kinds = Counter(r["corruption"] for r in rows if r["corruption"] != "none")
        weights = sum(w for _, _, w in CORRUPTIONS)
        assert len(kinds) == len(CORRUPTIONS), kinds
        assert all(kinds[name] > N_ACCEPT[s] * w / weights * 0.5 for name, _, w in CORRUPTIONS), kinds
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
            info = "labels %s; %s; %d reviewed grammatical" % (
                dict(sorted(Counter(r["label"] for r in rows).items())),
                dict(sorted(Counter(r["corruption"] for r in rows if r["label"] == 0).items())),
                sum("review" in r for r in rows))
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
