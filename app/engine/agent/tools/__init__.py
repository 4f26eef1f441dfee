"""The agent's built-in tools, one module each: NAME, DESCRIPTION (what the model reads),
PARAMETERS (JSON Schema), NEEDS (read, edit or run) and ``plan(arguments, context)``."""
