"""A shell command cut into the simple commands it runs, for permission rules.

An allow rule names one simple command (``git status``, ``pytest *``); a command line
may chain several (``&&``, ``||``, ``;``, ``|``, ``&``, newlines), hide more inside
``$(...)``, backticks, ``<(...)``, ``sh -c '...'`` or ``eval``, or run one through
``env``, ``xargs``, ``timeout``, ``nice``, ``nohup``, ``time``, ``command`` or ``exec``.
Every simple command found is a ``Part``, judged on its own: ``git status && curl x``
is two parts, and a rule for ``git status`` allows only the first.

Whatever cannot be read with confidence makes the whole line ``unsure`` (so it is
asked, never allowed by a rule): unbalanced quotes, here-documents, subshells and
groups, control keywords (``if``, ``for``, functions), a command name that is a
variable or a glob, ``sudo``, an assignment that changes how commands are found or run
(``PATH=``, ``LD_PRELOAD=``, ``BASH_ENV=``...), and an output redirection to a file
(``> ~/.bashrc``; ``2>&1`` and ``> /dev/null`` are fine). Not a shell: it errs
towards "ask".
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from rung.engine.agent.shelllex import Unsure, end_of_double, matching, placeholder, redirect

MAX_DEPTH = 8  # nested substitutions and `sh -c` levels

KEYWORDS = frozenset({
    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case",
    "esac", "function", "select", "in", "[[", "]]", "!", "coproc", "{", "}", "(", ")",
})  # fmt: skip
ESCALATE = frozenset({"sudo", "doas", "su", "pkexec", "runuser", "chroot", "nsenter"})
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"})
# Variables that change which program runs or what it loads.
RISKY_VARIABLE = re.compile(
    r"^(PATH|IFS|ENV|BASH_ENV|SHELLOPTS|BASHOPTS|PROMPT_COMMAND|CDPATH|GLOBIGNORE|HOME"
    r"|LD_\w+|DYLD_\w+|PYTHON\w*|NODE_OPTIONS|NODE_PATH|PERL5?\w*|RUBY\w*|GIT_\w+"
    r"|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|PAGER|EDITOR|VISUAL|BROWSER)$"
)
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_DYNAMIC = "$(…)"


@dataclass
class Part:
    words: list[str]
    dynamic: bool = False  # arguments come from elsewhere (xargs, a substitution)

    @property
    def text(self) -> str:
        """The words as one line, quoted where needed: what rules are matched against."""
        return shlex.join(self.words)


@dataclass
class Split:
    parts: list[Part] = field(default_factory=list)
    unsure: str | None = None  # why the line cannot be judged part by part

    def fail(self, why: str) -> None:
        if self.unsure is None:
            self.unsure = why


def split_command(command: str) -> Split:
    """The simple commands ``command`` runs, or why that cannot be told."""
    result = Split()
    _split_into(command, result, 0)
    return result


def _split_into(command: str, result: Split, depth: int) -> None:
    if depth > MAX_DEPTH:
        result.fail("commands nested too deeply")
        return
    try:
        for words, dynamic in _simple_commands(command, result, depth):
            _judge_words(words, dynamic, result, depth)
    except Unsure as exc:
        result.fail(str(exc))


def _simple_commands(text: str, result: Split, depth: int) -> list[tuple[list[str], bool]]:
    commands: list[tuple[list[str], bool]] = []
    words: list[str] = []
    word: list[str] = []
    in_word = False
    dynamic = False
    i = 0

    def end_word() -> None:
        nonlocal in_word
        if in_word:
            words.append("".join(word))
            word.clear()
            in_word = False

    def end_command() -> None:
        nonlocal dynamic
        end_word()
        if words:
            commands.append((list(words), dynamic))
        words.clear()
        dynamic = False

    def substitute(inner: str) -> None:
        nonlocal dynamic, in_word
        _split_into(inner, result, depth + 1)
        word.append(_DYNAMIC)
        in_word = True
        dynamic = True

    while i < len(text):
        char = text[i]
        if char in " \t":
            end_word()
            i += 1
        elif char == "\\":
            if text.startswith("\\\n", i):
                i += 2  # a continued line
                continue
            if i + 1 >= len(text):
                raise Unsure("a trailing backslash")
            word.append(text[i + 1])
            in_word = True
            i += 2
        elif char == "'":
            end = text.find("'", i + 1)
            if end == -1:
                raise Unsure("an unclosed quote")
            word.append(text[i + 1 : end])
            in_word = True
            i = end + 1
        elif char == '"':
            end = end_of_double(text, i + 1)
            body = text[i + 1 : end - 1]
            j = 0
            while j < len(body):
                if body[j] == "\\" and j + 1 < len(body) and body[j + 1] in '"\\$`\n':
                    word.append(body[j + 1])
                    j += 2
                elif body.startswith("$((", j):
                    raise Unsure("arithmetic expansion")
                elif body.startswith("$(", j):
                    close = matching(body, j + 2, "(", ")")
                    substitute(body[j + 2 : close - 1])
                    j = close
                elif body[j] == "`":
                    close = body.find("`", j + 1)
                    if close == -1:
                        raise Unsure("an unclosed backtick")
                    substitute(body[j + 1 : close])
                    j = close + 1
                else:
                    if body[j] == "$":
                        dynamic = True
                    word.append(body[j])
                    j += 1
            in_word = True
            i = end
        elif char == "`":
            close = text.find("`", i + 1)
            if close == -1:
                raise Unsure("an unclosed backtick")
            substitute(text[i + 1 : close])
            i = close + 1
        elif text.startswith("$((", i):
            raise Unsure("arithmetic expansion")
        elif text.startswith("$(", i) or text.startswith("<(", i) or text.startswith(">(", i):
            close = matching(text, i + 2, "(", ")")
            substitute(text[i + 2 : close - 1])
            i = close
        elif char == "$":
            dynamic = True
            word.append(char)
            in_word = True
            i += 1
        elif char == "#" and not in_word:
            newline = text.find("\n", i)
            i = len(text) if newline == -1 else newline
        elif char in "\n;&|":
            if text.startswith(";;", i) or text.startswith(";&", i):
                raise Unsure("a case statement")
            if char == "&" and text.startswith("&>", i):
                end_word()
                i = redirect(text, i + 2, output=True)
                continue
            end_command()
            i += 2 if text[i : i + 2] in ("&&", "||", "|&") else 1
        elif char in "<>":
            if in_word and "".join(word).isdigit():
                word.clear()  # a file descriptor number: `2>`
                in_word = False
            end_word()
            if text.startswith("<<", i) and not text.startswith("<<<", i):
                raise Unsure("a here-document")
            if text.startswith("<<<", i):
                i = redirect(text, i + 3, output=False)
            elif char == "<":
                i = redirect(text, i + 1, output=False)
            else:
                step = 2 if text[i : i + 2] in (">>", ">|", ">&") else 1
                i = redirect(text, i + step, output=True, dup=text[i : i + 2] == ">&")
        elif char in "()" or (char in "{}" and not in_word and not placeholder(text, i)):
            # An unquoted parenthesis is a subshell, a function definition (`f()(...)`)
            # or an error: never an argument.
            raise Unsure("a subshell, function or command group")
        else:
            word.append(char)
            in_word = True
            i += 1
    end_command()
    return commands


def _judge_words(words: list[str], dynamic: bool, result: Split, depth: int) -> None:
    while words and ASSIGNMENT.match(words[0]):
        name = words[0].split("=", 1)[0]
        if RISKY_VARIABLE.match(name):
            raise Unsure(f"it sets {name}, which changes what runs")
        words = words[1:]
    if not words:
        return  # only assignments: nothing runs
    name = words[0]
    if name in KEYWORDS or name.startswith("(") or name.endswith(")"):
        raise Unsure(f"shell syntax ({name})")
    if "$" in name or any(c in name for c in "*?[") or _DYNAMIC in name:
        raise Unsure("the command name is computed")
    base = name.rsplit("/", 1)[-1]
    if base in ESCALATE:
        raise Unsure(f"it runs {base}")
    if base in SHELLS:
        _shell(words, result, depth)
        return
    if base == "eval":
        _split_into(" ".join(words[1:]), result, depth + 1)
        return
    if base == "git" and any(
        w in ("-c", "--config-env") or w.startswith(("--exec-path", "--config-env="))
        for w in words[1:]
    ):
        raise Unsure("git with -c or --exec-path (either can name a program to run)")
    if base == "find":
        words = _find_actions(words, result, depth)
    wrapped = _unwrap(words)
    if wrapped is not None:
        inner, more_dynamic = wrapped
        if inner:
            _judge_words(inner, dynamic or more_dynamic, result, depth)
            return
    result.parts.append(Part(words, dynamic))


_FIND_RUNS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})


def _find_actions(words: list[str], result: Split, depth: int) -> list[str]:
    """``find ... -exec CMD {} ;``: CMD judged as its own part; find keeps the rest."""
    kept: list[str] = []
    i = 0
    while i < len(words):
        if words[i] in _FIND_RUNS:
            end = i + 1
            while end < len(words) and words[end] not in (";", "+"):
                end += 1
            inner = [w for w in words[i + 1 : end] if w != "{}"]
            if not inner:
                raise Unsure("find -exec without a command")
            _judge_words(inner, True, result, depth + 1)
            kept.append(words[i])
            i = end + 1
            continue
        kept.append(words[i])
        i += 1
    return kept


def _shell(words: list[str], result: Split, depth: int) -> None:
    """``sh -c 'script'``: the script's commands; any other shell use is one part."""
    flags = [w for w in words[1:] if w.startswith("-")]
    if not any("c" in f for f in flags if not f.startswith("--")):
        result.parts.append(Part(words))  # `bash script.sh`: judged as it is
        return
    position = 1
    while position < len(words) and words[position].startswith("-"):
        flag = words[position]
        if flag.startswith("--") or set(flag[1:]) - set("ceuxo"):
            raise Unsure(f"a shell started with {flag}")
        position += 1
        if "o" in flag:
            position += 1  # -o option's name
    if position >= len(words):
        raise Unsure("a shell -c without a script")
    _split_into(words[position], result, depth + 1)


