"""A catalogue of bad inputs: every way a user can get an input wrong, and what sipas says.

Each test module holds the ``CASES`` of one area (reading, spec, design, weighting, indices,
PAR, pipeline). A case is one row: an id, what is wrong, a builder that makes the bad input in
a temporary folder and hands it to sipas, the :class:`sipas.SipasError` subclass expected and
the words its message must contain (the file, column, row, code or key it names and the fix it
suggests). ``docs/gen_bad_inputs.py`` writes ``docs/bad_inputs.md`` from the same rows.
"""
