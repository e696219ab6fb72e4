"""Every module here that defines ``LAB`` is a registered lab (see ``practicum.lab``)."""