# Wrapper -> options that take a value. A wrapper runs the command after its options.
_WRAPPERS: dict[str, frozenset[str]] = {
    "env": frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}),
    "xargs": frozenset(
        "-I -i -n -P -d -L -s -E -e -a --max-args --max-procs --delimiter --arg-file".split()  # noqa: SIM905
    ),
    "timeout": frozenset({"-s", "--signal", "-k", "--kill-after"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "nohup": frozenset(),
    "time": frozenset({"-f", "--format", "-o", "--output"}),
    "command": frozenset(),
    "exec": frozenset({"-a"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
}


def _unwrap(words: list[str]) -> tuple[list[str], bool] | None:
    """The command a wrapper runs (and whether it gets extra arguments), or None."""
    base = words[0].rsplit("/", 1)[-1]
    takes_value = _WRAPPERS.get(base)
    if takes_value is None:
        return None
    if base == "env" and any(w in ("-S", "--split-string") for w in words):
        raise Unsure("env -S splits a string into a command")
    if base == "command" and len(words) > 1 and words[1] in ("-v", "-V"):
        return None  # `command -v git` only looks it up
    i = 1
    while i < len(words):
        word = words[i]
        if base == "env" and ASSIGNMENT.match(word):
            name = word.split("=", 1)[0]
            if RISKY_VARIABLE.match(name):
                raise Unsure(f"it sets {name}, which changes what runs")
            i += 1
        elif word == "--":
            i += 1
            break
        elif word.startswith("-") and word != "-":
            i += 2 if word in takes_value else 1
        else:
            break
    rest = words[i:]
    if base == "timeout" and rest:
        rest = rest[1:]  # the duration
    return rest, base == "xargs"
