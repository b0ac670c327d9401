"""ClauseWatch: flag Terms-of-Service and privacy-policy clauses that harvest user data or use it to train AI."""

__version__ = "0.1.0"
