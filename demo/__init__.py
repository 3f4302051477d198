"""`make demo`: the whole pipeline on an embedded default, in one command."""
