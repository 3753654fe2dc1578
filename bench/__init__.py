"""bt2c's benchmarks against bpftrace: ``python3 -m bench`` runs the suite (see suite.py).

bench/run.py (the original start-up/memory/cost benchmark) and bench/len.py
(len() of a map) remain runnable as scripts.
"""
