"""The test kit: synthetic elections, chain writers, helper servers and the demo, for tests,
the bench and demo scripts. Not shipped in the wheel."""
