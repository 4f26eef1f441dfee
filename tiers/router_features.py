"""The router's hand-written signals: what the words of a request say about how hard
it is (task verbs, subjects, symptoms, shape), each with a hand-set weight. The trained
model (tiers/router.py) reads these together with the words; without its weights file
these alone give the score (``score``). Split from tiers/router.py: pure, no I/O.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .base import ChatRequest


def _words(*items: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(items) + r")\b", re.IGNORECASE)


# Tasks that need reasoning, design or real engineering work.
HARD_TASK = _words(
    r"design(?:ing)?",
    r"architect(?:ure)?",
    r"implement(?:ing|ation)?",
    r"prove|proof|show that|derive|derivation",
    r"refactor(?:ing)?|restructure|port (?:this|it|our|the)|rewrite .{0,30} in (?:idiomatic )?\w+",
    r"debug(?:ging)?|diagnos(?:e|is)|troubleshoot",
    r"optimi[sz]e|speed up|make .{0,20}faster|profile|reduce the \w+",
    r"plan|migrat(?:e|ion)|roll ?out|rollback|set up|deploy\w*",
    r"analy[sz]e|analysis|investigate|evaluate|assess|estimate",
    r"review|audit",
    r"compare|trade-?offs?|versus|vs\.?",
    r"build|create|write a (?:complete|full|design|postmortem|parser|compiler|interpreter)",
    r"find the (?:bug|cause|leak|race)|root cause|postmortem",
    r"generali[sz]e|justify|outline|threat model",
    r"benchmarks?|tests? that|property-based|test suite|simulate",
)
# Open-ended asks: how something deep works, how one would approach a problem.
OPEN_ENDED = re.compile(
    r"\b(?:explain|describe)\b.{0,40}\b(?:how|why|difference|when)\b"
    r"|\bwhy (?:does|do|is|are|would|did)\b"
    r"|\bhow (?:does|do)\b.{0,60}\b(?:work|achieve|pick|handle|guarantee|affect)"
    r"|\bhow (?:would|should|could|can) (?:you|i|we)\b(?! (?:say|spell|write) )"
    r"|\bwhat(?:'s| is) wrong\b|\bwhere (?:do|should) (?:i|we) start\b"
    r"|\bwhat should (?:i|we)\b|\bwalk me through\b|\bhow do i fix\b"
    r"|\bwhat are the (?:trade-?offs|pros and cons|options|risks)\b|\bwhen (?:should|would)\b",
    re.IGNORECASE,
)
# Someone describing a problem they have: symptoms want diagnosis.
SYMPTOM = _words(
    r"doesn'?t work|does not work|not working|fails?|failing|failed|broken|crash\w*",
    r"hangs?|freezes?|stuck|lags?|slow(?:er|s)?|spikes?|doubled|grows?|growing",
    r"leaks?|leaking|loops? forever|deadlocks?|times? out|timeouts?",
    r"unexpected(?:ly)?|intermittent(?:ly)?|flaky|wrong results?|regress\w*",
    r"errors?|exceptions?|re-?renders?|lost updates?|starv\w+",
)
# Tasks a small model does well: transform or look up, with the answer bounded.
QUICK_TASK = _words(
    r"translate",
    r"convert",
    r"classify|categori[sz]e|label(?: each)?",
    r"sort|alphabeti[sz]e|count the|remove the duplicates|dedupe",
    r"summari[sz]e|tl;?dr",
    r"extract",
    r"rephrase|paraphrase|shorten|make (?:this|it) (?:shorter|friendlier|clearer|formal)",
    r"(?:fix|correct|check) (?:the )?(?:grammar|spelling|typos?|punctuation)",
    r"format|capitali[sz]e|spell|title case|bullet(?:ed)? list|rename",
    r"antonym|synonym|acronym|abbreviation|plural|haiku|poem|joke",
    r"define|definition|meaning of",
    r"add a (?:docstring|comment)",
)
# Asking for a name, a command, a flag: one short fact, whatever the topic.
LOOKUP = re.compile(
    r"^\s*(?:what(?:'s| is)|which) (?:is )?(?:the )?(?:command|flag|option|shortcut|key|syntax|"
    r"name|default|port|keyword|function|method|file|extension|status code|exit code)\b",
    re.IGNORECASE,
)
# Questions with a short, known answer.
QUICK_QUESTION = re.compile(
    r"^\s*(?:what(?:'s| is| are| does| do)|which|who|when|where|is|are|does|do|can|"
    r"how (?:do i|to|many|much|old|long)|name|give me an?)\b",
    re.IGNORECASE,
)
BOUNDED_ANSWER = re.compile(
    r"\b(?:(?:give me|reply with|answer with|output|return|print) only"
    r"|only the (?:list|result|answer)|nothing else|change nothing else"
    r"|one (?:sentence|word|line)|one-liner|yes or no"
    r"|briefly|in short|in \w+ words)\b",
    re.IGNORECASE,
)
# Subjects where a small model is out of its depth.
HARD_SUBJECT = _words(
    r"distributed|concurren\w*|thread-?safe|threading|parallel\w*|lock-?free|race conditions?",
    r"deadlocks?|goroutines?|mutex\w*|async\w*|event loop|memory ordering|atomics?|lock(?:s|ing)",
    r"kernel|scheduler|cgroups?|syscalls?|memory model|garbage collect\w*|gc|heap|branch predictor",
    r"replica\w*|replication|consensus|raft|paxos|shard\w*|partition\w*|multi-tenant",
    r"latency|p9\d|throughput|scal(?:e|ing|able)|under load|production|regions?|concurrent",
    r"security|vulnerab\w*|injection|exploit|encrypt\w*|cryptograph\w*|forward secrecy|tls",
    r"complexity|amortized|np-?hard|undecidab\w*|theorem|irrational|invariant|vertices|graph",
    r"algorithm|heuristic|b-?tree|lru|trie|dynamic programming|precedence|parser|borrow checker",
    r"kubernetes|k8s|terraform|microservices?|monorepo|api gateway|strangler|pipeline",
    r"index(?:es|ing)?|wal|transactions?|isolation level|caching",
    r"memory usage|bottleneck|drift|skew|closures?|retained",
    r"backprop\w*|gradient|neural|training",
    r"type-?safe|type system|generics|compile[- ]time|type-level|lifetimes?",
)
# Named technologies: each one mentioned is a little more context to reason about.
TECH = _words(
    r"python|rust|golang|go program|java|c\+\+|c#|node\.?js|react|typescript|javascript|kotlin",
    r"swift|scala|elixir|haskell|perl|ruby|php|sql|postgres\w*|mysql|sqlite|redis|kafka",
    r"docker|aws|gcp|azure|airflow|flink|spark|pandas|numpy|pytorch|grpc|websockets?|graphql",
    r"nginx|linux|gunicorn|django|flask|fastapi|sqlalchemy|express|spring|jvm|cpu|gpu|ci",
)
SCALE = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:[kmgt]b|million|billion|thousand|[kmb]\b)|\b\d{2,}[kmb]\b|"
    r"\b\d{1,3}(?:,\d{3})+(?:-line)?\b|\b(?:millions|billions)\b|\b(?:per second|qps|rps)\b|"
    r"\b\d+%",
    re.IGNORECASE,
)
STACK_TRACE = re.compile(
    r"Traceback \(most recent call last\)|^\s+at [\w.$]+\(.*:\d+\)|panic: |"
    r"Exception in thread|^\s*File \".*\", line \d+|error\[E\d+\]|segmentation fault",
    re.IGNORECASE | re.MULTILINE,
)
CODE_BLOCK = re.compile(r"```|^(?: {4}|\t)\S", re.MULTILINE)
MULTI_STEP = _words(
    r"then", r"and then", r"after that", r"step[- ]by[- ]step", r"first", r"finally"
)
ATTACHMENT = re.compile(r"(?:^|\s)@[\w./-]+\.\w+|<file [^>]+>")


@dataclass(frozen=True)
class Features:
    """What the router saw, with each signal's weight (positive: harder)."""

    signals: dict[str, float] = field(default_factory=dict)
    # The stable kind of each signal ("hard_task", "subject"...) -> its name in ``signals``:
    # the trained model weighs kinds, while reasons show the names with the words matched.
    kinds: dict[str, str] = field(default_factory=dict)

    @property
    def raw(self) -> float:
        return sum(self.signals.values())

    def weight(self, kind: str) -> float:
        return self.signals[self.kinds[kind]] if kind in self.kinds else 0.0


