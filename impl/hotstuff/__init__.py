"""Chained HotStuff (Yin, Malkhi, Reiter, Gueta and Abraham, PODC 2019, section 5 and the
event-driven Algorithm 4 of section 6): a sans-IO replica with Ed25519-signed proposals and votes,
QCs of 2f+1 signatures checked on receipt, the safe-node rule, the lock and the three-chain commit,
a round-robin pacemaker with exponential back-off, execution on impl/rsm and a client that accepts
f+1 matching replies. specs/HotStuff.tla is its spec and specs/HotStuff.md its vocabulary.
"""
