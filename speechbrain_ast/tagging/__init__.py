"""Tagging and deployment: ``AudioTagger`` (clips, windows, events), live
streams, ONNX export and the onnxruntime backend.

Authors
 * speechbrain-ast contributors 2026
"""
