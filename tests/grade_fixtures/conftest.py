"""The grader's fixture submissions: graded by the grader in its sandbox, never collected or
imported by the project's own test run (some of them are hostile on purpose)."""

collect_ignore_glob = ["*"]
