"""The autograder: students' modules checked for the properties the assignments imply.

Layout (see docs/grading.md):

- ``tasks``: the gradable tasks (``linear``, ``mlp``, ...): each names its reference class in
  :mod:`practicum.nn`, its interface, and the property checks that apply.
- ``checks``: the property checks themselves, run against any class that follows the interface.
- ``mutants``: planted-bug variants of every reference class (test fixtures and the mutants the
  students' tests are scored against).
- ``sandbox``: runs untrusted code in a limited subprocess; ``child`` is what runs inside it.
- ``mutation``, ``assignment``: scoring the students' tests; grading a class with a rubric.
- ``cli``: ``practicum grade``.
"""
