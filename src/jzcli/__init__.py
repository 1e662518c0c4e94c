"""jzcli: import, validate and report Dutch youth-care (Jeugdwet) declarations."""

__version__ = "0.1.0"
