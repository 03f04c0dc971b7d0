"""Kernels: pure functions over preallocated arrays, one module per op family and backend.

``cpu/`` and ``cuda/`` mirror each other file by file and name by name; ``numconv.dispatch``
picks the backend from where the arrays live. Every kernel takes ``out`` first, then inputs,
then integer parameters, and works on the canonical 5-d layout ``(N, C, D, H, W)``.
"""
