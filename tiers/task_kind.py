"""What kind of task a message is: chit-chat, rewording, a fact, a shell/git command,
code to write, code to reason about, design, or arithmetic. The competence profiles
(tiers/competence.py) give each model's chance of a right answer per kind, so the
router can ask "can *this* model do *this* kind of thing?", not only "is it hard?".

Keyword rules over the instruction, in a fixed order (the first rule that fires wins),
like the router's hand signals: offline, no model, a few microseconds. Measured on the
labelled calibration set and the held-aside set by bench/competence_eval.py.
"""

from __future__ import annotations

import re

KINDS = (
    "greeting",  # hello, thanks, bye, how are you: any polite, on-topic answer is right
    "echo",  # "say X", "reply with the word yes": one exact answer asked for
    "rewrite",  # translate, fix spelling, reformat, synonyms, sort given words
    "fact",  # general knowledge, acronyms, default ports, status codes
    "command",  # shell, git, vim, docker, pip commands and flags
    "code_write",  # write a small function, query or snippet
    "code_reason",  # what does this code print / evaluate to
    "design",  # architecture, patterns, trade-offs, systems
    "math",  # arithmetic and small number puzzles
    "other",  # none of the above: open writing, advice, long asks
)

_I = re.IGNORECASE
_CODE_REASON = re.compile(
    r"\bwhat (?:does|will|would|is)\b.{0,80}\b(?:print|output|return|evaluate|result)"
    r"|\bwhat is the (?:output|value|result|index)\b|\btypeof\b|\bprinted by\b"
    r"|\bis an? (?:python|js|javascript|java|rust|go) \w+ (?:mutable|immutable|hashable)"
    r"|\bevaluates? to\b|`[^`]*\(.*\)[^`]*`|\bprint\(|console\.log\(",
    _I,
)
_CODE_WRITE = re.compile(
    r"^\s*(?:please )?(?:write|create|implement|give me|show me|code)\b.{0,60}"
    r"\b(?:function|method|class|query|statement|script|one-liner|loop|snippet|code|"
    r"program|regex|line|comprehension|dictionary|list|arrow function|if statement|sql)\b",
    _I,
)
_COMMAND = re.compile(
    r"\b(?:git|vim?|emacs|bash|shell|terminal|linux|unix|docker|kubectl|pip|npm|apt|"
    r"brew|chmod|ssh|tmux|grep|sed|awk|command|cli|flag|ls|cd|mkdir)\b",
    _I,
)
_COMMAND_ASK = re.compile(
    r"\b(?:how (?:do|can) i|what (?:\w+ )?command|which (?:\w+ )?command|command (?:to|that)|"
    r"what is the (?:\w+ )?command|what (?:git|shell|docker|vim) )",
    _I,
)
_DESIGN = re.compile(
    r"\b(?:design|architect\w*|pattern|scal\w+|microservices?|load balanc\w*|cache|caching|"
    r"cdn|shard\w*|replica\w*|consisten\w*|idempoten\w*|cap theorem|acid|rest(?:ful)?|"
    r"queue|proxy|circuit breaker|stateless|database|index|tcp|udp|protocol|trade-?offs?|"
    r"rate limit\w*|sql injection|passwords?|data structure|o\(1\)|latency|throughput)\b",
    _I,
)
_MATH = re.compile(
    r"\d+(?:\.\d+)?\s*(?:[-+*/x×^%]|times|plus|minus|divided by|squared|cubed|factorial|"
    r"to the power)|\b(?:square root|prime|factorial|percent|sum of|half of|how many "
    r"(?:minutes|seconds|hours|days))\b|\d+%\s*of",
    _I,
)
_REWRITE = re.compile(
    r"^\s*(?:please )?(?:translate|convert|rephrase|paraphrase|reword|rewrite|shorten|"
    r"summari[sz]e|fix|correct|make (?:this|it)|reverse|sort|alphabeti[sz]e|remove|put this|"
    r"capitali[sz]e|expand|give (?:a|an|the) (?:synonym|antonym|opposite|plural)|"
    r"what is the (?:past tense|plural|opposite|synonym|antonym))\b",
    _I,
)
# Social pleasantries, where any polite answer on topic is right. Kept apart from
# exact-echo instructions (below): a small model greets well but often ignores "say
# exactly X", and one measured rate for both would hold greetings back too.
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|good (?:morning|evening|night|afternoon|day)|morning|thanks|"
    r"thank you|cheers|goodbye|bye|see you|nice to meet|pleased to meet|how are you|"
    r"how'?s it going|what'?s up|wish me|i'?m back|can you (?:greet|help)|"
    r"are you there)\b",
    _I,
)
_ECHO = re.compile(
    r"^\s*(?:say|just say|respond with|reply with|answer with|please (?:say|confirm|reply)|"
    r"tell me you|can you say|are you .{0,60}\b(?:yes or no)|type)\b",
    _I,
)
_FACT = re.compile(r"^\s*(?:what|who|which|when|where|how many|how much|name)\b", _I)


def task_kind(text: str) -> str:
    """The kind of the ask in ``text`` (one of KINDS)."""
    ask = text.strip()
    if not ask:
        return "greeting"
    head = ask[:400]
    if _CODE_REASON.search(head):
        return "code_reason"
    if _CODE_WRITE.search(head):
        return "code_write"
    if _REWRITE.search(head):
        return "rewrite"
    if _COMMAND.search(head) and (_COMMAND_ASK.search(head) or len(head.split()) <= 20):
        return "command"
    if _MATH.search(head):
        return "math"
    if _DESIGN.search(head):
        return "design"
    if _ECHO.search(head):
        return "echo"
    if _GREETING.search(head):
        return "greeting"
    if _FACT.search(head) and len(head.split()) <= 25:
        return "fact"
    return "other"


# Names a user may give a floor to in `[ladder] floors` besides the kinds themselves:
# "code" is both code kinds.
FLOOR_GROUPS = {"code": ("code_write", "code_reason")}


def expand_floors(floors: dict[str, str]) -> dict[str, str]:
    """``{"code": "deepseek"}`` -> a floor for each code kind (a kind named itself wins)."""
    out: dict[str, str] = {}
    for name, rung in floors.items():
        for kind in FLOOR_GROUPS.get(name, (name,)):
            out.setdefault(kind, rung)
    out.update({k: v for k, v in floors.items() if k not in FLOOR_GROUPS})
    return out