# The most of one message the signals read: its start (where the ask usually is) and its
# end (where a pasted log ends in its error, or a question follows the material). Regex
# over a 1 MiB paste took seconds per decision; these bounds keep it to milliseconds,
# and no prompt shorter than their sum is read any differently.
HEAD_CHARS = 16 * 1024
TAIL_CHARS = 4 * 1024


def bounded(text: str) -> str:
    """``text``, or its first HEAD_CHARS and last TAIL_CHARS joined by a blank line."""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n\n" + text[-TAIL_CHARS:]


def word_count(text: str) -> int:
    """Words in ``text``: counted when short, estimated from the bounded part's density
    when long (the length still counts, without splitting a megabyte)."""
    read = bounded(text)
    counted = len(read.split())
    return counted if read is text else round(counted * len(text) / len(read))


def last_message(request: ChatRequest) -> str:
    """The last message as the router reads it: bounded (see HEAD_CHARS)."""
    return bounded(request.messages[-1].content) if request.messages else ""


def _instruction(text: str) -> str:
    """The ask itself, without the material it applies to: after a colon, a fence or a
    blank line come the user's data, whose words are not the task."""
    cut = len(text)
    for marker in (": ", ":\n", "```", "\n\n"):
        i = text.find(marker)
        if marker == ": " and len(text[:i].split()) < 2:
            continue  # "Note: ..." starts the ask, it does not end it
        if 0 <= i < cut:
            cut = i
    return text[: max(cut, 1)]


