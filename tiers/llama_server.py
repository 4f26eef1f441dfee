"""llama-cpp-python's OpenAI-compatible server, safe on AMX CPUs.

``python -m llama_cpp.server`` segfaults on the first multi-token prompt on CPUs with
AMX when llama.cpp was built natively (see ``llama_safety``). This launcher takes the
same arguments and loads models without weight repacking where that crash would
happen. Rung's tests use it as their self-hosted endpoint.
"""

from __future__ import annotations

from .llama_safety import decide_safe, disable_repacking_for_process


def main() -> None:
    if decide_safe("auto"):
        disable_repacking_for_process()
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
