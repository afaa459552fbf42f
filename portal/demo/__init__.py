"""The demo clinic (SPEC 9): ``flask seed-demo``'s named clinic (``clinic``, with its
intakes, documents and treatment courses in ``intake``, ``samples``, ``treatment`` and
``milestones``, each record dated in clinical order as it is made) and the generator of
patients at scale (``bulk``). Never imported by the running portal, only by the command and
the tests; the command refuses to run in production."""