def features(request: ChatRequest) -> Features:
    last = last_message(request)
    ask = _instruction(last)
    words = word_count(request.messages[-1].content) if request.messages else 0
    s: dict[str, float] = {}
    kinds: dict[str, str] = {}

    def add(kind: str, name: str, weight: float) -> None:
        s[name] = weight
        kinds[kind] = name

    hard_tasks = sorted({m.lower() for m in HARD_TASK.findall(ask)})
    if hard_tasks:
        add("hard_task", "task: " + "/".join(hard_tasks[:2]),
            1.6 + 0.3 * min(len(hard_tasks) - 1, 2))  # fmt: skip
    open_ended = OPEN_ENDED.search(last)
    if open_ended:
        add("open_question", "open question: " + open_ended.group(0).lower()[:30], 1.3)
    symptoms = sorted({m.lower() for m in SYMPTOM.findall(last)})
    if symptoms:
        add("problem", "problem: " + "/".join(symptoms[:2]), 0.8 + 0.3 * min(len(symptoms) - 1, 2))
    subjects = sorted({m.lower() for m in HARD_SUBJECT.findall(last)})
    if subjects:
        add("subject", "subject: " + "/".join(subjects[:2]), min(2.0, 0.8 * len(subjects)))
    tech = {m.lower() for m in TECH.findall(last)}
    if tech:
        add("tech", "tech: " + "/".join(sorted(tech)[:2]), min(1.2, 0.4 * len(tech)))
    if SCALE.search(last):
        add("scale", "works at scale", 0.6)
    if STACK_TRACE.search(last):
        add("stack_trace", "stack trace", 1.4)
    has_code = bool(CODE_BLOCK.search(last))
    # A transform verb counts only as the instruction itself ("Sort these…"), not in
    # passing ("…any comparison sort needs…").
    quick_task = QUICK_TASK.search(" ".join(ask.split()[:4]))
    if has_code and not quick_task:
        add("code", "code to work on", 0.8)
    requirements = ask.count(",") + len(re.findall(r"\band\b|\bwith\b", ask, re.IGNORECASE))
    if requirements >= 3 and not quick_task:
        add("requirements", "several requirements", 0.25 * min(requirements, 6))
    if MULTI_STEP.search(ask):
        add("multi_step", "multi-step", 0.5)
    if ATTACHMENT.search(last):
        add("attachment", "attached files", 0.8)
    turns = sum(1 for m in request.messages if m.role == "user")
    if turns >= 4:
        add("long_conversation", "long conversation", 0.15 * min(turns, 10))

    if quick_task:
        add("quick_task", "task: " + quick_task.group(0).lower(), -2.0)
    if LOOKUP.search(ask):
        add("lookup", "looks up a command or name", -2.0)
    elif QUICK_QUESTION.search(ask) and not (hard_tasks or open_ended or symptoms):
        add("quick_question", "short factual question" if words <= 20 else "factual question",
            -1.2)  # fmt: skip
    if BOUNDED_ANSWER.search(last):
        add("bounded", "bounded answer", -0.8)
    if words <= 6 and not (hard_tasks or subjects or symptoms):
        add("very_short", "very short", -0.8)
    return Features(s, kinds)


# Logistic squashing: raw 0 -> 0.27, so an ask with no signal at all leans local.
BIAS = -1.0


def score(f: Features) -> float:
    """The hand-weighted score: the fallback when the trained model cannot be read."""
    return 1.0 / (1.0 + math.exp(-(f.raw + BIAS)))
