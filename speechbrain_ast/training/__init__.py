"""Recipe support: the building blocks the recipes' ``train.py`` call.

Authors
 * speechbrain-ast contributors 2026
"""
