"""Helpers shared by the template's tests (tests/) and its benchmark (bench/).

Standard library only: they run under the template's tools' Python, and what they start
runs under any other.
"""
