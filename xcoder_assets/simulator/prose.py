"""Generated settings and sentence blocks for composed statements, so that no two problems read alike.

A theme is (place, people, items): the place carries a proper name built from syllables, so every
configuration gets its own setting (about 10^5 names times 40 places, 40 groups and 60 kinds of
items). The story of an archetype (compose.py) is framed by an opening, an optional middle and a
closing sentence, each picked from alternatives and naming a generated person and the place, so
the word shingles the near-duplicate checks compare (3-grams in the problems stage, 5-grams over
the whole question in the shards' dedup) differ between problems even where the rule is the same.
Every choice is a hash of the text it is drawn for: the same request gets the same prose.
"""

from __future__ import annotations

import re

from xcoder_assets.recipe.composition import ALGORITHM_TERMS
from xcoder_assets.simulator.common import unit

Theme = tuple[str, str, str]  # (place, people, items)

_HEADS = (
    "val mor kel dar sen tor lin bra cor fen gal hal ist jor kas lum mer nor ost per quin ros sal tam "
    "ul ver wen yar zor ash bel cam dun eld fal gor"
).split()
_VOWELS = "a e i o u ia ea ou ai".split()
_TAILS = "n ra th lle dor mir vik stad ford holm via ton wick mar dell gard sen rin".split()

PLACES = (
    "harbor|observatory|library|caravan route|robotics lab|marathon|orbital station|coral reef|chess club|"
    "bakery|music festival|seed vault|train depot|weather network|copper mine|vineyard|monastery|market|"
    "airfield|lighthouse|greenhouse|museum|shipyard|theater|post office|zoo|archive|foundry|ski resort|"
    "canal district|fortress|university|hospital|printing house|stadium|bridge works|tea plantation|"
    "salt flats|fishing village|data center"
).split("|")
PEOPLE = (
    "dock workers|astronomers|archivists|traders|engineers|volunteers|technicians|divers|organizers|bakers|"
    "stage crews|botanists|dispatchers|meteorologists|miners|winemakers|monks|merchants|pilots|keepers|"
    "gardeners|curators|shipwrights|actors|clerks|zookeepers|librarians|smiths|instructors|boatmen|guards|"
    "students|nurses|printers|groundskeepers|builders|pickers|surveyors|fishers|operators"
).split("|")
ITEMS = (
    "crates readings scrolls camels sensors runners modules samples boards trays speakers seeds wagons "
    "stations barrels lanterns parcels tickets bottles candles banners rafts kegs drums bells coins maps "
    "ropes sails anchors kites tiles jars baskets lamps shields helmets badges keys locks mirrors clocks "
    "stamps letters posters carts sleds pumps valves cables panels batteries pallets sacks bales logs "
    "bricks vases masks flags"
).split()

OPENINGS = (
    "{person} runs {place}, where the {people} spend most of their days with {items}.",
    "Life in {place} revolves around {items}, and {person} keeps the records of the {people}.",
    "Every spring the {people} of {short} take stock of their {items}; this year {person} is in charge.",
    "{person}, newly appointed to {place}, wants to understand how the {people} work with their {items}.",
    "Nobody in {short} knows the {items} better than {person}, the oldest of the {people}.",
    "The {people} of {place} have asked {person} to settle a question about their {items}.",
    "Visitors to {short} rarely notice the {items}, but for {person} and the {people} they are everything.",
    "When {person} arrived in {place}, the {people} were already arguing about their {items}.",
)
MIDDLES = (
    "",
    "",
    "The {people} of {short} keep careful notes about every one of their {items}.",
    "{person} has copied the figures from the ledgers of {short} without a single mistake.",
    "Rumor in {short} says that {person} has never once been wrong about {items}.",
    "The old charter of {short} says this figure must be known before any {items} change hands.",
)
CLOSINGS = (
    "{person} needs the exact figure before the next meeting in {short}.",
    "Help {person} answer quickly: the {people} of {short} are waiting.",
    "Write a program that gives {person} the answer.",
    "The answer must be exact, since {person} will report it to the council of {short}.",
    "{person} will check your answer against the ledgers of {short}.",
    "Compute it for {person}, who has promised the {people} an answer by nightfall.",
)
SEVERAL = (
    "The {people} ask {person} several such questions, each about its own set of {items}; answer every one.",
    "{person} brings a list of independent cases from {short}, and each needs its own answer.",
    "In {short} the question comes up again and again, so {person} collects several cases at once.",
)

_LEAK_WORDS = frozenset(w for term in ALGORITHM_TERMS for w in term.split())


def _pick(options, text: str, salt: str):
    return options[int(unit(text, salt) * len(options))]


def proper_name(text: str, salt: str) -> str:
    """A pronounceable name fixed by the text (never a word an algorithm is named by)."""
    for attempt in range(8):
        s = f"{salt}{attempt}"
        middle = _pick(_HEADS, text, s + "m") if unit(text, s + "long") < 0.6 else ""
        name = _pick(_HEADS, text, s + "h") + _pick(_VOWELS, text, s + "v") + middle + _pick(_TAILS, text, s + "t")
        if name not in _LEAK_WORDS:
            return name.capitalize()
    return "Velmora"


def make_theme(text: str) -> Theme:
    """The setting of the problem whose request is `text`: a named place, its people and their items."""
    place = f"the {_pick(PLACES, text, 'place')} of {proper_name(text, 'place')}"
    return place, _pick(PEOPLE, text, "people"), _pick(ITEMS, text, "items")


_SCENARIO = re.compile(r"^In (the .+? of [A-Z][a-z]+), the (.+?) organise their (\w+) and")


def scenario_sentence(theme: Theme) -> str:
    return f"In {theme[0]}, the {theme[1]} organise their {theme[2]} and need an exact figure about them."


def theme_of_scenario(scenario: str) -> Theme:
    """The theme step 1 wrote into the scenario (a foreign scenario gets one generated from its text)."""
    match = _SCENARIO.match(scenario.strip())
    if match:
        return match.group(1), match.group(2), match.group(3)
    return make_theme(scenario)


def _short(place: str) -> str:
    """'the harbor of Valen' -> 'Valen' (the name alone reads better the second time)."""
    return place.split(" of ")[-1] if " of " in place else place


def frame(story: str, theme: Theme, text: str, several: bool) -> str:
    """The story with an opening, maybe a middle and a closing sentence, and, for an input of several
    test cases, a sentence saying so; every block picked by the hash of `text`."""
    values = {
        "place": theme[0],
        "short": _short(theme[0]),
        "people": theme[1],
        "items": theme[2],
        "person": proper_name(text, "person"),
    }
    parts = [_pick(OPENINGS, text, "open"), story, _pick(MIDDLES, text, "middle")]
    if several:
        parts.append(_pick(SEVERAL, text, "several"))
    parts.append(_pick(CLOSINGS, text, "close"))
    return " ".join(p.format(**values) if p is not story else p for p in parts if p)
