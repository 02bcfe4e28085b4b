"""Coverage-guided fuzzing of every parser that takes outside bytes (see fuzz/REPORT.md).

Each target in ``fuzz.targets`` is a plain function of one ``bytes`` input that raises
``ContractBroken`` (or lets an unexpected exception escape) when the code under test breaks
its contract. ``python -m fuzz.run`` drives them with atheris; the test suite replays the
corpus kept in ``fuzz/corpus/<target>/`` and runs a short campaign of each.
"""
