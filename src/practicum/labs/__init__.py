"""The labs, one file each, in one folder per topic.

Every module below this package that defines ``LAB`` is a registered lab (see
``practicum.lab``): adding a lab is adding a file to a topic folder, and adding a topic is
adding a folder with an ``__init__.py`` whose docstring's first line is the topic's title.
``TOPICS`` is the order in which ``practicum list``, ``practicum run --all`` and the README
show the topics (course order: foundations first); a folder not named here comes last.
"""

TOPICS = ("basics", "autodiff", "vision", "sequence", "training", "generative", "rl", "papers")
