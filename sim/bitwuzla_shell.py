"""An interactive SMT-LIB2 shell on the PyPI ``bitwuzla`` module, for ``yosys-smtbmc``.

The wheel has Bitwuzla's Python API but no executable; smtbmc talks to ``bitwuzla --lang
smt2`` over a pipe, one command at a time. This shell reads commands from standard input,
each once its parentheses balance, and hands them to one ``bitwuzla.Parser``, which prints
the answers (``sat``, models) itself. :func:`sim.formal.run_check` puts it on the PATH as
``bitwuzla``.
"""

import sys

__all__ = ["main"]


def commands(stream):
    """Complete top-level S-expressions from ``stream`` (comments, strings and ``|quoted|``
    symbols understood)."""
    text, depth, quote = [], 0, None
    for line in stream:
        for char in line:
            if quote:
                text.append(char)
                if char == quote:
                    quote = None
                continue
            if char == ";":
                break  # a comment: the rest of the line
            text.append(char)
            if char in "|\"":
                quote = char
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    yield "".join(text).strip()
                    text = []


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--help" in argv:
        print("bitwuzla (PyPI module) shell for yosys-smtbmc: --lang smt2, commands on stdin")
        return 0
    import bitwuzla
    parser = bitwuzla.Parser(bitwuzla.TermManager(), bitwuzla.Options())
    for command in commands(sys.stdin):
        if command.startswith("(exit"):
            break
        parser.parse(command, False, False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
